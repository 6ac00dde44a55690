"""prnet."""
