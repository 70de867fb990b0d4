"""webhooks routes (being written)."""
