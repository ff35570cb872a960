"""Training data: synthetic humans rendered from the body model, and real frames."""
