"""Gateway webhooks: verify the raw body, store the event once, answer, then apply it.

1. :func:`verify` checks the signature over the bytes received (never a re-serialised body) with the
   gateway driver; :func:`store` (one event) and :func:`store_many` (a group of deliveries, one
   transaction) write it with ``INSERT ... ON CONFLICT DO NOTHING`` on the unique
   ``(gateway, event_id)``: of several concurrent deliveries of one event exactly one row is written;
   the others are duplicates and are answered 200 too, so the gateway stops retrying.
   :func:`receive` is verify and store.
2. :func:`apply_some` applies stored events in batches, one write transaction per batch (each event in
   its own savepoint), through :func:`posdesk.companion.payments.apply_gateway_payment` (forward-only,
   checked against the record); :func:`apply_new` until none is left. The route hands the event to the
   app's writer (:mod:`posdesk.companion.webhooks.writer`) and answers once it is committed; the sender
   has its answer before anything is applied. :func:`process` applies one event the same way.
3. An event about an invoice the companion does not know yet is kept, not dropped, and
   :func:`retry_pending` applies it once the invoice arrives.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from posdesk.companion.database import Database
from posdesk.companion.models import Invoice, Store, WebhookEvent, utcnow
from posdesk.companion.payments import gateway_events, ledger_batch, reports
from posdesk.companion.payments.directory import GatewayDirectory
from posdesk.companion.payments.errors import MismatchError
from posdesk.companion.payments.ledger import (
    apply_gateway_payment,
    needs_review,
    payment_from_gateway,
    stale_seen,
)
from posdesk.companion.payments.supersede import refund_stale
from posdesk.gateways import COMPANION_SECRET
from posdesk.gateways.base import (
    AttemptCancelled,
    BadSignature,
    ChargeStatus,
    GatewayEvent,
    GatewayPayment,
    Misconfigured,
    payment_from_wire,
    payment_to_wire,
    refund_from_wire,
    refund_to_wire,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 500  # an event still unknown after this many tries is left for a person to look at


class UnknownGateway(LookupError):
    """No such gateway, or no store with it: the route answers 404."""


def verify(
    db: Database, directory: GatewayDirectory, gateway: str, raw_body: bytes, headers: Mapping[str, str], store_id: str | None = None
) -> GatewayEvent:
    """The verified event, naming the store whose secret verified it (``verified_for``);
    :class:`BadSignature` when it does not verify.

    With no store in the address a gateway with per-store secrets is tried with each of its stores'
    secrets until one verifies (one endpoint for every store of a companion).
    """
    if store_id is None and gateway in COMPANION_SECRET:
        return directory.build(gateway, {}, {}).verify_and_parse_webhook(raw_body, headers)
    with db.read() as session:
        query = select(Store).where(Store.gateway_kind == gateway)
        if store_id is not None:
            query = query.where(Store.id == store_id)
        stores = list(session.scalars(query))
        for store in stores:
            session.expunge(store)
    if not stores:
        raise UnknownGateway(gateway)  # no such store, or none takes this gateway: 404 like any unknown endpoint
    failure = BadSignature(f"no {gateway} store's secret verifies this event")
    for store in stores:
        try:
            driver = directory.for_store(store)
        except Misconfigured as exc:
            failure = BadSignature(f"the store's gateway is not configured: {exc.message}")
            continue
        try:
            return replace(driver.verify_and_parse_webhook(raw_body, headers), verified_for=store.id)
        except BadSignature as exc:
            failure = exc
    raise failure


def _insert_values(gateway: str, event: GatewayEvent) -> dict[str, Any]:
    return {
        "gateway": gateway,
        "event_id": event.event_id,
        "event_type": event.type,
        "payload": {
            "event": dict(event.payload),
            "payment": payment_to_wire(event.payment) if event.payment else None,
            "refund": refund_to_wire(event.refund) if event.refund else None,
            "cancelled": event.cancelled.payment_ref if event.cancelled else None,
            "store_id": event.verified_for,
        },
        "received_at": utcnow(),
        "attempts": 0,
        "last_error": "",
    }


def _insert_statement(dialect: Any) -> Any:
    table = WebhookEvent.__table__
    return (
        dialect.insert(table)
        .on_conflict_do_nothing(index_elements=["gateway", "event_id"])
        .returning(table.c.id, table.c.gateway, table.c.event_id)
    )


# Built once: executed with a list of rows, SQLAlchemy sends them as one multi-row INSERT from a cached
# compilation (a statement with the rows in its VALUES is compiled anew for every group).
_INSERTS = {"postgresql": _insert_statement(postgresql), "sqlite": _insert_statement(sqlite)}


def _insert(session: Session, db: Database, values: Sequence[dict[str, Any]]) -> Any:
    """``INSERT ... ON CONFLICT (gateway, event_id) DO NOTHING RETURNING id, gateway, event_id``: the
    rows stored (a duplicate returns none)."""
    statement = _INSERTS["postgresql" if db.engine.dialect.name == "postgresql" else "sqlite"]
    return session.execute(statement, list(values))


def store(db: Database, gateway: str, event: GatewayEvent) -> int | None:
    """Store ``event`` once; its row id, or None when it was already stored (a duplicate delivery).

    One statement: the unique ``(gateway, event_id)`` decides, so a duplicate costs no error, no
    rollback and no second write.
    """
    with db.write() as session:
        row = _insert(session, db, [_insert_values(gateway, event)]).first()
        return None if row is None else int(row[0])


def store_many(db: Database, events: Sequence[tuple[str, GatewayEvent]]) -> list[int | Exception | None]:
    """Store several deliveries in one write transaction (group commit): per delivery, in order, its new
    row id, None for a duplicate (stored before, or earlier in ``events``), or the exception that kept
    it from being stored.

    One multi-row insert and one commit for all of them. Should that transaction fail, each delivery is
    stored on its own, so one that cannot be stored fails alone and the others are stored as usual.
    """
    first: dict[tuple[str, str], int] = {}
    for index, (gateway, event) in enumerate(events):
        first.setdefault((gateway, event.event_id), index)
    try:
        with db.write() as session:
            values = [_insert_values(*events[index]) for index in first.values()]
            stored = {(gateway, event_id): int(row_id) for row_id, gateway, event_id in _insert(session, db, values)}
    except Exception:
        log.warning("storing %d webhook events together failed; storing each alone", len(first), exc_info=True)
        alone: dict[tuple[str, str], int | Exception | None] = {}
        for key, index in first.items():
            try:
                alone[key] = store(db, *events[index])
            except Exception as exc:  # this delivery gets an error answer; the gateway sends it again
                log.exception("storing webhook %s/%s failed", *key)
                alone[key] = exc
        return [alone[key] if first[key] == index else _duplicate_of(alone[key]) for index, key in _keys(events)]
    return [stored.get(key) if first[key] == index else None for index, key in _keys(events)]


def _keys(events: Sequence[tuple[str, GatewayEvent]]) -> Iterator[tuple[int, tuple[str, str]]]:
    return ((index, (gateway, event.event_id)) for index, (gateway, event) in enumerate(events))


def _duplicate_of(outcome: int | Exception | None) -> Exception | None:
    """A repeat within one group: stored (a duplicate) when the first was, else the first's error."""
    return outcome if isinstance(outcome, Exception) else None


