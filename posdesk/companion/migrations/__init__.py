"""The companion's schema migrations (Alembic), applied programmatically at start.

``create_app`` and ``posdesk-companion migrate`` call :func:`upgrade`; nobody has to run ``alembic``
by hand. On PostgreSQL the upgrade holds an advisory lock, so several workers or hosts starting at
once migrate one after the other instead of racing on ``CREATE TABLE``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

MIGRATIONS_DIR = Path(__file__).resolve().parent
ADVISORY_LOCK_KEY = 0x706F7364  # "posd": one key for every companion sharing the database


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest revision; cheap when it is already there."""
    head = head_revision()
    if current_revision(engine) == head:
        return
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Held until this transaction ends; a second starter waits, then finds nothing to do.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        if MigrationContext.configure(connection).get_current_revision() != head:
            command.upgrade(alembic_config(connection), "head")
