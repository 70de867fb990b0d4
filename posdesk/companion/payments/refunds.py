"""Refunding an online payment (a manager's action on the POS).

A payment's ``refunded_minor`` is the refunded total, and it only grows: the ledger's
:func:`~posdesk.companion.payments.ledger.record_refund` takes a total (the gateway's refunded total,
or a lower bound the companion knows to be true) and moves the record up to it.

Refunds of one payment are made one at a time by every worker and every companion sharing the database:
a refund first takes the payment's claim (:mod:`.refund_claims`, one conditional UPDATE, no transaction
held across the gateway call), so each refund sees what the one before it refunded.
"""

from __future__ import annotations

import threading
import weakref

from posdesk.companion.database import Database
from posdesk.companion.models import Payment, PaymentStatus, Store
from posdesk.companion.payments import ledger, refund_claims
from posdesk.companion.payments.directory import GatewayDirectory
from posdesk.companion.payments.errors import RefundRefused
from posdesk.companion.payments.values import RefundOutcome
from posdesk.core.money import Money
from posdesk.gateways.base import Gateway, GatewayError, NotTaken, Unavailable

_locks: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()
_locks_guard = threading.Lock()


def payment_lock(payment_id: str) -> threading.Lock:
    """This process's lock for one payment's refunds: its threads queue here instead of polling the claim."""
    with _locks_guard:
        lock = _locks.get(payment_id)
        if lock is None:
            lock = _locks[payment_id] = threading.Lock()
        return lock


def refund_payment(
    db: Database, gateways: GatewayDirectory, store_id: str, payment_id: str, amount_minor: int | None
) -> RefundOutcome:
    """Refund ``amount_minor`` (all that is left when None) of a store's payment through its gateway.

    Refunds of one payment are made one at a time across workers (:func:`refund_claims.claimed`): each
    sees what the one before refunded, so concurrent requests never refund more than is left, and one
    that waited too long is refused with 409 ("in progress, try again"). The refund's idempotency key is
    derived from what it asks (the payment, the total refunded before it and its amount), so the same
    key never carries other parameters and a retried call never refunds twice. What the gateway
    confirmed is recorded at once (its refunded total when it says, else a lower bound); the gateway's
    own report brings the exact total.
    """
    with payment_lock(payment_id), refund_claims.claimed(db, payment_id, gateways) as claim:
        return _refund(db, gateways, store_id, payment_id, amount_minor, claim)


def _refund(
    db: Database,
    gateways: GatewayDirectory,
    store_id: str,
    payment_id: str,
    amount_minor: int | None,
    claim: refund_claims.Claim,
) -> RefundOutcome:
    with db.read() as session:
        payment = session.get(Payment, payment_id)
        if payment is None or payment.store_id != store_id:
            raise RefundRefused("No such payment", 404)
        if PaymentStatus(payment.status) not in ledger.REFUNDABLE or not payment.gateway_payment_id:
            raise RefundRefused("Only a successful online payment can be refunded", 409)
        left = payment.amount_minor + payment.tip_minor - payment.refunded_minor
        amount = left if amount_minor is None else amount_minor
        if left <= 0:
            raise RefundRefused("This payment is already refunded in full", 409)
        if not 0 < amount <= left:
            raise RefundRefused(f"The refund must be more than zero and at most {Money(left, payment.currency).format()}", 422)
        store = session.get(Store, store_id)
        assert store is not None
        try:
            gateway: Gateway = gateways.for_store(store)
        except GatewayError as exc:
            raise RefundRefused(exc.message, 502) from None
        if gateway.kind != payment.gateway:
            raise RefundRefused("This payment was taken by another gateway than the store's current one", 409)
        before, currency, ref = payment.refunded_minor, payment.currency, payment.gateway_payment_id
    key = claim.asking(before, amount, refund_claims.hold_for(gateway))  # if this worker dies before recording, whoever claims next looks it up
    try:
        refund = gateway.refund(ref, Money(amount, currency), key)
    except GatewayError as exc:
        if not isinstance(exc, Unavailable) or isinstance(exc, NotTaken):
            claim.answered()  # refused, nothing refunded; an unanswered refund stays to be looked up
        raise RefundRefused(exc.message, 502) from None
    with db.write() as session:
        locked = ledger.lock_payment(session, payment_id)
        if refund.succeeded:
            total = refund.refunded_total or Money(before + refund.amount.minor, currency)
            ledger.record_refund(session, locked, total)
        claim.answered_in(session)
        return RefundOutcome(payment_id, refund.ref, refund.amount, Money(locked.refunded_minor, currency))
