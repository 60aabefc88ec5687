"""dllab.gp."""
