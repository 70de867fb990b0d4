"""The end-to-end tests' fixtures: a companion on loopback and POS terminals on it (see terminals.py)."""

from tests.e2e.terminals import online_tills, start_terminal, store  # noqa: F401 - fixtures

