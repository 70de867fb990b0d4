"""The companion's schema migrations (Alembic), applied programmatically at start.

``create_app`` and ``posdesk-companion migrate`` call :func:`upgrade`; nobody has to run ``alembic``
by hand. On PostgreSQL the upgrade holds an advisory lock, so several workers or hosts starting at
once migrate one after the other instead of racing on ``CREATE TABLE``.

Migrations only add (tables, nullable or defaulted columns, indexes; ``tests/companion/
test_migrations_only_add.py``), so during a rolling upgrade the companions still running the older
release keep working on the newer schema. An older companion that *starts* on a database a newer one
migrated refuses with :class:`SchemaTooNew` instead: it cannot know what the unknown revisions did.
"""

from __future__ import annotations

from pathlib import Path

from posdesk import __version__

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from posdesk.companion.config import ConfigError

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


class SchemaTooNew(ConfigError):
    """The database was migrated by a newer companion than this one (a rolled-back upgrade)."""

    def __init__(self, found: str, head: str) -> None:
        self.found = found
        self.head = head
        super().__init__(
            f"the database is at schema revision {found}, made by a newer posdesk-companion; this one "
            f"({__version__}) knows revisions up to {head}. Run the newer release, or restore the "
            "database backup taken before the upgrade (docs/deploy.md, 'Rolling back')."
        )


def known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def check_not_newer(revision: str | None) -> None:
    """Raise :class:`SchemaTooNew` when ``revision`` is not one of this release's migrations."""
    if revision is not None and revision not in known_revisions():
        raise SchemaTooNew(revision, head_revision())


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest revision; cheap when it is already there.

    Raises :class:`SchemaTooNew` when a newer companion has migrated the database already.
    """
    head = head_revision()
    current = current_revision(engine)
    if current == head:
        return
    check_not_newer(current)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Held until this transaction ends; a second starter waits, then finds nothing to do.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        current = MigrationContext.configure(connection).get_current_revision()
        if current != head:
            check_not_newer(current)  # a newer companion may have migrated while this one waited
            command.upgrade(alembic_config(connection), "head")
