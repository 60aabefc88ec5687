"""dllab.rl."""
