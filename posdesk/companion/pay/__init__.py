"""pay routes (being written)."""