def receive(
    db: Database, directory: GatewayDirectory, gateway: str, raw_body: bytes, headers: Mapping[str, str], store_id: str | None = None
) -> int | None:
    """Verify and store; the stored row's id (None for a duplicate). Raises :class:`BadSignature`."""
    return store(db, gateway, verify(db, directory, gateway, raw_body, headers, store_id))


def _apply(session: Session, row: WebhookEvent) -> bool:
    """Apply one stored event in ``session``; True when it is done with (applied, ignored or kept for
    review). An event touches only the store whose secret verified it (``payload["store_id"]``)."""
    # The row's own changes are made last, so they go out in one UPDATE with the final flush.
    payload = row.payload or {}
    store_id = payload.get("store_id")
    raw_payment = payload.get("payment")
    try:
        if raw_payment is None:
            done = _apply_other(session, row.gateway, payload, store_id)
        else:
            done = _apply_payment(session, row, payment_from_wire(raw_payment), store_id)
    except MismatchError as exc:
        # Never applied, never dropped: kept with its reason, and the manager is told.
        log.warning("webhook %s/%s kept for review: %s", row.gateway, row.event_id, exc)
        row.last_error = f"review: {exc}"
        if exc.store_id and exc.payment is None:
            reports.keep(session, exc.store_id, row, str(exc))  # names no payment of ours: kept on its own
        elif exc.store_id:
            needs_review(session, exc.store_id, exc.payment, str(exc), gateway=row.gateway, event_id=row.event_id)
        done = True
    row.attempts += 1
    if not done:
        row.last_error = "the invoice or payment is not known yet; kept for a retry"
        return False
    row.processed_at = utcnow()
    return True


