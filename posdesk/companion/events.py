"""A store's event log: appended in the same transaction as the change it reports, read by position.

Ids must never become visible out of order (a reader at "after 41" must not miss 42 because 43
committed first). So an event's sequence number comes from the store's counter row, incremented with
``UPDATE ... RETURNING``: on PostgreSQL the row stays locked until the appending transaction commits,
on SQLite the write transaction already holds the database lock. Either way the next appender waits,
and numbers become visible in order.

:class:`EventBus` wakes the event streams of this process when a commit appended events; streams in
other worker processes or hosts notice by polling (``POLL_INTERVAL``), and on PostgreSQL sooner through
``NOTIFY`` (see :mod:`posdesk.companion.relay`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import event as sa_event
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from posdesk.companion.models import Event, Invoice, StoreEventCounter, utcnow
from posdesk.core.events import Event as CoreEvent
from posdesk.core.events import EventType

POLL_INTERVAL = 1.0  # seconds between checks for events appended by other processes
PG_CHANNEL = "posdesk_events"
# A companion rolled back below a newer one finds event types it does not know in the log. It passes
# over them, as terminals do (EventType.UNKNOWN): in the query, so a run of them never fills a page.
KNOWN_TYPES = tuple(t.value for t in EventType if t is not EventType.UNKNOWN)


def append_event(
    session: Session,
    store_id: str,
    type_: EventType,
    *,
    invoice_id: str | None = None,
    ticket_id: str | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> int:
    """Append an event in ``session``'s transaction and return its sequence number within the store."""
    seq = session.execute(
        update(StoreEventCounter)
        .where(StoreEventCounter.store_id == store_id)
        .values(last_id=StoreEventCounter.last_id + 1)
        .returning(StoreEventCounter.last_id)
    ).scalar_one_or_none()
    if seq is None:
        raise LookupError(f"store {store_id} has no event counter")
    session.add(
        Event(
            store_id=store_id,
            seq=seq,
            type=type_.value,
            invoice_id=invoice_id,
            ticket_id=ticket_id,
            data=data or {},
            created_at=at or utcnow(),
        )
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_notify(:channel, :store)"), {"channel": PG_CHANNEL, "store": store_id}
        )
    session.info.setdefault("posdesk_appended_stores", set()).add(store_id)
    return int(seq)


def append_invoice_event(
    session: Session,
    invoice: Invoice,
    type_: EventType,
    data: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> int:
    """:func:`append_event` about ``invoice``: its store, id and ticket, and its current version in
    ``data`` (unless ``data`` names another ``version``)."""
    return append_event(
        session,
        invoice.store_id,
        type_,
        invoice_id=invoice.id,
        ticket_id=invoice.ticket_id,
        data={"version": invoice.version, **(data or {})},
        at=at,
    )


class NamesItsTicket(Protocol):
    """A row that names its store, invoice and ticket: a tender, a message, a gateway report."""

    @property
    def store_id(self) -> str: ...

    @property
    def invoice_id(self) -> str | None: ...

    @property
    def ticket_id(self) -> str | None: ...


def append_event_about(
    session: Session, about: NamesItsTicket, type_: EventType, data: dict[str, Any]
) -> int:
    """:func:`append_event` about ``about``, under its store, invoice and ticket."""
    return append_event(
        session, about.store_id, type_, invoice_id=about.invoice_id, ticket_id=about.ticket_id, data=data
    )


def events_after(session: Session, store_id: str, after: int, limit: int = 500) -> list[CoreEvent]:
    """The store's events with sequence number > ``after``, oldest first (of the types this version knows)."""
    rows: Sequence[Event] = session.scalars(
        select(Event)
        .where(Event.store_id == store_id, Event.seq > after, Event.type.in_(KNOWN_TYPES))
        .order_by(Event.seq)
        .limit(limit)
    ).all()
    return [to_core(row) for row in rows]


def last_event_id(session: Session, store_id: str) -> int:
    counter = session.get(StoreEventCounter, store_id)
    return counter.last_id if counter else 0


def to_core(row: Event) -> CoreEvent:
    return CoreEvent(
        id=row.seq,
        type=EventType(row.type),
        created_at=row.created_at,
        invoice_id=row.invoice_id,
        ticket_id=row.ticket_id,
        data=dict(row.data or {}),
    )


class EventBus:
    """Wakes waiting event streams of this process after a commit that appended events.

    Thread-safe: commits happen on worker threads; streams on the asyncio loop register a listener
    (:meth:`add_listener`), threads block on :meth:`wait`.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._versions: dict[str, int] = {}
        self._listeners: list[Callable[[str], None]] = []

    def notify(self, store_id: str) -> None:
        with self._condition:
            self._versions[store_id] = self._versions.get(store_id, 0) + 1
            self._condition.notify_all()
            listeners = list(self._listeners)
        for listener in listeners:
            listener(store_id)

    @property
    def listener_count(self) -> int:
        """How many listeners are registered (open event streams of this process)."""
        with self._condition:
            return len(self._listeners)

    def add_listener(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """Call ``listener(store_id)`` on every notify (from the notifying thread); returns the remover.

        Event streams on an asyncio loop use it with ``loop.call_soon_threadsafe`` to wake at once.
        """
        with self._condition:
            self._listeners.append(listener)

        def remove() -> None:
            with self._condition, contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return remove

    def version(self, store_id: str) -> int:
        with self._condition:
            return self._versions.get(store_id, 0)

    def wait(self, store_id: str, seen_version: int, timeout: float) -> int:
        """Block until the store's version passes ``seen_version`` or ``timeout``; return the version."""
        with self._condition:
            self._condition.wait_for(lambda: self._versions.get(store_id, 0) != seen_version, timeout)
            return self._versions.get(store_id, 0)

    def watch(self, sessionmaker_or_session: Any) -> None:
        """Notify after every commit that appended events (hook on a Session class or sessionmaker)."""

        @sa_event.listens_for(sessionmaker_or_session, "after_commit")
        def _after_commit(session: Session) -> None:
            for store_id in session.info.pop("posdesk_appended_stores", set()):
                self.notify(store_id)

        @sa_event.listens_for(sessionmaker_or_session, "after_rollback")
        def _after_rollback(session: Session) -> None:
            session.info.pop("posdesk_appended_stores", None)
