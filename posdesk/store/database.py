"""The POS's local SQLite file: opening it, migrating it, and transactions.

The file is in WAL mode so one thread can write while others read, with ``synchronous=NORMAL`` (a power
cut may lose the last commits but never corrupts the file) and foreign keys enforced. Every
:meth:`Database.session` is one ``BEGIN IMMEDIATE`` transaction: it takes the write lock when it starts,
so a read-then-write (the revision check of a ticket save, the event cursor) cannot be overtaken by
another writer between the read and the write. :meth:`Database.reading` gives a read-only snapshot that
never waits for a writer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from posdesk import paths

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
DB_FILE_NAME = "posdesk.db"
BUSY_TIMEOUT_MS = 10_000
_BEGIN_OPTION = "posdesk_begin"


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event below issue BEGIN itself: the sqlite3 module's own implicit
    # transactions start late (at the first write), which would let reads run outside the transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _on_begin(connection: Connection) -> None:
    connection.exec_driver_sql(connection.get_execution_options().get(_BEGIN_OPTION, "BEGIN"))


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the local cache, built in code (no alembic.ini at run time)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


class Database:
    """The local cache, opened and migrated. Safe to use from several threads: each session takes its
    own pooled connection. Use one session per unit of work; do not share a session between threads."""

    def __init__(self, engine: Engine, path: Path) -> None:
        self.engine = engine
        self.path = path
        writer = engine.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})
        self._writes = sessionmaker(bind=writer, expire_on_commit=False)
        self._reads = sessionmaker(bind=engine, expire_on_commit=False)

    @classmethod
    def open(cls, path: Path | None = None) -> Database:
        """Open (creating if needed) and migrate the cache; ``paths.data_dir()/posdesk.db`` by default."""
        path = Path(path) if path is not None else paths.data_dir() / DB_FILE_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            f"sqlite:///{path}",
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        )
        event.listen(engine, "connect", _on_connect)
        event.listen(engine, "begin", _on_begin)
        database = cls(engine, path)
        try:
            database.migrate()
        except BaseException:
            engine.dispose()
            raise
        return database

    def migrate(self) -> None:
        """Bring the schema to the newest migration (a no-op, and cheap, when it is already there)."""
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        with self.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        if current == head:
            return
        log.info("migrating local cache %s from %s to %s", self.path.name, current, head)
        writer = self.engine.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})
        with writer.connect() as connection:
            command.upgrade(alembic_config(connection), "head")
            connection.commit()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        with self._writes() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only snapshot that never waits for a writer (WAL); nothing is committed."""
        with self._reads() as session, session.begin():
            try:
                yield session
            finally:
                session.rollback()

    def close(self) -> None:
        """Let SQLite refresh its planner statistics, then close every pooled connection."""
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA optimize")
        finally:
            self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
