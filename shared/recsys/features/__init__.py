"""Features: tables fitted offline (`recsys.features.tables`) and gathered per request (`assemble`)."""
