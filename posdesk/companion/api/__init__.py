"""The POS API (/api/v1)."""