CARD_WAIT = timedelta(seconds=10)  # how long a success without the card's details waits for them


def _waits_for_card(row: WebhookEvent, result: GatewayPayment, payment: Any) -> bool:
    """A success that names no card (Stripe's intent event) is kept a moment for the event that does
    (``charge.succeeded``), so the ticket shows the card; after :data:`CARD_WAIT` it is applied as is."""
    if result.status is not ChargeStatus.SUCCEEDED or result.card_last4 or payment.card_last4:
        return False
    received = row.received_at if row.received_at.tzinfo else row.received_at.replace(tzinfo=UTC)
    return utcnow() - received < CARD_WAIT


def _apply_payment(session: Session, row: WebhookEvent, result: GatewayPayment, store_id: str | None) -> bool:
    gateway = row.gateway
    try:
        payment = payment_from_gateway(session, result, gateway, store_id=store_id)
    except MismatchError as exc:
        raise _for_review(exc, store_id or result.metadata.get("store_id"), None) from None
    if payment is None or _waits_for_card(row, result, payment):
        return False
    try:
        apply_gateway_payment(session, payment, result)
    except MismatchError as exc:
        raise _for_review(exc, payment.store_id, payment) from None
    return True


def _apply_other(session: Session, gateway: str, payload: dict[str, Any], store_id: str | None) -> bool:
    """A refund update or a cancelled attempt (by the gateway's id, within the verifying store)."""
    try:
        if payload.get("refund") is not None:
            return gateway_events.apply_refund(session, gateway, refund_from_wire(payload["refund"]), store_id) is not None
        if payload.get("cancelled"):
            gateway_events.apply_cancelled(session, gateway, AttemptCancelled(str(payload["cancelled"])), store_id)
    except MismatchError as exc:
        raise _for_review(exc, store_id, None) from None
    return True  # applied, or an event type the companion does not act on


def _for_review(exc: MismatchError, store_id: str | None, payment: Any) -> MismatchError:
    exc.store_id, exc.payment = store_id, payment
    return exc


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


def _load_invoices_and_stores(session: Session, rows: Sequence[WebhookEvent]) -> list[Any]:
    """Read the invoices (and their stores) that ``rows`` are about in one query each, so applying them
    finds them in the session instead of reading one at a time. The caller keeps the list while it
    applies: the session's identity map holds unchanged objects only weakly.

    SQLite only: there the write transaction (``BEGIN IMMEDIATE``) excludes every other writer, so rows
    read up front cannot go stale. On PostgreSQL the invoice must be read under its row lock (a later
    ``get(..., with_for_update=True)`` locks but does not refresh an object already loaded).
    """
    held: list[Any] = []
    invoice_ids = set()
    for row in rows:
        metadata = ((row.payload or {}).get("payment") or {}).get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("invoice_id"), str):
            invoice_ids.add(metadata["invoice_id"])
    if invoice_ids:
        held.extend(session.scalars(select(Invoice).where(Invoice.id.in_(invoice_ids))).all())
        held.extend(session.scalars(select(Store).where(Store.id.in_({invoice.store_id for invoice in held}))).all())
    return held


