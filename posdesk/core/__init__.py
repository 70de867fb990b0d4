"""The domain of posdesk: money, catalog, clients, tickets, pricing, tips, invoices and events.

Pure Python: imports no Qt, FastAPI or SQLAlchemy (``tests/unit/test_architecture.py`` checks it).
Both the POS and the companion use it, so both compute the same figures.
"""
