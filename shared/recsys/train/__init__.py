"""The offline pipeline: steps that read and write files in a run directory."""
