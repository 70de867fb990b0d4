"""Alembic environment of the POS cache. Run through posdesk.store.database (it passes a connection)."""

from posdesk.schema_migrations import run_environment
from posdesk.store.models import Base

run_environment(Base.metadata, scratch_database="scratch-posdesk.db")
