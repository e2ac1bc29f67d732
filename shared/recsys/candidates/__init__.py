"""Stage 1: candidate sources (serving side, numpy only) and their merge."""
