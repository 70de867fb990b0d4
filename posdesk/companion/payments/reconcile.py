"""Reconciliation: payments still in flight are asked about at their gateway, so a missed webhook (or a
crash between the charge and the commit) never leaves a paid ticket open.

A periodic pass (and one at start-up) takes every payment still ``pending``, ``requires_action`` or
``processing`` a few minutes after it began, looks it up at its gateway (by the gateway's id, or by what
the companion sent when the id never got recorded, :meth:`~posdesk.gateways.base.Gateway.find_attempt`)
and applies what it finds through the ledger: forward only, checked against the record, with the same
events as a webhook. An attempt confirmed on the page that nobody confirmed within
:data:`ABANDONED_AFTER` is cancelled, so its attempt ends and nothing can confirm it later; a payment
the gateway has no record of is never ended as failed while it may have been charged: after an hour it is
reported for review (``payment.needs_review``) and kept waiting (see :func:`_end_unknown`). A refund
whose worker died between asking the gateway and recording the answer is looked up and recorded
(:func:`~posdesk.companion.payments.refund_claims.settle_abandoned`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from posdesk.companion.background import repeat, run_with_app
from posdesk.companion.database import Database
from posdesk.companion.models import Payment, PaymentStatus, Store, utcnow
from posdesk.companion.payments import ledger, refund_claims
from posdesk.companion.payments.charging import fail_payment
from posdesk.companion.payments.directory import GatewayDirectory, gateway_directory
from posdesk.companion.payments.errors import MismatchError
from posdesk.companion.payments.page_confirm import apply_attempt
from posdesk.companion.payments.supersede import refund_stale
from posdesk.gateways.base import AttemptKeys, ConfirmsOnPage, ForgetsOnRestart, Gateway, GatewayError

log = logging.getLogger(__name__)

WAITING = (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION, PaymentStatus.PROCESSING)
SETTLE_TIME = timedelta(minutes=3)  # the page and the webhook usually finish a payment well within this
ABANDONED_AFTER = timedelta(hours=1)  # an unconfirmed attempt older than this: the client left
LOOK_BACK = timedelta(days=7)  # older payments still waiting are left for a person to look at
INTERVAL_SECONDS = 60.0
# Seconds between the passes at start-up over what was in flight when the companion stopped. A payment
# whose gateway id was never recorded is found by searching the gateway, and a search may lag the
# gateway's writes (Stripe: usually seconds, up to a minute), so one look at start-up is not enough.
START_UP_WAITS = (2.0, 3.0, 5.0, 10.0, 20.0, 40.0, 60.0)
UNKNOWN_OUTCOME = (
    "the payment gateway has no record of this attempt an hour after it began, but its answer was lost: "
    "the card may have been charged; check the gateway's dashboard"
)


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
            keys = AttemptKeys(payment_id, key, invoice_id, payment_kind, ref)
            if reconcile_payment(db, gateway, keys, abandoned=now - created_at >= ABANDONED_AFTER):
                changed += 1
        except GatewayError as exc:  # the gateway is down: next pass
            log.warning("reconciling payment %s failed: %s", payment_id, exc.message)
    return changed + refund_stale(db, directory) + refund_claims.settle_abandoned(db, directory)


def _status(db: Database, payment_id: str) -> PaymentStatus:
    with db.read() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        return PaymentStatus(payment.status)


def reconcile_payment(db: Database, gateway: Gateway, keys: AttemptKeys, *, abandoned: bool = False) -> bool:
    """Apply the gateway's view of one payment; True when its state moved."""
    payment_id, ref = keys.payment_id, keys.gateway_ref
    before = _status(db, payment_id)
    if isinstance(gateway, ConfirmsOnPage) and ref:
        state = gateway.sync(ref)
        if state.confirmable and abandoned:
            state = gateway.cancel(ref)
        return apply_attempt(db, payment_id, state).status is not before
    found = gateway.find_attempt(keys)
    if found is None:
        return _end_unknown(db, gateway, payment_id, abandoned=abandoned)
    with db.write() as session:
        payment = ledger.lock_payment(session, payment_id)
        try:
            return ledger.apply_gateway_payment(session, payment, found)
        except MismatchError as exc:
            log.warning("reconciliation of payment %s refused: %s", payment_id, exc)
            return False


def _end_unknown(db: Database, gateway: Gateway, payment_id: str, *, abandoned: bool) -> bool:
    """A waiting payment its gateway has no record of.

    A gateway whose books live in the companion's memory (:class:`ForgetsOnRestart`) never received a
    payment it does not know after a restart (no card was charged): ended as failed at once, so the link
    can be paid again. A real gateway may have taken the money although nobody can find it yet (a lost
    answer, a search that lags), so an unknown outcome is never failed there: after :data:`ABANDONED_AFTER`
    it is handed to a manager (:func:`_hand_to_manager`) and reconciliation keeps looking for it.
    """
    if isinstance(gateway, ForgetsOnRestart) and gateway.forgets_on_restart():
        before = _status(db, payment_id)
        fail_payment(
            db,
            payment_id,
            "The payment was interrupted before it completed. No card was charged: please try again.",
        )
        return _status(db, payment_id) is not before
    if abandoned:
        _hand_to_manager(db, payment_id)
    return False


def _hand_to_manager(db: Database, payment_id: str) -> None:
    """Keep the payment waiting (its outcome is unknown) and report it for review, once."""
    with db.write() as session:
        payment = ledger.lock_payment(session, payment_id)
        if PaymentStatus(payment.status) in WAITING and not ledger.review_raised(session, payment):
            ledger.needs_review(session, payment.store_id, payment, UNKNOWN_OUTCOME, unknown_outcome=True)


def install(app: Any) -> None:
    """Called by ``create_app``: passes at start-up (nothing waits for them, see START_UP_WAITS), then every minute."""
    run_with_app(app, "posdesk-reconcile", _reconcile_forever)


async def _reconcile_forever(app: Any) -> None:
    state = app.state
    started = utcnow()
    start_up_passes = iter(range(len(START_UP_WAITS) + 1))

    async def one_pass() -> None:
        if next(start_up_passes, None) is not None:  # whatever was in flight when the companion stopped
            await run_in_threadpool(
                lambda: reconcile(state.db, gateway_directory(state), settle_time=timedelta(0), now=started)
            )
        else:
            await run_in_threadpool(reconcile, state.db, gateway_directory(state))

    await repeat(
        "reconciliation pass", INTERVAL_SECONDS, one_pass, state.db.health, first_waits=START_UP_WAITS
    )
