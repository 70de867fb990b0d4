"""The outbox (work for the companion) and the event cursor (what the companion told us)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from posdesk.store import Database, EventCursor, Outbox, SettingsRepository
from posdesk.store.outbox import MAX_RETRY, retry_delay

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_enqueueing_the_same_key_twice_keeps_one_entry(db: Database) -> None:
    with db.session() as session:
        first = Outbox(session).enqueue("invoice.upsert", "inv-1:v1", {"version": 1}, now=T0)
    with db.session() as session:
        again = Outbox(session).enqueue("invoice.upsert", "inv-1:v1", {"version": 1}, now=T0)
        outbox = Outbox(session)
        assert again == first
        assert outbox.pending_count() == 1
        outbox.mark_done(first, now=T0)
    with db.session() as session:
        # Even once done, the same effect is not queued again.
        assert Outbox(session).enqueue("invoice.upsert", "inv-1:v1", {"version": 1}, now=T0) == first
        assert Outbox(session).due(T0 + timedelta(hours=1)) == []


def test_due_entries_come_oldest_first_and_only_when_their_time_has_come(db: Database) -> None:
    with db.session() as session:
        outbox = Outbox(session)
        a = outbox.enqueue("invoice.upsert", "a", {}, now=T0)
        b = outbox.enqueue("message.send", "b", {}, now=T0 + timedelta(seconds=1))
        c = outbox.enqueue("invoice.upsert", "c", {}, now=T0 + timedelta(seconds=2))
        outbox.mark_failed(a, "companion unreachable", now=T0 + timedelta(seconds=3), rng=random.Random(1))
    with db.reading() as session:
        outbox = Outbox(session)
        assert [e.id for e in outbox.due(T0 + timedelta(seconds=3))] == [b, c]
        assert [e.id for e in outbox.due(T0 + timedelta(seconds=3), limit=1)] == [b]
        assert outbox.due(T0 - timedelta(seconds=1)) == []
        assert [e.id for e in outbox.due(T0 + timedelta(minutes=10))] == [a, b, c]
        entry = outbox.get(a)
        assert entry is not None and entry.attempts == 1 and entry.last_error == "companion unreachable"


def test_failures_back_off_exponentially_with_jitter_up_to_a_cap(db: Database) -> None:
    rng = random.Random(7)
    with db.session() as session:
        entry_id = Outbox(session).enqueue("invoice.upsert", "k", {}, now=T0)
    waits: list[timedelta] = []
    now = T0
    for attempt in range(1, 13):
        with db.session() as session:
            next_try = Outbox(session).mark_failed(entry_id, f"HTTP 503 #{attempt}", now=now, rng=rng)
        waits.append(next_try - now)
        ceiling = min(MAX_RETRY, timedelta(seconds=2 * 2 ** (attempt - 1)))
        assert ceiling / 2 <= waits[-1] <= ceiling
        now = next_try
    assert waits[0] < timedelta(seconds=3)
    assert waits[-1] > timedelta(minutes=2)
    assert max(waits) <= timedelta(minutes=5)
    # Jitter: two terminals failing at the same moment do not retry in step.
    assert retry_delay(6, random.Random(1)) != retry_delay(6, random.Random(2))
    with db.reading() as session:
        entry = Outbox(session).get(entry_id)
    assert entry is not None and entry.attempts == 12 and entry.next_try_at == now


def test_a_long_error_is_kept_short(db: Database) -> None:
    with db.session() as session:
        outbox = Outbox(session)
        entry_id = outbox.enqueue("message.send", "m1", {}, now=T0)
        outbox.mark_failed(entry_id, "x" * 10_000, now=T0)
        entry = outbox.get(entry_id)
    assert entry is not None and len(entry.last_error) == 500


def _remember(value: str):
    def change(session: Session) -> None:
        settings = SettingsRepository(session)
        settings.set("applied", [*settings.get("applied", []), value])

    return change


def test_applying_an_event_twice_is_harmless(db: Database) -> None:
    cursor = EventCursor(db, "https://companion.example.com#store-1")
    assert cursor.get() == 0
    assert cursor.apply(1, _remember("paid 1")) is True
    assert cursor.apply(2, _remember("paid 2")) is True
    assert cursor.apply(2, _remember("paid 2")) is False  # a reconnect replays it
    assert cursor.apply(1, _remember("paid 1")) is False
    assert cursor.get() == 2
    with db.reading() as session:
        assert SettingsRepository(session).get("applied") == ["paid 1", "paid 2"]


def test_a_failing_event_leaves_the_cursor_and_the_data_unchanged(db: Database) -> None:
    cursor = EventCursor(db, "store-1")
    cursor.apply(5, _remember("five"))

    def half_done(session: Session) -> None:
        _remember("six")(session)
        raise RuntimeError("crashed half way")

    with pytest.raises(RuntimeError):
        cursor.apply(6, half_done)
    assert cursor.get() == 5
    with db.reading() as session:
        assert SettingsRepository(session).get("applied") == ["five"]
    assert cursor.apply(6, _remember("six")) is True  # the retry applies it once
    assert cursor.get() == 6


def test_each_companion_store_has_its_own_cursor(db: Database) -> None:
    EventCursor(db, "store-a").apply(10, lambda session: None)
    assert EventCursor(db, "store-b").get() == 0
    assert EventCursor(db, "store-a").get() == 10
