"""The companion's migrations build exactly the tables models.py describes, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from posdesk.companion import migrations
from posdesk.companion.database import Database
from posdesk.companion.models import Base


def test_migrations_match_the_models(db_url: str) -> None:
    db = Database(db_url)
    try:
        migrations.upgrade(db.engine)
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            difference = compare_metadata(context, Base.metadata)
        assert difference == []
        assert migrations.current_revision(db.engine) == migrations.head_revision()
    finally:
        db.dispose()


def test_upgrading_twice_is_harmless(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        migrations.upgrade(engine)
        migrations.upgrade(engine)
        assert "invoices" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
