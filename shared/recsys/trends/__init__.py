"""Live trends between trainings: item activity that moves forward, and the overlay built from it."""
