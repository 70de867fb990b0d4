"""The companion's migrations build exactly the tables models.py describes, on both databases; a
database a pre-release build left at a retired revision is refused with a message that says so."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text

from posdesk.companion import migrations
from posdesk.companion.cli import main
from posdesk.companion.database import Database
from posdesk.companion.models import Base


def test_migrations_match_the_models(db_url: str) -> None:
    db = Database(db_url)
    try:
        migrations.upgrade(db.engine)
        with db.engine.connect() as connection:
            options = {
                "compare_type": True,
                # Alembic's SQLite comparison takes an empty-string default for a change; PostgreSQL's
                # is exact, and checks the defaults a row written by hand (or an older release) gets.
                "compare_server_default": connection.dialect.name == "postgresql",
            }
            context = MigrationContext.configure(connection, opts=options)
            difference = compare_metadata(context, Base.metadata)
        assert difference == []
        assert migrations.current_revision(db.engine) == migrations.head_revision()
    finally:
        db.dispose()


# What PostgreSQL's catalogue says of the tables: column by column (in order), constraint by constraint
# and index by index, with their names and defaults.
CATALOGUE = [
    """SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
              pg_get_expr(d.adbin, d.adrelid)
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attnum > 0
         AND NOT a.attisdropped AND c.relname <> 'alembic_version'
       ORDER BY 1, 2""",
    """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
       WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> 'alembic_version'
       ORDER BY 1, 2""",
    """SELECT tablename, indexname, indexdef FROM pg_indexes
       WHERE schemaname = 'public' AND tablename <> 'alembic_version' ORDER BY 1, 2""",
]


def catalogue(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for query in CATALOGUE for row in connection.execute(text(query))]


def test_the_migrated_schema_is_the_models_to_the_letter(postgres_db_url: str) -> None:
    """What compare_metadata passes over, on PostgreSQL (where constraints have names whether or not
    the models give one): column order, server defaults, every constraint's and index's name."""
    engine = create_engine(postgres_db_url)
    try:
        migrations.upgrade(engine)
        migrated = catalogue(engine)
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE alembic_version"))
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        assert catalogue(engine) == migrated
        assert len(migrated) > 100  # every table, not an empty list twice
    finally:
        engine.dispose()


def test_upgrading_twice_is_harmless(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        migrations.upgrade(engine)
        migrations.upgrade(engine)
        assert "invoices" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_a_pre_release_database_is_refused_and_told_to_start_anew(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = create_engine(db_url)
    try:
        migrations.upgrade(engine)
        with engine.begin() as connection:  # as a pre-release build of the chain the baseline replaced
            connection.execute(text("UPDATE alembic_version SET version_num = '0005'"))
        with pytest.raises(migrations.SchemaRetired) as raised:
            migrations.upgrade(engine)
        assert migrations.current_revision(engine) == "0005"  # left as it was
        shown = engine.url.render_as_string(hide_password=True)
    finally:
        engine.dispose()
    message = str(raised.value)
    assert "pre-release build of posdesk (schema revision 0005)" in message
    assert shown in message and "Start with a new database" in message and "newer" not in message

    assert main(["migrate", "--database-url", db_url]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"posdesk-companion: the companion database {shown} was made by a pre-release")
