"""Payments kept for a manager, and the manager's decision on each.

A payment is kept for review (``Payment.review`` ``open``, or ``unknown`` for an unknown outcome, with why) when a gateway's report about it
disagreed with the record, or when its outcome was still unknown an hour after it began
(:func:`~posdesk.companion.payments.ledger.needs_review`). The manager settles it from the POS, and the
gateway is asked first, outside any transaction, so a decision never contradicts where the money is:

- **count** it toward the invoice: only when the gateway confirms it took this payment's amount;
- **refund** it: the gateway took the money and it is given back, never counted (``stale``);
- **dismiss** it as not charged: only when the gateway has no record of a charge (or says it failed).

A payment already counted can be settled as counted (nothing changes) or refunded (the ordinary refund).
Money taken at a counter (cash, the counter card terminal...) goes through no gateway: it is counted,
or **given back** at the counter (a counter refund of what is left of it, recorded by the ledger).
Each decision goes through the ledger (forward only, with its own events) and tells every terminal
``payment.review_settled``.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select

from posdesk.companion.database import Database
from posdesk.companion.events import append_invoice_event
from posdesk.companion.models import Invoice as InvoiceRow
from posdesk.companion.models import Payment, PaymentStatus, Store, Tender
from posdesk.companion.payments import ledger, supersede
from posdesk.companion.payments.balance import IN_STORE
from posdesk.companion.payments.directory import GatewayDirectory
from posdesk.companion.payments.errors import MismatchError, RefundRefused, ReviewRefused
from posdesk.companion.payments.refunds import refund_payment
from posdesk.core.events import EventType
from posdesk.core.money import Money
from posdesk.core.ticket import PaymentMethod
from posdesk.gateways.base import AttemptKeys, ChargeStatus, Gateway, GatewayError, GatewayPayment

log = logging.getLogger(__name__)



class Decision(enum.StrEnum):
    COUNT = "count"
    REFUND = "refund"
    DISMISS = "dismiss"
    GIVEN_BACK = "given_back"  # money taken at the counter, handed back there


SETTLED_AS = {
    Decision.COUNT: "counted",
    Decision.REFUND: "refunded",
    Decision.DISMISS: "dismissed",
    Decision.GIVEN_BACK: "given_back",
}
AT_COUNTER = (Decision.COUNT, Decision.GIVEN_BACK)
TAKEN = (ChargeStatus.SUCCEEDED, ChargeStatus.REFUNDED)
NOT_TAKEN = (ChargeStatus.FAILED, ChargeStatus.CANCELED)
DISMISSED_MESSAGE = "Not charged: the gateway has no record of this payment (settled by a manager)"


@dataclass(frozen=True)
class Kept:
    """One payment kept for review, as the POS lists it."""

    payment_id: str
    invoice_id: str
    ticket_id: str
    status: str
    amount: int
    tip: int
    currency: str
    reference: str
    reason: str
    created_at: str
    method: str  # online_card, or how it was taken at the counter (cash, card...)
    ticket_payment_id: str  # the id the POS has it under on the ticket (a counter tender's own id)

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)


def kept_for_review(db: Database, store_id: str, ticket_id: str | None = None) -> list[Kept]:
    """The store's payments waiting for a manager's decision (of one ticket), oldest first."""
    with db.read() as session:
        query = (
            select(Payment, InvoiceRow.ticket_id)
            .join(InvoiceRow, InvoiceRow.id == Payment.invoice_id)
            .where(Payment.store_id == store_id, Payment.review.in_(ledger.REVIEW_OPEN))
            .order_by(Payment.created_at)
        )
        if ticket_id is not None:
            query = query.where(InvoiceRow.ticket_id == ticket_id)
        return [
            Kept(
                p.id, p.invoice_id, ticket, p.status, p.amount_minor, p.tip_minor, p.currency,
                p.gateway_payment_id or "", p.review_reason, p.created_at.isoformat(),
                p.payment_method_ref if p.gateway == IN_STORE else PaymentMethod.ONLINE_CARD.value,
                ledger.ticket_payment_id(p),
            )
            for p, ticket in session.execute(query).all()
        ]


def settle(
    db: Database, gateways: GatewayDirectory, store_id: str, payment_id: str, decision: Decision
) -> dict[str, Any]:
    """Carry out a manager's ``decision`` on a payment kept for review; the payment as settled."""
    with db.read() as session:
        payment = session.get(Payment, payment_id)
        if payment is None or payment.store_id != store_id:
            raise ReviewRefused("No such payment", 404)
        if payment.review not in ledger.REVIEW_OPEN:
            raise ReviewRefused("This payment is not waiting for a review")
        at_counter = payment.gateway == IN_STORE
        if at_counter != (decision in AT_COUNTER) and decision is not Decision.COUNT:
            raise ReviewRefused(
                "Money taken at the counter is counted or given back at the counter"
                if at_counter
                else "Only money taken at the counter is given back there: refund it instead"
            )
        store = session.get(Store, store_id)
        assert store is not None
        keys = AttemptKeys(payment.id, payment.idempotency_key, payment.invoice_id, payment.kind, payment.gateway_payment_id)
        if PaymentStatus(payment.status) in ledger.REFUNDABLE:
            counted = True
        else:
            counted = False
            kind = payment.gateway
            try:
                gateway = gateways.for_store(store)
            except GatewayError as exc:
                raise ReviewRefused(exc.message, 502) from None
    if counted:  # money the ledger already counts (online or at the counter): keep it, or refund it
        return _settle_counted(db, gateways, store_id, payment_id, decision)
    if gateway.kind != kind:
        raise ReviewRefused("This payment was taken by another gateway than the store's current one")
    found = _ask(gateway, keys)
    if decision is Decision.COUNT:
        return _count(db, payment_id, found)
    if decision is Decision.REFUND:
        return _refund(db, gateway, payment_id, found)
    return _dismiss(db, payment_id, found)


