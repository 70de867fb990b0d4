"""The companion's database: one engine, short transactions, the same code on SQLite and PostgreSQL.

Writes on SQLite take the write lock at ``BEGIN IMMEDIATE`` so two writers queue on the busy timeout
instead of failing half-way when a read transaction tries to upgrade. Reads use a plain deferred
transaction and never block writers (WAL).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from posdesk.companion.health import DatabaseHealth

SQLITE_BUSY_TIMEOUT_MS = 15_000


class Database:
    """Owns the engine. ``write()`` and ``read()`` give one transaction each."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.health = DatabaseHealth()  # said once per change by every user of this database
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
            if ":memory:" in url or url.rstrip("/").endswith("sqlite+pysqlite:"):
                raise ValueError("the companion needs a database file, not an in-memory database")
        else:
            kwargs["pool_pre_ping"] = True
            kwargs["pool_size"] = 20
            kwargs["max_overflow"] = 20
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            self._configure_sqlite(self.engine)
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        writer = self.engine.execution_options(posdesk_begin="BEGIN IMMEDIATE") if self.is_sqlite else self.engine
        self._write_sessions = sessionmaker(writer, expire_on_commit=False)
        # SQLite has one writer at a time; threads of this process wait for it here, woken the moment
        # it is free, instead of in SQLite's busy handler, which sleeps in steps of up to 100 ms (a
        # webhook's one-row insert would sleep behind the applier's batch). Re-entrant, so a nested
        # write in the same thread works. Other processes still meet the busy timeout.
        self._sqlite_writer: AbstractContextManager[Any] = threading.RLock() if self.is_sqlite else nullcontext()

    @staticmethod
    def _configure_sqlite(engine: Engine) -> None:
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, decide when transactions begin.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk before it returns, so a webhook answered 2xx (or a payment
            # recorded) survives a power cut too. NORMAL in WAL mode survives a crash of the process
            # but may lose the last commits to a power cut (SQLite's "PRAGMA synchronous" docs). Webhook
            # deliveries are committed in groups (webhooks/writer.py), so this is one fsync per group.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            connection.exec_driver_sql(connection.get_execution_options().get("posdesk_begin", "BEGIN"))

    @property
    def write_sessionmaker(self) -> sessionmaker[Session]:
        """For hooks that must see every write commit (see :meth:`EventBus.watch`)."""
        return self._write_sessions

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        with self._sqlite_writer, self._write_sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def read(self) -> Iterator[Session]:
        """One read-only transaction (rolled back at the end)."""
        with self._read_sessions() as session:
            try:
                yield session
            finally:
                session.rollback()

    def dispose(self) -> None:
        self.engine.dispose()

