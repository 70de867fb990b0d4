"""Refunding an online payment (a manager's action on the POS) and recording refunds once.

A payment's ``refunded_minor`` is the refunded total, and it only grows: :func:`record_refund` takes a
total (Stripe's ``charge.amount_refunded``, or a lower bound the companion knows to be true) and moves
the record up to it, appending one ``payment.refunded`` event per move. Totals instead of deltas make
duplicated, reordered and late reports harmless.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from posdesk.companion.database import Database
from posdesk.companion.events import append_event
from posdesk.companion.models import Invoice as InvoiceRow
from posdesk.companion.models import Payment, PaymentStatus, Store
from posdesk.companion.payments import GatewayDirectory, lock_payment
from posdesk.core.events import EventType
from posdesk.core.money import Money
from posdesk.gateways.base import GatewayError

log = logging.getLogger(__name__)

REFUNDABLE = (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)


class RefundRefused(Exception):
    """The refund cannot be made; ``message`` is for the manager, ``status`` the HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    payment_id: str
    refund_ref: str
    amount: Money
    refunded_total: Money


def record_refund(session: Session, payment: Payment, refunded_total: Money) -> bool:
    """Move ``payment`` (locked by the caller) up to ``refunded_total``; True when it moved.

    Fully refunded makes the payment ``refunded``. A total above what was paid is refused (logged)
    rather than believed.
    """
    paid = payment.amount_minor + payment.tip_minor
    total = refunded_total.minor
    if refunded_total.currency != payment.currency or total > paid:
        log.warning(
            "refund report for payment %s refused: %s of %s %s", payment.id, total, paid, payment.currency
        )
        return False
    if total <= payment.refunded_minor or PaymentStatus(payment.status) not in REFUNDABLE:
        return False
    amount = total - payment.refunded_minor
    payment.refunded_minor = total
    if total == paid:
        payment.status = PaymentStatus.REFUNDED.value
    invoice = session.get(InvoiceRow, payment.invoice_id)
    assert invoice is not None
    append_event(
        session,
        payment.store_id,
        EventType.PAYMENT_REFUNDED,
        invoice_id=invoice.id,
        ticket_id=invoice.ticket_id,
        data={
            "version": invoice.version,
            "payment_id": payment.id,
            "amount": amount,
            "refunded_total": total,
        },
    )
    return True


def refund_payment(
    db: Database, gateways: GatewayDirectory, store_id: str, payment_id: str, amount_minor: int | None
) -> RefundOutcome:
    """Refund ``amount_minor`` (all that is left when None) of a store's payment through its gateway.

    The refund's idempotency key is the payment and the refunded total it leads to, so a retried
    request never refunds twice. What the gateway confirmed is recorded at once as a lower bound of
    the refunded total; the gateway's own report (``charge.refunded``) brings the exact total.
    """
    with db.read() as session:
        payment = session.get(Payment, payment_id)
        if payment is None or payment.store_id != store_id:
            raise RefundRefused("No such payment", 404)
        if PaymentStatus(payment.status) not in REFUNDABLE or not payment.gateway_payment_id:
            raise RefundRefused("Only a successful online payment can be refunded", 409)
        left = payment.amount_minor + payment.tip_minor - payment.refunded_minor
        amount = left if amount_minor is None else amount_minor
        if left <= 0:
            raise RefundRefused("This payment is already refunded in full", 409)
        if not 0 < amount <= left:
            raise RefundRefused(
                f"The refund must be more than zero and at most {Money(left, payment.currency).format()}", 422
            )
        store = session.get(Store, store_id)
        assert store is not None
        gateway = gateways.for_store(store)
        if gateway.kind != payment.gateway:
            raise RefundRefused("This payment was taken by another gateway than the store's current one", 409)
        before, currency, ref = payment.refunded_minor, payment.currency, payment.gateway_payment_id
    key = f"refund:{payment_id}:to{before + amount}"
    try:
        refund = gateway.refund(ref, Money(amount, currency), key)
    except GatewayError as exc:
        raise RefundRefused(exc.message, 502) from None
    with db.write() as session:
        locked = lock_payment(session, payment_id)
        if refund.succeeded:
            record_refund(session, locked, Money(before + refund.amount.minor, currency))
        return RefundOutcome(payment_id, refund.ref, refund.amount, Money(locked.refunded_minor, currency))