def _apply_plain_successes(session: Session, rows: Sequence[WebhookEvent]) -> set[int]:
    """Apply the batch's plain "payment succeeded" reports together (:mod:`posdesk.companion.payments.ledger_batch`:
    the ledger's rules, a few statements for all of them); the ids of the rows done. The others are left
    to :func:`_apply`, one at a time."""
    reports: list[ledger_batch.Report] = []
    other_refs: list[tuple[str, str]] = []
    try:
        for row in rows:
            payload = row.payload or {}
            if payload.get("payment") is not None:
                reports.append(
                    ledger_batch.Report(row.id, row.gateway, payment_from_wire(payload["payment"]), payload.get("store_id"))
                )
            elif payload.get("refund") is not None:
                other_refs.append((row.gateway, refund_from_wire(payload["refund"]).payment_ref))
            elif payload.get("cancelled"):
                other_refs.append((row.gateway, str(payload["cancelled"])))
    except Exception:  # a report the ledger cannot read: it says so, one at a time
        return set()
    done = ledger_batch.apply_successes(session, reports, other_refs)
    if done:
        table = cast(Table, WebhookEvent.__table__)
        session.execute(
            update(table).where(table.c.id == bindparam("row_id")).values(attempts=table.c.attempts + 1, processed_at=utcnow()),
            [{"row_id": row_id} for row_id in done],
        )
    return done


def _pending(
    session: Session, *, limit: int, after: int | None = None, tried_only: bool = False
) -> Sequence[WebhookEvent]:
    """Unprocessed events under :data:`MAX_ATTEMPTS`, oldest first, locked (PostgreSQL: other
    appliers skip them). ``after``: only events never tried yet with a larger id (a drain's cursor);
    ``tried_only``: only events tried before (kept for later)."""
    query = select(WebhookEvent).where(WebhookEvent.processed_at.is_(None))
    if after is not None:
        query = query.where(WebhookEvent.attempts == 0, WebhookEvent.id > after).order_by(WebhookEvent.id)
    else:
        lowest = 1 if tried_only else 0
        query = query.where(WebhookEvent.attempts >= lowest, WebhookEvent.attempts < MAX_ATTEMPTS).order_by(
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
    total = 0
    while taken := apply_some(db, limit):
        total += taken
    return total


def apply_some(db: Database, limit: int = BATCH) -> int:
    """Apply up to ``limit`` stored events never tried yet, oldest first, in one write transaction; how
    many were taken (a kept event, e.g. for an unknown invoice, is not taken again until :func:`retry_pending`).

    First without savepoints (two statements and a flush less per event); should any event raise, that
    transaction is rolled back whole and the same events are applied again each in its own savepoint,
    so the failing one is kept with its error and the others commit.
    """
    try:
        with db.write() as session:
            rows = _pending(session, limit=limit, after=0)
            done = _apply_plain_successes(session, rows)
            rest = [row for row in rows if row.id not in done]
            held = _load_invoices_and_stores(session, rest) if db.is_sqlite and rest else []
            for row in rest:
                _apply(session, row)
            del held
            return len(rows)
    except Exception:
        log.info("a webhook batch failed; applying its events one savepoint each", exc_info=True)
    with db.write() as session:
        rows = _pending(session, limit=limit, after=0)
        _apply_rows(session, rows)
        return len(rows)


def retry_pending(db: Database, limit: int = 200, *, tried_only: bool = False) -> int:
    """Apply stored events that could not be applied yet (oldest first); how many are now done.
    ``tried_only``: leave events never tried to :func:`apply_some` (a burst's backlog is not retried
    200 at a time, one savepoint each, in the middle of the burst)."""
    with db.write() as session:
        return _apply_rows(session, _pending(session, limit=limit, tried_only=tried_only))


def in_process_sink(db: Database, directory: GatewayDirectory) -> Callable[[bytes, Mapping[str, str]], None]:
    """Where a driver running inside the companion (the Simulator) delivers its signed events: the same
    verify, store and apply as the route."""

    def deliver(raw_body: bytes, headers: Mapping[str, str]) -> None:
        failure = BadSignature("no in-process gateway verifies this event")
        for gateway in sorted(COMPANION_SECRET):
            try:
                row_id = receive(db, directory, gateway, raw_body, headers)
            except BadSignature as exc:
                failure = exc
                continue
            if row_id is not None:
                process(db, row_id)
                if stale_seen():  # a success for a superseded attempt: refunded now, outside any transaction
                    refund_stale(db, directory)
            return
        raise failure

    return deliver


def sink_factory(db: Database) -> Callable[[GatewayDirectory], Callable[[bytes, Mapping[str, str]], None]]:
    """What the app factory hands the payments package (``app.state.webhook_sink_factory``)."""
    return lambda directory: in_process_sink(db, directory)
