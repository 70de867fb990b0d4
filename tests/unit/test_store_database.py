"""The local cache file: pragmas, migrations, transactions, threads."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from posdesk import paths
from posdesk.store import Database, SettingsRepository
from posdesk.store.database import alembic_config
from posdesk.store.migrations.head import HEAD_REVISION
from posdesk.store.models import Base


def test_open_without_a_path_uses_the_data_directory() -> None:
    with Database.open() as database:
        assert database.path == paths.data_dir() / "posdesk.db"
        assert database.path.exists()


def test_wal_foreign_keys_and_synchronous_normal_are_on(db: Database) -> None:
    with db.session() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert session.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
        assert session.execute(text("PRAGMA busy_timeout")).scalar() >= 1000


def test_foreign_keys_are_enforced(db: Database) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), db.session() as session:
        session.execute(
            text(
                "INSERT INTO ticket_lines (id, ticket_id, position, item_id, kind, name, unit_price_minor,"
                " quantity, tax_rate, prepaid_holding_id, staff, appointment_id, note)"
                " VALUES ('l1', 'no-such-ticket', 0, '', 'product', 'x', 1, 1, '0', '', '', '', '')"
            )
        )


def test_an_empty_file_is_migrated_to_head(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    with Database.open(path) as database, database.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert current == head
        tables = set(inspect(connection).get_table_names())
    assert {
        "clients",
        "client_holdings",
        "catalog_items",
        "appointments",
        "tickets",
        "ticket_lines",
        "payments",
        "invoices",
        "outbox",
        "event_cursor",
        "settings",
    } <= tables


def test_the_head_revision_constant_is_alembics_head() -> None:
    # Start-up trusts HEAD_REVISION to skip Alembic: a new migration must move it too.
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD_REVISION


def test_an_older_cache_is_migrated_and_an_up_to_date_one_opens_without_alembic(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    Database.open(path).close()
    with sqlite3.connect(path) as connection:  # as a cache from before the last migration
        connection.execute("DROP TABLE gift_cards")
        for column in ("refunded_tip_minor", "refunds", "tip_split"):
            connection.execute(f"ALTER TABLE payments DROP COLUMN {column}")
        connection.execute("UPDATE alembic_version SET version_num = '0002'")
    with Database.open(path) as database:
        assert database.stored_revision() == HEAD_REVISION
        assert "gift_cards" in inspect(database.engine).get_table_names()
        assert "tip_split" in {c["name"] for c in inspect(database.engine).get_columns("payments")}
    opened = subprocess.run(
        [sys.executable, "-c", OPEN_AND_LIST_MODULES, str(path)],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert opened.strip() == "alembic not imported"


OPEN_AND_LIST_MODULES = """
import sys
from posdesk.store import Database
Database.open(sys.argv[1]).close()
print("alembic imported" if "alembic" in sys.modules else "alembic not imported")
"""


def test_the_models_match_the_migrations(db: Database) -> None:
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_reopening_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    with Database.open(path) as database, database.session() as session:
        SettingsRepository(session).set("greeting", {"text": "hello"})
    with Database.open(path) as database, database.reading() as session:
        assert SettingsRepository(session).get("greeting") == {"text": "hello"}


def test_a_session_commits_on_success_and_rolls_back_on_error(db: Database) -> None:
    with db.session() as session:
        SettingsRepository(session).set("kept", 1)
    with pytest.raises(RuntimeError), db.session() as session:
        SettingsRepository(session).set("dropped", 2)
        raise RuntimeError("cashier pulled the plug")
    with db.reading() as session:
        settings = SettingsRepository(session)
        assert settings.get("kept") == 1
        assert settings.get("dropped") is None


def test_writes_on_a_worker_thread_are_read_on_another(db: Database) -> None:
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with db.session() as session:
                repo = SettingsRepository(session)
                repo.set("counter", (repo.get("counter") or 0) + n)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=write, args=(1,)) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    result: list[int] = []
    reader = threading.Thread(target=lambda: result.append(_read_counter(db)))
    reader.start()
    reader.join()
    # Each write is read-modify-write; BEGIN IMMEDIATE serialises them, so none is lost.
    assert result == [8]


def _read_counter(db: Database) -> int:
    with db.reading() as session:
        return int(SettingsRepository(session).get("counter"))


def test_a_reader_is_not_blocked_by_an_open_write(db: Database) -> None:
    with db.session() as session:
        SettingsRepository(session).set("price", 100)
    with db.session() as writer:
        SettingsRepository(writer).set("price", 200)
        with db.reading() as reader:  # WAL: sees the last commit, does not wait
            assert SettingsRepository(reader).get("price") == 100
