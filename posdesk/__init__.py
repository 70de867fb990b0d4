"""posdesk: desktop point of sale with pay-by-link invoices."""

__version__ = "0.1.0"
