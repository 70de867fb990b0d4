"""Gateway webhooks: verify the raw body, store the event once, answer, then apply it.

1. :func:`receive` verifies the signature over the bytes received (never a re-serialised body) with the
   gateway driver, and stores the event with one ``INSERT ... ON CONFLICT DO NOTHING`` on the unique
   ``(gateway, event_id)``: of several concurrent deliveries of one event exactly one row is written;
   the others are duplicates and are answered 200 too, so the gateway stops retrying.
2. :func:`apply_new` applies stored events in batches, one write transaction per batch (each event in
   its own savepoint), through :func:`posdesk.companion.payments.apply_gateway_payment` (forward-only,
   checked against the record). The route only wakes the app's :class:`Applier`; the sender has its
   answer before anything is applied. :func:`process` applies one event the same way.
3. An event about an invoice the companion does not know yet is kept, not dropped, and
   :func:`retry_pending` applies it once the invoice arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from posdesk.companion.database import Database
from posdesk.companion.models import Store, WebhookEvent, utcnow
from posdesk.gateways.base import (
    BadSignature,
    GatewayEvent,
    Misconfigured,
    payment_from_wire,
    payment_to_wire,
)

if TYPE_CHECKING:
    from posdesk.companion.payments import GatewayDirectory

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 500  # an event still unknown after this many tries is left for a person to look at
COMPANION_WIDE = frozenset({"simulator"})  # gateways whose webhook secret is the companion's, not a store's


class UnknownGateway(LookupError):
    """No such gateway, or no store with it: the route answers 404."""


def verify(
    db: Database, directory: GatewayDirectory, gateway: str, raw_body: bytes, headers: Mapping[str, str], store_id: str | None = None
) -> GatewayEvent:
    """The verified event; :class:`BadSignature` when it does not verify."""
    if store_id is None:
        if gateway not in COMPANION_WIDE:
            raise UnknownGateway(gateway)
        driver = directory.build(gateway, {}, {})
    else:
        with db.read() as session:
            store = session.get(Store, store_id)
            if store is None or store.gateway_kind != gateway:
                raise UnknownGateway(gateway)
            try:
                driver = directory.for_store(store)
            except Misconfigured as exc:
                raise BadSignature(f"the store's gateway is not configured: {exc.message}") from None
    return driver.verify_and_parse_webhook(raw_body, headers)


def store(db: Database, gateway: str, event: GatewayEvent) -> int | None:
    """Store ``event`` once; its row id, or None when it was already stored (a duplicate delivery).

    One statement: the unique ``(gateway, event_id)`` decides, so a duplicate costs no error, no
    rollback and no second write.
    """
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(WebhookEvent)
        .values(
            gateway=gateway,
            event_id=event.event_id,
            event_type=event.type,
            payload={
                "event": dict(event.payload),
                "payment": payment_to_wire(event.payment) if event.payment else None,
            },
            received_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["gateway", "event_id"])
        .returning(WebhookEvent.id)
    )
    with db.write() as session:
        row_id: int | None = session.execute(statement).scalar_one_or_none()
        return row_id


def receive(
    db: Database, directory: GatewayDirectory, gateway: str, raw_body: bytes, headers: Mapping[str, str], store_id: str | None = None
) -> int | None:
    """Verify and store; the stored row's id (None for a duplicate). Raises :class:`BadSignature`."""
    return store(db, gateway, verify(db, directory, gateway, raw_body, headers, store_id))


