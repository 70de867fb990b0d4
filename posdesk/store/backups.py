"""Copies of the local cache taken before each migration, so a rolled-back POS can go back to one.

A newer build migrates the cache forward; the build before it cannot read the result. So before
migrating, :meth:`~posdesk.store.database.Database.migrate` copies the file (SQLite's online backup, safe
with the WAL) to ``cache-backups/`` next to it, named after the revision it was at; the newest
:data:`KEEP` copies stay. An older build that finds a revision it does not know raises
:class:`SchemaTooNew`, which says what happened and names the newest copy this build can open;
:func:`restore` puts that copy in place and keeps the newer file aside (never deleted: its unsent
tickets are still inside, for the newer build to send when it is installed again).
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

BACKUP_FOLDER = "cache-backups"
KEEP = 3
_STAMP = "%Y%m%dT%H%M%S%f"


@dataclass(frozen=True, slots=True)
class CacheBackup:
    """One copy: where it is, the schema revision it holds, and when it was taken (UTC)."""

    path: Path
    revision: str
    taken_at: datetime

    def describe(self) -> str:
        return f"{self.taken_at:%Y-%m-%d %H:%M} UTC, schema {self.revision}"


class SchemaTooNew(Exception):
    """The cache was migrated by a newer build than this one; ``backup`` is the copy it could go back to."""

    def __init__(self, path: Path, found: str, newest_known: str, backups: list[CacheBackup]) -> None:
        self.path = path
        self.found = found
        self.newest_known = newest_known
        self.backup = backups[0] if backups else None
        super().__init__(self.explanation())

    def explanation(self) -> str:
        text = (
            f"This terminal's data ({self.path}) was last used by a newer version of posdesk "
            f"(schema {self.found}; this version knows schemas up to {self.newest_known}), "
            "so this version cannot open it. Install the newer version again"
        )
        if self.backup is None:
            return text + f" (no copy from before that update was found in {backup_folder(self.path)})."
        return (
            text + f", or restore the copy taken before the update ({self.backup.describe()}). "
            "Restoring keeps the newer file aside, untouched: tickets it has already sent to the companion "
            "come back when this terminal syncs, and tickets it had not sent yet stay in that file "
            "for the newer version."
        )


def backup_folder(path: Path) -> Path:
    return path.parent / BACKUP_FOLDER


def back_up(path: Path, revision: str, *, now: datetime | None = None) -> Path:
    """Copy the cache at ``path`` (now at ``revision``) into the backup folder; keep the newest few."""
    folder = backup_folder(path)
    folder.mkdir(parents=True, exist_ok=True)
    when = now or datetime.now(UTC)
    target = folder / f"{path.stem}-{revision}-{when.strftime(_STAMP)}.db"
    source = sqlite3.connect(path)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    for old in backups_of(path)[KEEP:]:
        old.path.unlink(missing_ok=True)
    log.info("copied local cache %s (schema %s) to %s before migrating", path.name, revision, target)
    return target


def backups_of(path: Path, revisions: Iterable[str] | None = None) -> list[CacheBackup]:
    """The copies of ``path``, newest first; only those at one of ``revisions`` when it is given."""
    wanted = None if revisions is None else set(revisions)
    found: list[CacheBackup] = []
    folder = backup_folder(path)
    if not folder.is_dir():
        return found
    for candidate in folder.glob(f"{path.stem}-*.db"):
        stem, revision, stamp = (
            candidate.stem.rsplit("-", 2) if candidate.stem.count("-") >= 2 else ("", "", "")
        )
        if stem != path.stem or (wanted is not None and revision not in wanted):
            continue
        try:
            taken_at = datetime.strptime(stamp, _STAMP).replace(tzinfo=UTC)
        except ValueError:
            continue
        found.append(CacheBackup(candidate, revision, taken_at))
    return sorted(found, key=lambda backup: backup.taken_at, reverse=True)


def restore(path: Path, backup: CacheBackup) -> Path:
    """Put ``backup`` in place of the cache at ``path``; return where the newer file was kept."""
    aside = path.with_name(f"{path.name}.newer-{datetime.now(UTC).strftime(_STAMP)}")
    for suffix in ("", "-wal", "-shm"):  # the WAL holds committed data: it moves with its file
        current = Path(f"{path}{suffix}")
        if current.exists():
            os.replace(current, Path(f"{aside}{suffix}"))
    partial = path.with_name(f"{path.name}.restoring")
    shutil.copyfile(backup.path, partial)
    os.replace(partial, path)
    log.warning("restored local cache %s from %s; the newer file is kept as %s", path, backup.path, aside)
    return aside
