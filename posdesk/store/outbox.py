"""The outbox: work waiting for the companion (invoice uploads, messages), kept until it is done.

Enqueueing is part of the same transaction as the change that needs it, so the work is never lost and
never sent for a change that was rolled back. The relay in ``posdesk.sync`` takes what is due, tries it,
and marks it done or failed; a failure waits longer each time (exponential backoff with jitter, capped),
so an unreachable companion is not hammered and many terminals do not retry in step.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from posdesk.core.attributes import from_attributes
from posdesk.core.ticket import utcnow
from posdesk.store.models import OutboxRow
from posdesk.store.repository import Repository

FIRST_RETRY = timedelta(seconds=2)
MAX_RETRY = timedelta(minutes=5)
MAX_ERROR_TEXT = 500


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    attempts: int
    next_try_at: datetime
    last_error: str
    created_at: datetime
    done_at: datetime | None

    @property
    def is_done(self) -> bool:
        return self.done_at is not None


def retry_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    """How long to wait after the ``attempts``-th failure: 2 s, 4 s, 8 s ... capped at 5 minutes, then
    a random half to all of it ("equal jitter"), so the wait never exceeds the cap nor drops to zero."""
    ceiling = min(MAX_RETRY, FIRST_RETRY * (1 << min(max(attempts - 1, 0), 20)))
    fraction: float = (rng or random).uniform(0.5, 1.0)
    return ceiling * fraction


class Outbox(Repository):
    """The outbox table."""

    def enqueue(self, kind: str, key: str, payload: dict[str, Any], *, now: datetime | None = None) -> int:
        """Add work unless an entry with this dedupe ``key`` exists (done or not); return the entry's id.

        The key names the effect (e.g. ``invoice:<id>:v3``), so the same effect asked twice is sent once.
        """
        now = now or utcnow()
        self._insert_once(
            OutboxRow,
            OutboxRow.dedupe_key,
            kind=kind,
            dedupe_key=key,
            payload=payload,
            attempts=0,
            next_try_at=now,
            last_error="",
            created_at=now,
        )
        entry_id = self.session.scalar(select(OutboxRow.id).where(OutboxRow.dedupe_key == key))
        assert entry_id is not None
        return entry_id

    def due(self, now: datetime | None = None, limit: int = 20) -> list[OutboxEntry]:
        """Entries not done whose retry time has come, oldest first (the order they were enqueued)."""
        now = now or utcnow()
        rows = self.session.scalars(
            select(OutboxRow)
            .where(OutboxRow.done_at.is_(None), OutboxRow.next_try_at <= now)
            .order_by(OutboxRow.id)
            .limit(limit)
            .execution_options(populate_existing=True)
        )
        return [_entry_of(row) for row in rows]

    def get(self, entry_id: int) -> OutboxEntry | None:
        return self._get(OutboxRow, entry_id, _entry_of)

    def get_by_key(self, key: str) -> OutboxEntry | None:
        row = self.session.scalar(
            select(OutboxRow).where(OutboxRow.dedupe_key == key).execution_options(populate_existing=True)
        )
        return None if row is None else _entry_of(row)

    def pending_count(self) -> int:
        """How many entries still wait (the POS shows this while the companion is unreachable)."""
        query = select(func.count()).select_from(OutboxRow).where(OutboxRow.done_at.is_(None))
        return self.session.scalar(query) or 0

    def next_due_at(self) -> datetime | None:
        """When the earliest pending entry becomes due (for the relay to sleep until then)."""
        return self.session.scalar(select(func.min(OutboxRow.next_try_at)).where(OutboxRow.done_at.is_(None)))

    def retry_now(self, *, now: datetime | None = None) -> int:
        """Make every waiting entry due now; how many. Called when the companion answers again: the
        backoff was for it being down, and after a long outage it would otherwise hold an upload back
        for up to :data:`MAX_RETRY` after the connection is back."""
        now = now or utcnow()
        result = self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.done_at.is_(None), OutboxRow.next_try_at > now)
            .values(next_try_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def mark_done(self, entry_id: int, *, now: datetime | None = None) -> None:
        self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == entry_id, OutboxRow.done_at.is_(None))
            .values(done_at=now or utcnow())
            .execution_options(synchronize_session=False)
        )

    def mark_failed(
        self, entry_id: int, error: str, *, now: datetime | None = None, rng: random.Random | None = None
    ) -> datetime:
        """Count a failed attempt and schedule the next one; returns when it will be due."""
        now = now or utcnow()
        attempts = (self.session.scalar(select(OutboxRow.attempts).where(OutboxRow.id == entry_id)) or 0) + 1
        next_try = now + retry_delay(attempts, rng)
        self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == entry_id)
            .values(attempts=attempts, next_try_at=next_try, last_error=error[:MAX_ERROR_TEXT])
            .execution_options(synchronize_session=False)
        )
        return next_try


def _entry_of(row: OutboxRow) -> OutboxEntry:
    return from_attributes(OutboxEntry, row, key=row.dedupe_key, payload=dict(row.payload))