def _ask(gateway: Gateway, keys: AttemptKeys) -> GatewayPayment | None:
    """The attempt as the gateway has it now (by its id, else by what the companion sent)."""
    try:
        if keys.gateway_ref:
            return gateway.lookup(keys.gateway_ref)
        return gateway.find_attempt(keys)
    except GatewayError as exc:
        raise ReviewRefused(f"The payment gateway could not be asked: {exc.message}", 502) from None


def _settle_counted(
    db: Database, gateways: GatewayDirectory, store_id: str, payment_id: str, decision: Decision
) -> dict[str, Any]:
    if decision is Decision.GIVEN_BACK:
        return _given_back(db, payment_id)
    if decision is Decision.DISMISS:
        raise ReviewRefused("This payment was taken and counted toward the invoice: refund it instead of dismissing it")
    if decision is Decision.REFUND:
        try:
            refund_payment(db, gateways, store_id, payment_id, None)
        except RefundRefused as exc:
            if exc.status != 409 or "in full" not in exc.message:
                raise ReviewRefused(exc.message, exc.status) from None
    with db.write() as session:
        return settled(session, _still_open(session, payment_id), decision)


def _given_back(db: Database, payment_id: str) -> dict[str, Any]:
    """The counter handed the money back: a counter refund of what is left of it, and the review closed."""
    with db.write() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        tender = session.get(Tender, ledger.ticket_payment_id(payment), with_for_update=True)  # as a counter refund
        payment = _still_open(session, payment_id)
        ledger.record_refund(session, payment, Money(payment.amount_minor + payment.tip_minor, payment.currency))
        if tender is not None and tender.store_id == payment.store_id:
            tender.refunded_minor = max(tender.refunded_minor, payment.refunded_minor)
        return settled(session, payment, Decision.GIVEN_BACK)


def _count(db: Database, payment_id: str, found: GatewayPayment | None) -> dict[str, Any]:
    if found is None or found.status not in TAKEN:
        raise ReviewRefused("The payment gateway does not confirm that this payment was taken: it cannot be counted")
    with db.write() as session:
        payment = _still_open(session, payment_id)
        payment.review = ledger.REVIEW_OPEN[0]  # the manager settles it, not the gateway's answer
        try:
            ledger.apply_gateway_payment(session, payment, found)
        except MismatchError as exc:
            raise ReviewRefused(f"The gateway's record differs ({exc}): refund it instead of counting it") from None
        return settled(session, payment, Decision.COUNT)


def _refund(db: Database, gateway: Gateway, payment_id: str, found: GatewayPayment | None) -> dict[str, Any]:
    if found is None or found.status not in TAKEN:
        raise ReviewRefused("The payment gateway has no record of this payment being taken: dismiss it instead")
    with db.write() as session:
        payment = _still_open(session, payment_id)
        ledger.keep_out(session, payment, found)
        payment.review = SETTLED_AS[Decision.REFUND]  # the refund's event says why it was given back
    if not supersede.refund_one(db, gateway, payment_id):
        log.warning("payment %s kept out of the invoice; its refund is retried by reconciliation", payment_id)
    with db.write() as session:
        return settled(session, ledger.lock_payment(session, payment_id), Decision.REFUND)


def _dismiss(db: Database, payment_id: str, found: GatewayPayment | None) -> dict[str, Any]:
    if found is not None and found.status in TAKEN:
        raise ReviewRefused("The payment gateway says this payment was taken: count it or refund it")
    if found is not None and found.status not in NOT_TAKEN:
        raise ReviewRefused(f"The payment gateway is still processing this payment ({found.status.value}): try later")
    with db.write() as session:
        payment = _still_open(session, payment_id)
        payment.review = ledger.REVIEW_OPEN[0]  # the manager settles it, not the gateway's answer
        if PaymentStatus(payment.status) in (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION, PaymentStatus.PROCESSING):
            ledger.fail(session, payment, DISMISSED_MESSAGE)
        return settled(session, payment, Decision.DISMISS)


def _still_open(session: Any, payment_id: str) -> Payment:
    """The payment, locked, while its review is still open: whoever settled it while the gateway was
    being asked here (another manager, or the gateway's own late answer) has the last word."""
    payment = ledger.lock_payment(session, payment_id)
    if payment.review not in ledger.REVIEW_OPEN:
        raise ReviewRefused(f"This payment was settled meanwhile ({payment.review}): refresh to see it")
    return payment


def settled(session: Any, payment: Payment, decision: Decision) -> dict[str, Any]:
    """Close the review with ``decision`` and tell every terminal (``payment.review_settled``)."""
    payment.review = SETTLED_AS[decision]
    invoice = session.get(InvoiceRow, payment.invoice_id)
    assert invoice is not None
    settled: dict[str, Any] = {
        "payment_id": payment.id,
        "decision": decision.value,
        "settled_as": payment.review,
        "status": payment.status,
        "amount": payment.amount_minor,
        "tip": payment.tip_minor,
        "refunded_total": payment.refunded_minor,
        "currency": payment.currency,
    }
    append_invoice_event(session, invoice, EventType.PAYMENT_REVIEW_SETTLED, dict(settled))
    log.info("payment %s kept for review settled: %s", payment.id, payment.review)
    return settled

