"""What the POS cache's and the companion's Alembic migrations share: how their ``env.py`` runs."""

from __future__ import annotations

from sqlalchemy import MetaData


def run_environment(target_metadata: MetaData, scratch_database: str) -> None:
    """Run the migrations Alembic asked for, on the connection its caller handed over.

    The POS cache (``posdesk.store.database``) and the companion (``posdesk.companion.migrations``)
    pass their open connection in the Alembic config's attributes. Without one, this is a hand-run
    ``alembic revision --autogenerate``: it compares the models with ``scratch_database`` (a SQLite
    file in the working folder) unless ``sqlalchemy.url`` names another database.
    """
    from alembic import context

    connection = context.config.attributes.get("connection")
    if connection is None:
        from sqlalchemy import create_engine

        url = context.config.get_main_option("sqlalchemy.url") or f"sqlite:///{scratch_database}"
        connection = create_engine(url).connect()

    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
