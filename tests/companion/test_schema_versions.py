"""Rolling upgrades and roll-backs of the companion: migrations only add, so old and new run side by
side; an older companion starting on a database a newer one migrated refuses, and says why."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from posdesk import __version__
from posdesk.companion import migrations
from posdesk.companion.cli import main
from posdesk.companion.migrations import MIGRATIONS_DIR as COMPANION_MIGRATIONS
from posdesk.store.database import MIGRATIONS_DIR as POS_MIGRATIONS

NEWER = "9001"
# What an old release cannot live with: its tables or columns gone or renamed, or a column it never
# writes made mandatory.
REMOVING = {"drop_table", "drop_column", "rename_table", "drop_constraint", "execute"}


def _upgrade_calls(source: str) -> list[ast.Call]:
    module = ast.parse(source)
    upgrade = next(n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade")
    return [node for node in ast.walk(upgrade) if isinstance(node, ast.Call)]


def _keyword(call: ast.Call, name: str) -> object:
    for keyword in call.keywords:
        if keyword.arg == name:
            return ast.literal_eval(keyword.value) if isinstance(keyword.value, ast.Constant) else ...
    return None


def what_an_old_release_could_not_run_beside(source: str) -> list[str]:
    """The steps of a migration's ``upgrade()`` that would break the release before it."""
    problems: list[str] = []
    for call in _upgrade_calls(source):
        operation = call.func.attr if isinstance(call.func, ast.Attribute) else ""
        if operation in REMOVING:
            problems.append(f"{operation} (line {call.lineno})")
        elif operation == "alter_column" and (
            _keyword(call, "new_column_name") is not None or _keyword(call, "nullable") is False
        ):
            problems.append(f"alter_column renaming or making it NOT NULL (line {call.lineno})")
        elif operation == "add_column":
            column = call.args[-1] if call.args else None
            if (
                isinstance(column, ast.Call)
                and _keyword(column, "nullable") is False
                and _keyword(column, "server_default") is None
            ):
                problems.append(f"add_column NOT NULL without a server default (line {call.lineno})")
    return problems


@pytest.mark.parametrize(
    "migration",
    sorted([*COMPANION_MIGRATIONS.glob("versions/*.py"), *POS_MIGRATIONS.glob("versions/*.py")]),
    ids=lambda path: f"{path.parents[2].name}/{path.name}",
)
def test_migrations_only_add(migration: Path) -> None:
    if migration.name == "__init__.py":
        return
    assert what_an_old_release_could_not_run_beside(migration.read_text("utf-8")) == []


def test_the_rule_catches_what_it_is_for() -> None:
    bad = """
def upgrade():
    op.drop_column('invoices', 'tip')
    op.add_column('invoices', sa.Column('tax', sa.Integer(), nullable=False))
    op.add_column('invoices', sa.Column('note', sa.Text(), nullable=False, server_default=''))
    with op.batch_alter_table('payments') as batch_op:
        batch_op.alter_column('amount', new_column_name='amount_minor')
def downgrade():
    op.drop_table('invoices')
"""
    problems = what_an_old_release_could_not_run_beside(bad)
    assert [p.split(" (")[0] for p in problems] == [
        "drop_column",
        "add_column NOT NULL without a server default",
        "alter_column renaming or making it NOT NULL",
    ]


def test_an_older_companion_refuses_a_newer_schema(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    engine = create_engine(db_url)
    try:
        migrations.upgrade(engine)
        with engine.begin() as connection:  # as the next release leaves it
            connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": NEWER})
        with pytest.raises(migrations.SchemaTooNew) as raised:
            migrations.upgrade(engine)
        assert migrations.current_revision(engine) == NEWER  # left as it was
    finally:
        engine.dispose()
    message = str(raised.value)
    assert NEWER in message and migrations.head_revision() in message and __version__ in message
    assert "newer posdesk-companion" in message

    assert main(["migrate", "--database-url", db_url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("posdesk-companion: the database is at schema revision 9001")
