"""Rolling the POS back: the cache is copied before each migration, and an older build facing a newer
schema says so and can go back to the copy instead of crashing at start."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from posdesk.store import Database
from posdesk.store.backups import KEEP, SchemaTooNew, back_up, backup_folder, backups_of, restore
from posdesk.store.migrations.head import HEAD_REVISION

NEWER = "9001"  # a revision from a build after this one


def markers(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return [row[0] for row in connection.execute("SELECT note FROM marker ORDER BY note")]


def revision(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        return str(connection.execute("SELECT version_num FROM alembic_version").fetchone()[0])


def cache_from_before_the_last_migration(path: Path, note: str) -> None:
    Database.open(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS marker (note TEXT)")
        connection.execute("INSERT INTO marker VALUES (?)", (note,))
        connection.execute("DROP TABLE messages")
        connection.execute("DROP TABLE gift_cards")
        for column in ("refunded_tip_minor", "refunds", "tip_split"):
            connection.execute(f"ALTER TABLE payments DROP COLUMN {column}")
        connection.execute("UPDATE alembic_version SET version_num = '0001'")


def as_a_newer_build_leaves_it(path: Path, note: str) -> None:
    """What the next release does: copy the cache, migrate it to a schema this build does not know."""
    back_up(path, revision(path))
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS marker (note TEXT)")
        connection.execute("INSERT INTO marker VALUES (?)", (note,))
        connection.execute("CREATE TABLE gift_registry (id TEXT)")
        connection.execute("UPDATE alembic_version SET version_num = ?", (NEWER,))


def test_migrating_keeps_a_copy_of_the_cache_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "posdesk.db"
    cache_from_before_the_last_migration(path, "an unsent ticket")
    with Database.open(path) as database:
        assert database.stored_revision() == HEAD_REVISION
    [copy] = backups_of(path)
    assert copy.revision == "0001" and copy.path.parent == tmp_path / "cache-backups"
    assert revision(copy.path) == "0001" and markers(copy.path) == ["an unsent ticket"]


def test_an_up_to_date_or_new_cache_is_not_copied(tmp_path: Path) -> None:
    path = tmp_path / "posdesk.db"
    Database.open(path).close()  # a new file: nothing to keep
    Database.open(path).close()  # up to date: no migration
    assert backups_of(path) == []


def test_only_the_newest_copies_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "posdesk.db"
    for round_ in range(KEEP + 2):
        cache_from_before_the_last_migration(path, f"round {round_}")
        Database.open(path).close()
    kept = backups_of(path)
    assert len(kept) == KEEP == len(list(backup_folder(path).iterdir()))
    # newest first, and the newest holds every ticket up to the last round
    assert markers(kept[0].path) == [f"round {n}" for n in range(KEEP + 2)]


def test_an_older_build_explains_a_newer_schema_and_restores_the_copy(tmp_path: Path) -> None:
    path = tmp_path / "posdesk.db"
    Database.open(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE marker (note TEXT)")
        connection.execute("INSERT INTO marker VALUES ('sent before the update')")
    as_a_newer_build_leaves_it(path, "made by the newer build")

    with pytest.raises(SchemaTooNew) as raised:
        Database.open(path)
    error = raised.value
    text = str(error)
    assert "newer version of posdesk" in text and NEWER in text and HEAD_REVISION in text
    assert "restore the copy taken before the update" in text
    assert error.backup is not None and error.backup.revision == HEAD_REVISION
    assert revision(path) == NEWER  # refusing left the file as it was

    aside = restore(path, error.backup)
    with Database.open(path) as database:
        assert database.stored_revision() == HEAD_REVISION
    assert markers(path) == ["sent before the update"]
    # The newer file is kept, untouched, with what only it holds.
    assert revision(aside) == NEWER and "made by the newer build" in markers(aside)


def test_copies_of_schemas_this_build_does_not_know_are_not_offered(tmp_path: Path) -> None:
    path = tmp_path / "posdesk.db"
    Database.open(path).close()
    as_a_newer_build_leaves_it(path, "first newer start")
    back_up(path, NEWER, now=datetime.now(UTC) + timedelta(minutes=5))  # the newer build's own later copy
    with pytest.raises(SchemaTooNew) as raised:
        Database.open(path)
    assert raised.value.backup is not None and raised.value.backup.revision == HEAD_REVISION


def test_without_a_copy_the_message_says_to_reinstall(tmp_path: Path) -> None:
    path = tmp_path / "posdesk.db"
    Database.open(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = ?", (NEWER,))
    with pytest.raises(SchemaTooNew) as raised:
        Database.open(path)
    assert raised.value.backup is None
    assert "Install the newer version again (no copy" in str(raised.value)
