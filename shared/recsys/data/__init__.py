"""Reading and validating the input tables (training side: pandas + pandera)."""
