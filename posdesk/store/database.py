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
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from posdesk import paths
from posdesk.store.migrations.head import HEAD_REVISION

if TYPE_CHECKING:
    from alembic.config import Config

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
    from alembic.config import Config

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

    def stored_revision(self) -> str | None:
        """The migration the file is at (None: a new file, never migrated)."""
        with self.engine.connect() as connection:
            known = connection.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            ).first()
            if known is None:
                return None
            return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()

    def migrate(self) -> None:
        """Bring the schema to the newest migration (a no-op, and cheap, when it is already there).

        Alembic is imported only when the file is behind :data:`HEAD_REVISION`: an up-to-date cache
        (every start but the first after an update) opens without it.
        """
        current = self.stored_revision()
        if current == HEAD_REVISION:
            return
        from alembic import command

        log.info("migrating local cache %s from %s to %s", self.path.name, current, HEAD_REVISION)
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
