"""Alembic environment of the companion. Run through :func:`posdesk.companion.migrations.upgrade`."""

from alembic import context

from posdesk.companion.models import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    # Only reached by hand-run "alembic revision --autogenerate" against a scratch database.
    from sqlalchemy import create_engine

    url = context.config.get_main_option("sqlalchemy.url") or "sqlite:///scratch-companion.db"
    connection = create_engine(url).connect()

context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
