"""A new cache file gets the schema the migrations make, without running them (posdesk.store.fresh_schema)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from posdesk.core.ticket import Ticket
from posdesk.store import Database, TicketRepository
from posdesk.store.fresh_schema import SNAPSHOT, create_if_new, read_snapshot
from posdesk.store.migrations.head import HEAD_REVISION

ROOT = Path(__file__).resolve().parents[2]


def master(path: Path) -> list[tuple[str, str, str, str | None]]:
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    finally:
        connection.close()
    return [*sorted(rows), ("revision", str(revision), "", None)]


def test_a_new_file_has_exactly_the_schema_and_revision_the_migrations_give(tmp_path: Path) -> None:
    migrated = Database(None, tmp_path / "migrated.db")
    migrated.migrate()  # Alembic, every migration
    migrated.close(optimize=False)
    fresh = Database.open(tmp_path / "fresh.db")
    fresh.close(optimize=False)
    assert master(tmp_path / "fresh.db") == master(tmp_path / "migrated.db")
    assert fresh.stored_revision() == HEAD_REVISION


def test_the_snapshot_is_at_the_newest_migration() -> None:
    known = read_snapshot()
    assert known is not None, f"{SNAPSHOT} is missing or unreadable"
    assert known[0] == HEAD_REVISION, "a migration was added: run `python -m posdesk.store.fresh_schema`"


def test_a_new_file_opens_without_alembic_or_sqlalchemy_and_is_in_wal_mode(tmp_path: Path) -> None:
    code = (
        "import json, sys; from pathlib import Path; from posdesk.store.database import Database; "
        f"Database.open(Path({str(tmp_path / 'new.db')!r})).close(optimize=False); "
        "print(json.dumps([m for m in ('alembic', 'sqlalchemy') if m in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
    connection = sqlite3.connect(tmp_path / "new.db")
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        connection.close()


def test_a_ticket_saves_and_reads_back_in_a_file_made_from_the_snapshot(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "posdesk.db")
    try:
        ticket = Ticket.new(1, "USD")
        with db.session() as session:
            TicketRepository(session).save(ticket, base_revision=None)
        with db.reading() as session:
            saved = TicketRepository(session).get(ticket.id)
        assert saved is not None and saved.number == 1
    finally:
        db.close(optimize=False)


def test_a_file_that_already_has_tables_is_left_to_the_migrations(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE something (id INTEGER)")
    connection.commit()
    connection.close()
    assert create_if_new(path, 1.0) is False
    connection = sqlite3.connect(path)
    try:
        names = [row[0] for row in connection.execute("SELECT name FROM sqlite_master")]
    finally:
        connection.close()
    assert names == ["something"]


def test_a_snapshot_behind_the_newest_migration_is_not_used(tmp_path: Path) -> None:
    stale = tmp_path / "head_schema.json"
    stale.write_text(json.dumps({"revision": "0000", "statements": ["CREATE TABLE wrong (id INTEGER)"]}))
    assert create_if_new(tmp_path / "new.db", 1.0, stale) is False
    db = Database.open(tmp_path / "new.db")  # the migrations make it instead
    try:
        assert db.stored_revision() == HEAD_REVISION
    finally:
        db.close(optimize=False)
