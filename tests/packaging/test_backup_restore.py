"""The compose setup's backup job: ``backup.sh`` dumps the companion's PostgreSQL database and keeps the
newest few; ``restore.sh`` puts a dump back, and the companion serves from it. Against the real
PostgreSQL server the tests start."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from posdesk.companion import migrations
from posdesk.companion.app import open_database
from posdesk.companion.config import CompanionConfig
from posdesk.companion.models import Store
from posdesk.companion.stores import create_store
from tests.conftest import require_tool
from tests.plugins import postgres as postgres_plugin
from tests.plugins.postgres import find_bindir

# The real server's fixtures (tests/companion/conftest.py takes them the same way).
postgres_url = postgres_plugin.postgres_url
postgres_db_url = postgres_plugin.postgres_db_url

DEPLOY = Path(__file__).resolve().parents[2] / "packaging" / "companion"


def run(script: str, url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    require_tool("pg_dump")
    bindir = find_bindir()
    path = f"{bindir}{os.pathsep}{os.environ['PATH']}" if bindir else os.environ["PATH"]
    return subprocess.run(
        ["sh", str(DEPLOY / script), *args],
        env={**os.environ, "PATH": path, "DATABASE_URL": url, **env},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def stores(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return sorted(connection.scalars(select(Store.name)))
    finally:
        engine.dispose()


def add_store(url: str, name: str) -> None:
    db = open_database(CompanionConfig.for_demo(url, "https://pay.example.com"))
    try:
        with db.write() as session:
            create_store(session, name, "USD")
    finally:
        db.dispose()


@pytest.mark.postgres
def test_backups_keep_the_newest_and_a_restore_brings_the_data_back(
    postgres_db_url: str, tmp_path: Path
) -> None:
    url = postgres_db_url
    backups = tmp_path / "backups"
    add_store(url, "Rosa's Salon")
    for _ in range(3):
        made = run("backup.sh", url, BACKUP_DIR=str(backups), BACKUP_KEEP="2")
        assert made.returncode == 0, made.stderr
        assert made.stdout.startswith(f"posdesk-backup: wrote {backups}/posdesk-")
    dumps = sorted(backups.glob("posdesk-*.dump"))
    assert len(dumps) == 2 and not list(backups.glob(".*partial"))

    add_store(url, "Made after the backup")
    assert stores(url) == ["Made after the backup", "Rosa's Salon"]
    restored = run("restore.sh", url, str(dumps[-1]))
    assert restored.returncode == 0, restored.stderr
    assert stores(url) == ["Rosa's Salon"]

    engine = create_engine(url)  # the restored database is at this release's schema, and serves
    try:
        assert migrations.current_revision(engine) == migrations.head_revision()
        with engine.connect() as connection:
            assert connection.scalar(select(func.count()).select_from(Store)) == 1
    finally:
        engine.dispose()
    add_store(url, "After the restore")


@pytest.mark.postgres
def test_a_failed_restore_changes_nothing(postgres_db_url: str, tmp_path: Path) -> None:
    add_store(postgres_db_url, "Rosa's Salon")
    broken = tmp_path / "broken.dump"
    broken.write_bytes(b"PGDMP this is not a whole dump")
    restored = run("restore.sh", postgres_db_url, str(broken))
    assert restored.returncode != 0
    assert stores(postgres_db_url) == ["Rosa's Salon"]


def test_a_bad_retention_is_refused(tmp_path: Path) -> None:
    refused = run(
        "backup.sh", "postgresql://nobody@127.0.0.1:9/none", BACKUP_DIR=str(tmp_path), BACKUP_KEEP="0"
    )
    assert refused.returncode == 2 and "BACKUP_KEEP must be a whole number" in refused.stderr
