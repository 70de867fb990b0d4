"""Fixtures for the unit tests: ``db``, a fresh local cache (SQLite, migrated) in the test's folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from posdesk.store import Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "cache.db")
    yield database
    database.close()
