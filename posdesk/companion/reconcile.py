"""Reconciliation: payments still in flight are asked about at their gateway, so a missed webhook (or a
crash between the charge and the commit) never leaves a paid ticket open.

A periodic pass (and one at start-up) takes every payment still ``pending``, ``requires_action`` or
``processing`` a few minutes after it began, looks it up at its gateway (by the gateway's id, or by the
``payment_id`` the companion put in the metadata when the id never got recorded; Cloud9, which keeps no
metadata, by the attempt's idempotency key) and applies what it
finds through :func:`~posdesk.companion.payments.apply_gateway_payment`: forward only, checked against
the record, with the same events as a webhook. A Stripe intent nobody confirmed within
:data:`ABANDONED_AFTER` is canceled, so its attempt ends and nothing can confirm it later; a payment the
gateway has no record of is ended as failed (see :func:`_end_unknown`), so its link can be paid again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from posdesk.companion import payments
from posdesk.companion.database import Database
from posdesk.companion.models import Payment, PaymentStatus, Store, utcnow
from posdesk.companion.payments import GatewayDirectory
from posdesk.companion.stripe_pay import apply_intent, remember_card
from posdesk.gateways.base import Gateway, GatewayError
from posdesk.gateways.cloud9 import Cloud9Gateway
from posdesk.gateways.stripe import StripeGateway

log = logging.getLogger(__name__)

WAITING = (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION, PaymentStatus.PROCESSING)
SETTLE_TIME = timedelta(minutes=3)  # the page and the webhook usually finish a payment well within this
ABANDONED_AFTER = timedelta(hours=1)  # an unconfirmed intent older than this: the client left
LOOK_BACK = timedelta(days=7)  # older payments still waiting are left for a person to look at
INTERVAL_SECONDS = 60.0


def reconcile(
    db: Database,
    directory: GatewayDirectory,
    *,
    settle_time: timedelta = SETTLE_TIME,
    now: datetime | None = None,
) -> int:
    """One pass over waiting payments older than ``settle_time``; how many changed state."""
    now = now or utcnow()
    with db.read() as session:
        waiting = session.execute(
            select(
                Payment.id,
                Payment.store_id,
                Payment.gateway,
                Payment.gateway_payment_id,
                Payment.created_at,
                Payment.invoice_id,
                Payment.kind,
                Payment.idempotency_key,
            )
            .where(
                Payment.status.in_([s.value for s in WAITING]),
                Payment.created_at <= now - settle_time,
                Payment.created_at >= now - LOOK_BACK,
            )
            .order_by(Payment.created_at)
        ).all()
        stores = {
            s.id: s
            for s in session.scalars(select(Store).where(Store.id.in_({row.store_id for row in waiting})))
        }
        for store in stores.values():
            session.expunge(store)
    changed = 0
    gateways: dict[str, Gateway | None] = {}
    for payment_id, store_id, kind, ref, created_at, invoice_id, payment_kind, key in waiting:
        if store_id not in gateways:
            try:
                gateways[store_id] = directory.for_store(stores[store_id])
            except GatewayError as exc:
                log.warning("reconciliation skips store %s: %s", store_id, exc.message)
                gateways[store_id] = None
        gateway = gateways[store_id]
        if gateway is None or gateway.kind != kind:
            continue
        try:
            facts = lookup_metadata(gateway, payment_id, invoice_id, payment_kind, key)
            if reconcile_payment(
                db, gateway, payment_id, ref, abandoned=now - created_at >= ABANDONED_AFTER, metadata=facts
            ):
                changed += 1
        except GatewayError as exc:  # the gateway is down: next pass
            log.warning("reconciling payment %s failed: %s", payment_id, exc.message)
    return changed


def _status(db: Database, payment_id: str) -> PaymentStatus:
    with db.read() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        return PaymentStatus(payment.status)


def lookup_metadata(
    gateway: Gateway, payment_id: str, invoice_id: str, kind: str, idempotency_key: str
) -> dict[str, str]:
    """What :meth:`Gateway.lookup` is given to find a payment whose gateway id was never recorded.

    Stripe and the Simulator search the metadata the companion attached (``payment_id``). Cloud9 keeps
    none of it: its driver derives the Sale's GTRC from the attempt's idempotency key and its
    ``InvoiceNum`` from the invoice, and needs the payment's kind to read a tip charged on its own.
    """
    metadata = {"payment_id": payment_id}
    if isinstance(gateway, Cloud9Gateway):
        metadata.update(idempotency_key=idempotency_key, invoice_id=invoice_id, kind=kind)
    return metadata


def reconcile_payment(
    db: Database,
    gateway: Gateway,
    payment_id: str,
    ref: str | None,
    *,
    abandoned: bool = False,
    metadata: Mapping[str, str] | None = None,
) -> bool:
    """Apply the gateway's view of one payment; True when its state moved.

    ``metadata`` (see :func:`lookup_metadata`; by default the payment's id) goes to the gateway's
    ``lookup``: it finds the payment when ``ref`` was never recorded, and tells Cloud9 what kind it is.
    """
    before = _status(db, payment_id)
    if isinstance(gateway, StripeGateway) and ref:
        state = gateway.intent(ref)
        if state.confirmable and abandoned:
            state = gateway.cancel(ref)
        return apply_intent(db, payment_id, state).status is not before
    metadata = metadata or {"payment_id": payment_id}
    found = gateway.lookup(ref or None, metadata=metadata)
    if found is None:
        return _end_unknown(db, gateway, payment_id, abandoned=abandoned)
    with db.write() as session:
        payment = payments.lock_payment(session, payment_id)
        try:
            moved = payments.apply_gateway_payment(session, payment, found)
        except payments.MismatchError as exc:
            log.warning("reconciliation of payment %s refused: %s", payment_id, exc)
            return False
        remember_card(session, payment, found)
        return moved


def _end_unknown(db: Database, gateway: Gateway, payment_id: str, *, abandoned: bool) -> bool:
    """A waiting payment its gateway has no record of: end it, so the link can be paid again.

    The Simulator's ledger lives in the companion's memory, so after a restart a payment it does not
    know never reached it (no card was charged) and is ended at once. A real gateway may still be
    processing a request we lost track of, so there it ends only after :data:`ABANDONED_AFTER`.
    """
    if gateway.kind == "simulator":
        message = "The payment was interrupted before it completed. No card was charged: please try again."
    elif abandoned:
        message = "The payment did not reach the payment gateway. No card was charged: please try again."
    else:
        return False
    before = _status(db, payment_id)
    payments.fail_payment(db, payment_id, message)
    return _status(db, payment_id) is not before


def install(app: Any) -> None:
    """Called by ``create_app``: a pass at start-up (nothing waits for it), then every minute."""
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        task = asyncio.create_task(_reconcile_forever(app_.state), name="posdesk-reconcile")
        try:
            async with inner(app_) as state:
                yield state
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.router.lifespan_context = lifespan


async def _reconcile_forever(state: Any) -> None:
    settle_time = timedelta(0)  # at start-up: whatever was in flight when the companion stopped
    while True:
        try:
            await run_in_threadpool(
                reconcile, state.db, payments.gateway_directory(state), settle_time=settle_time
            )
        except Exception:  # tried again next pass; never kill the task
            log.exception("reconciliation pass failed")
        settle_time = SETTLE_TIME
        await asyncio.sleep(INTERVAL_SECONDS)
