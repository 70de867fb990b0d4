"""The end-to-end tests' fixtures: a companion on loopback and POS terminals on it (see terminals.py).

Every test in this folder drives several real programs together, so each is marked ``e2e`` here.
"""

from pathlib import Path

import pytest

from tests.e2e.terminals import online_tills, start_terminal, store  # noqa: F401 - fixtures

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.e2e)
