"""A new cache file is given the newest schema from a snapshot, with stdlib ``sqlite3`` and no Alembic.

The first launch after install opens a new file: running the migrations there means importing Alembic
and SQLAlchemy before the first frame (1.5-2 s of a 2-3 s first launch on this project's machine).
``migrations/head_schema.json`` holds the statements the migrations leave in ``sqlite_master``, in
order, and the revision they reach; a new file gets them in one transaction and is stamped with that
revision, which is what running every migration on it gives. A file with any table in it is left to
Alembic as before. When the snapshot names another revision than :data:`HEAD_REVISION` (a migration
was added and the snapshot not made again) it is not used: Alembic migrates the file as before, and
``tests/unit/test_store_fresh_schema.py`` fails until ``python -m posdesk.store.fresh_schema`` is run.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
from pathlib import Path

from posdesk.store.migrations.head import HEAD_REVISION

SNAPSHOT = Path(__file__).resolve().parent / "migrations" / "head_schema.json"


def schema_of(connection: sqlite3.Connection) -> list[str]:
    """The statements that made this file's tables and indexes, in the order they were made (SQLite's
    own indexes for keys and unique constraints come with their tables)."""
    rows = connection.execute(
        "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
    ).fetchall()
    return [str(row[0]) for row in rows]


def read_snapshot(snapshot: Path = SNAPSHOT) -> tuple[str, list[str]] | None:
    try:
        data = json.loads(snapshot.read_text(encoding="utf-8"))
        return str(data["revision"]), [str(statement) for statement in data["statements"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def create_if_new(path: Path, timeout: float, snapshot: Path = SNAPSHOT) -> bool:
    """Give a file with no tables the newest schema; False (nothing done) when it has any table or the
    snapshot is missing or behind :data:`HEAD_REVISION`."""
    known = read_snapshot(snapshot)
    if known is None or known[0] != HEAD_REVISION:
        return False
    revision, statements = known
    connection = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("BEGIN IMMEDIATE")  # another process opening the same new file waits here
        if connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            connection.execute("ROLLBACK")
            return False
        for statement in statements:
            connection.execute(statement)
        connection.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (revision,))
        connection.execute("COMMIT")
        return True
    finally:
        connection.close()


def write_snapshot(snapshot: Path = SNAPSHOT) -> None:
    """Run every migration on a scratch file and keep what they made (after adding a migration)."""
    from posdesk.store.database import Database

    with tempfile.TemporaryDirectory() as scratch:
        database = Database(None, Path(scratch) / "schema.db")
        database.migrate()
        database.close(optimize=False)
        connection = sqlite3.connect(Path(scratch) / "schema.db")
        try:
            statements = schema_of(connection)
        finally:
            connection.close()
    text = json.dumps({"revision": HEAD_REVISION, "statements": statements}, indent=1)
    snapshot.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_snapshot()
    print(f"wrote {SNAPSHOT} at revision {HEAD_REVISION}", file=sys.stderr)
