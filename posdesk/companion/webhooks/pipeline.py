"""Gateway webhooks: verify the raw body, store the event once, answer, then apply it.

1. :func:`receive` verifies the signature over the bytes received (never a re-serialised body) with the
   gateway driver, and stores the event under the unique ``(gateway, event_id)``: of several
   concurrent deliveries of one event exactly one row is written; the others are duplicates and are
   answered 200 too, so the gateway stops retrying.
2. :func:`process` applies a stored event in its own transaction through
   :func:`posdesk.companion.payments.apply_gateway_payment` (forward-only, checked against the record).
   An event about an invoice the companion does not know yet is kept, not dropped, and
   :func:`retry_pending` applies it once the invoice arrives.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

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
    """Store ``event`` once; its row id, or None when it was already stored (a duplicate delivery)."""
    try:
        with db.write() as session:
            row = WebhookEvent(
                gateway=gateway,
                event_id=event.event_id,
                event_type=event.type,
                payload={
                    "event": dict(event.payload),
                    "payment": payment_to_wire(event.payment) if event.payment else None,
                },
            )
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError:
        return None


def receive(
    db: Database, directory: GatewayDirectory, gateway: str, raw_body: bytes, headers: Mapping[str, str], store_id: str | None = None
) -> int | None:
    """Verify and store; the stored row's id (None for a duplicate). Raises :class:`BadSignature`."""
    return store(db, gateway, verify(db, directory, gateway, raw_body, headers, store_id))


def process(db: Database, row_id: int) -> bool:
    """Apply one stored event; True when it is done with (applied, ignored or refused as a mismatch)."""
    from posdesk.companion.payments import MismatchError, apply_gateway_payment, payment_from_gateway

    with db.write() as session:
        row = session.get(WebhookEvent, row_id, with_for_update=True, populate_existing=True)
        if row is None or row.processed_at is not None:
            return True
        row.attempts += 1
        raw_payment = (row.payload or {}).get("payment")
        if raw_payment is None:
            row.processed_at = utcnow()  # an event type the companion does not act on
            return True
        result = payment_from_wire(raw_payment)
        payment = payment_from_gateway(session, result, row.gateway)
        if payment is None:
            row.last_error = "the invoice or payment is not known yet; kept for a retry"
            return False
        try:
            apply_gateway_payment(session, payment, result)
        except MismatchError as exc:
            # Never applied, never dropped: kept with its reason for a person to review.
            log.warning("webhook %s/%s refused: %s", row.gateway, row.event_id, exc)
            row.last_error = f"refused: {exc}"
        row.processed_at = utcnow()
        return True


def retry_pending(db: Database, limit: int = 200) -> int:
    """Apply stored events that could not be applied yet (oldest first); how many are now done."""
    with db.read() as session:
        ids = session.scalars(
            select(WebhookEvent.id)
            .where(WebhookEvent.processed_at.is_(None), WebhookEvent.attempts < MAX_ATTEMPTS)
            .order_by(WebhookEvent.received_at, WebhookEvent.id)
            .limit(limit)
        ).all()
    return sum(1 for row_id in ids if process(db, row_id))


def in_process_sink(db: Database, directory: GatewayDirectory) -> Callable[[bytes, Mapping[str, str]], None]:
    """Where the Simulator delivers its signed events: the same verify, store and apply as the route."""

    def deliver(raw_body: bytes, headers: Mapping[str, str]) -> None:
        row_id = receive(db, directory, "simulator", raw_body, headers)
        if row_id is not None:
            process(db, row_id)

    return deliver