def _apply(session: Session, row: WebhookEvent) -> bool:
    """Apply one stored event in ``session``; True when it is done with (applied, ignored or refused)."""
    from posdesk.companion.payments import MismatchError, apply_gateway_payment, payment_from_gateway

    # The row's own changes are made last, so they go out in one UPDATE with the final flush.
    raw_payment = (row.payload or {}).get("payment")
    if raw_payment is None:
        row.attempts += 1
        row.processed_at = utcnow()  # an event type the companion does not act on
        return True
    result = payment_from_wire(raw_payment)
    payment = payment_from_gateway(session, result, row.gateway)
    if payment is None:
        row.attempts += 1
        row.last_error = "the invoice or payment is not known yet; kept for a retry"
        return False
    try:
        apply_gateway_payment(session, payment, result)
    except MismatchError as exc:
        # Never applied, never dropped: kept with its reason for a person to review.
        log.warning("webhook %s/%s refused: %s", row.gateway, row.event_id, exc)
        row.last_error = f"refused: {exc}"
    row.attempts += 1
    row.processed_at = utcnow()
    return True


def _apply_rows(session: Session, rows: Sequence[WebhookEvent]) -> int:
    """Apply ``rows`` (locked, unprocessed) each in a savepoint: one failing event never undoes the others."""
    done = 0
    for row in rows:
        try:
            with session.begin_nested():
                done += _apply(session, row)
        except Exception as exc:  # kept, counted and retried by retry_pending like an unknown invoice
            log.exception("applying webhook %s/%s failed", row.gateway, row.event_id)
            row.attempts += 1
            row.last_error = f"error: {type(exc).__name__}: {exc}"[:2000]
    return done


def _pending(session: Session, *, limit: int, after: int | None = None) -> Sequence[WebhookEvent]:
    """Unprocessed events under :data:`MAX_ATTEMPTS`, oldest first, locked (PostgreSQL: other
    appliers skip them). ``after``: only events never tried yet with a larger id (a drain's cursor)."""
    query = select(WebhookEvent).where(WebhookEvent.processed_at.is_(None))
    if after is not None:
        query = query.where(WebhookEvent.attempts == 0, WebhookEvent.id > after).order_by(WebhookEvent.id)
    else:
        query = query.where(WebhookEvent.attempts < MAX_ATTEMPTS).order_by(
            WebhookEvent.received_at, WebhookEvent.id
        )
    return session.scalars(query.limit(limit).with_for_update(skip_locked=True)).all()


def process(db: Database, row_id: int) -> bool:
    """Apply one stored event; True when it is done with (applied, ignored or refused as a mismatch)."""
    with db.write() as session:
        row = session.get(WebhookEvent, row_id, with_for_update=True, populate_existing=True)
        if row is None or row.processed_at is not None:
            return True
        return _apply(session, row)


BATCH = 100  # events applied per write transaction


def apply_new(db: Database, limit: int = BATCH) -> int:
    """Apply stored events never tried yet, ``limit`` per transaction, until none is left; how many."""
    total, after = 0, 0
    while True:
        with db.write() as session:
            rows = _pending(session, limit=limit, after=after)
            if not rows:
                return total
            after = rows[-1].id  # a kept (unknown invoice) event is not taken again until retry_pending
            _apply_rows(session, rows)
            total += len(rows)


def retry_pending(db: Database, limit: int = 200) -> int:
    """Apply stored events that could not be applied yet (oldest first); how many are now done."""
    with db.write() as session:
        return _apply_rows(session, _pending(session, limit=limit))


class Applier:
    """Wakes the app's one applier task (:mod:`posdesk.companion.webhooks.routes`) after a store.

    Made on the event loop; :meth:`wake` may be called from the loop or from a worker thread.
    """

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._woken = asyncio.Event()

    def wake(self) -> None:
        if _running_loop() is self._loop:
            self._woken.set()
        else:
            self._loop.call_soon_threadsafe(self._woken.set)

    async def wait(self, timeout: float) -> None:
        """Until woken or ``timeout``, whichever comes first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), timeout)
        self._woken.clear()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def in_process_sink(db: Database, directory: GatewayDirectory) -> Callable[[bytes, Mapping[str, str]], None]:
    """Where the Simulator delivers its signed events: the same verify, store and apply as the route."""

    def deliver(raw_body: bytes, headers: Mapping[str, str]) -> None:
        row_id = receive(db, directory, "simulator", raw_body, headers)
        if row_id is not None:
            process(db, row_id)

    return deliver
