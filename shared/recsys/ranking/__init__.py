"""Stage 2: scoring candidate pairs (a LightGBM ranker, or rank fusion for the baselines)."""
