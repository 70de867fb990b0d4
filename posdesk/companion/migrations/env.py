"""Alembic environment of the companion. Run through :func:`posdesk.companion.migrations.upgrade`."""

from posdesk.companion.models import Base
from posdesk.schema_migrations import run_environment

run_environment(Base.metadata, scratch_database="scratch-companion.db")
