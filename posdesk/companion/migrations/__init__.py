"""The companion's schema migrations (Alembic), applied programmatically at start.

``create_app`` and ``posdesk-companion migrate`` call :func:`upgrade`; nobody has to run ``alembic``
by hand. On PostgreSQL the upgrade holds an advisory lock, so several workers or hosts starting at
once migrate one after the other instead of racing on ``CREATE TABLE``.

Migrations only add (tables, nullable or defaulted columns, indexes; ``tests/companion/
test_migrations_only_add.py``), so during a rolling upgrade the companions still running the older
release keep working on the newer schema. An older companion that *starts* on a database a newer one
migrated refuses with :class:`SchemaTooNew` instead: it cannot know what the unknown revisions did.

Release 0.1.0 starts from one baseline, ``versions/0009_companion_schema_0_1_0.py``, squashed from the
pre-release chain; a database left at one of that chain's earlier revisions is refused with
:class:`SchemaRetired`.
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


#: The pre-release chain's revisions before its head, which the 0.1.0 baseline (revision 0009) replaced.
RETIRED_REVISIONS = frozenset({"0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008"})


class SchemaRetired(ConfigError):
    """The database was made by a pre-release build, at a revision no release can upgrade from."""

    def __init__(self, found: str, database: str) -> None:
        self.found = found
        super().__init__(
            f"the companion database {database} was made by a pre-release build of posdesk (schema "
            f"revision {found}), which this release ({__version__}) cannot upgrade. Start with a new "
            "database: move this one away, or name an empty one with DATABASE_URL or --database-url."
        )


def known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def check_upgradable(revision: str | None, engine: Engine) -> None:
    """Raise :class:`SchemaRetired` or :class:`SchemaTooNew` when ``revision`` is not one of this
    release's migrations (``None``, an empty database, is upgradable)."""
    if revision is None or revision in known_revisions():
        return
    if revision in RETIRED_REVISIONS:
        raise SchemaRetired(revision, engine.url.render_as_string(hide_password=True))
    raise SchemaTooNew(revision, head_revision())


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest revision; cheap when it is already there.

    Raises :class:`SchemaTooNew` when a newer companion has migrated the database already, and
    :class:`SchemaRetired` when a pre-release build made it.
    """
    head = head_revision()
    current = current_revision(engine)
    if current == head:
        return
    check_upgradable(current, engine)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Held until this transaction ends; a second starter waits, then finds nothing to do.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        current = MigrationContext.configure(connection).get_current_revision()
        if current != head:
            check_upgradable(current, engine)  # a newer companion may have migrated while this one waited
            command.upgrade(alembic_config(connection), "head")
