"""The POS's local SQLite file: opening it, migrating it, and transactions.

The file is in WAL mode so one thread can write while others read, with ``synchronous=NORMAL`` (a power
cut may lose the last commits but never corrupts the file) and foreign keys enforced. Every
:meth:`Database.session` is one ``BEGIN IMMEDIATE`` transaction: it takes the write lock when it starts,
so a read-then-write (the revision check of a ticket save, the event cursor) cannot be overtaken by
another writer between the read and the write. :meth:`Database.reading` gives a read-only snapshot that
never waits for a writer.

SQLAlchemy is imported when the first session or reading needs it, not to open the file: start-up
checks the schema's revision and reads its first screen through :meth:`Database.direct` (stdlib
``sqlite3``, :mod:`posdesk.store.direct`), so the POS window is interactive before the ORM is loaded.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from posdesk import paths
from posdesk.store.backups import SchemaTooNew, back_up, backups_of
from posdesk.store.direct import DirectReader, DirectReads
from posdesk.store.fresh_schema import create_if_new
from posdesk.store.migrations.head import HEAD_REVISION

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Engine
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
DB_FILE_NAME = "posdesk.db"
BUSY_TIMEOUT_MS = 10_000
_BEGIN_OPTION = "posdesk_begin"


def _create_engine(path: Path) -> Engine:
    from sqlalchemy import create_engine, event

    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
    )
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


def _stored_revision(path: Path) -> str | None:
    """The file's Alembic revision, read with stdlib ``sqlite3`` (None: no schema yet)."""
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        known = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).fetchone()
        if known is None:
            return None
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        return None if row is None else str(row[0])
    finally:
        connection.close()


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
    own pooled connection. Use one session per unit of work; do not share a session between threads.

    ``engine`` may be None: it is then made (and SQLAlchemy imported) on first use, by any thread."""

    def __init__(self, engine: Engine | None, path: Path) -> None:
        self.path = path
        self._engine = engine
        self._engine_lock = threading.Lock()
        self._writes: sessionmaker[Session] | None = None
        self._reads: sessionmaker[Session] | None = None
        self._direct = DirectReads(path, BUSY_TIMEOUT_MS)
        self._closed = False

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (made on first use)."""
        if self._engine is None:
            with self._engine_lock:
                if self._engine is None:
                    self._engine = _create_engine(self.path)
        return self._engine

    def _sessions(self) -> tuple[sessionmaker[Session], sessionmaker[Session]]:
        if self._writes is None or self._reads is None:
            from sqlalchemy.orm import sessionmaker

            engine = self.engine
            with self._engine_lock:
                if self._writes is None or self._reads is None:
                    writer = engine.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})
                    self._reads = sessionmaker(bind=engine, expire_on_commit=False)
                    self._writes = sessionmaker(bind=writer, expire_on_commit=False)
        return self._writes, self._reads

    def warm_up(self) -> None:
        """Import SQLAlchemy and the models and make the engine now (a background thread calls this
        after start-up, so the first save or ORM read does not pay for the import)."""
        import posdesk.store.repositories  # noqa: F401 - the models and every repository

        self._sessions()

    @classmethod
    def open(cls, path: Path | None = None) -> Database:
        """Open (creating if needed) and migrate the cache; ``paths.data_dir()/posdesk.db`` by default.

        An up-to-date file opens without SQLAlchemy (see the module's docstring), and so does a new one
        (:mod:`posdesk.store.fresh_schema`: the newest schema from a snapshot, no migrations to run).
        """
        path = Path(path) if path is not None else paths.data_dir() / DB_FILE_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        database = cls(None, path)
        try:
            stored = _stored_revision(path)
            made = stored is None and create_if_new(path, BUSY_TIMEOUT_MS / 1000)
            if stored != HEAD_REVISION and not made:
                database.migrate()
        except BaseException:
            database.close(optimize=False)
            raise
        return database

    def stored_revision(self) -> str | None:
        """The migration the file is at (None: a new file, never migrated)."""
        return _stored_revision(self.path)

    def migrate(self) -> None:
        """Bring the schema to the newest migration (a no-op, and cheap, when it is already there).

        Alembic is imported only when the file is behind :data:`HEAD_REVISION`: an up-to-date cache
        (every start but the first after an update) opens without it.
        """
        current = self.stored_revision()
        if current == HEAD_REVISION:
            return
        from alembic import command  # and SQLAlchemy, through the engine
        from alembic.script import ScriptDirectory

        known = {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
        if current is not None and current not in known:
            raise SchemaTooNew(self.path, current, HEAD_REVISION, backups_of(self.path, known))
        if current is not None:  # a copy to go back to if this build is rolled back (posdesk.store.backups)
            back_up(self.path, current)
        log.info("migrating local cache %s from %s to %s", self.path.name, current, HEAD_REVISION)
        writer = self.engine.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})
        with writer.connect() as connection:
            command.upgrade(alembic_config(connection), "head")
            connection.commit()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        writes, _reads = self._sessions()
        with writes() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only snapshot that never waits for a writer (WAL); nothing is committed."""
        _writes, reads = self._sessions()
        with reads() as session, session.begin():
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def direct(self) -> Iterator[DirectReader]:
        """A read-only snapshot through stdlib ``sqlite3`` (no SQLAlchemy): the first screen's reads."""
        with self._direct.reading() as reader:
            yield reader

    def close(self, *, optimize: bool = True) -> None:
        """Let SQLite refresh its planner statistics, then close every connection."""
        if self._closed:
            return
        self._closed = True
        try:
            if optimize:
                with sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000) as connection:
                    connection.execute("PRAGMA optimize")
                connection.close()
        finally:
            self._direct.close()
            if self._engine is not None:
                self._engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
