"""Money taken at a terminal's counter, recorded at the companion so every terminal and the day
summary see it.

A terminal records a tender under its own payment id (through its outbox, so offline tenders arrive
later): stored once in ``tenders`` (the detail: terminal, ticket, method, reference), then a
``tender.recorded`` event tells the other terminals. A tender on an invoiced ticket is also money
toward that invoice, and only the payments ledger moves that
(:func:`posdesk.companion.payments.ledger.record_in_store_tender`, same transaction): the invoice's
balance and what its link charges go down, under the invoice's lock. The ledger's payment has the
tender's id (its idempotency key is ``in_store:<tender id>``). A refund of a tender (cash handed back,
a refund on the counter terminal) moves its refunded total forward only, through the ledger when the
tender is on an invoice, and is told with the same ``payment.refunded`` event an online refund uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from posdesk.companion.events import append_event_about
from posdesk.companion.models import Invoice, Payment, PaymentStatus, Store, Tender
from posdesk.companion.payments import ledger
from posdesk.companion.payments.balance import IN_STORE
from posdesk.companion.payments.errors import MismatchError
from posdesk.companion.refusal import Refused
from posdesk.core.events import EventType
from posdesk.core.money import Money
from posdesk.core.ticket import PaymentMethod

METHODS = frozenset({"cash", "card", "gift_card", "other"})


class TenderRefused(Refused, ValueError):
    """The record cannot be taken."""

    default_status = 422


@dataclass(frozen=True, slots=True)
class TenderRecord:
    """What a terminal sends: the wire form of the ticket's :class:`posdesk.core.ticket.Payment`."""

    id: str
    ticket_id: str
    invoice_id: str | None
    method: str
    amount: Money
    tip: Money
    reference: str
    received_at: datetime

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> TenderRecord:
        try:
            currency = str(body["currency"])
            received = datetime.fromisoformat(str(body["received_at"]))
            record = cls(
                id=str(body["id"])[:64],
                ticket_id=str(body["ticket_id"])[:64],
                invoice_id=str(body["invoice_id"])[:64] if body.get("invoice_id") else None,
                method=str(body["method"]),
                amount=Money(int(body["amount"]), currency),
                tip=Money(int(body.get("tip", 0)), currency),
                reference=str(body.get("reference", ""))[:100],
                received_at=received if received.tzinfo else received.replace(tzinfo=UTC),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise TenderRefused(f"not a tender: {exc}") from None
        if record.method not in METHODS:
            raise TenderRefused(f"unknown tender method {record.method!r}")
        if record.amount.is_negative() or record.tip.is_negative() or (record.amount + record.tip).is_zero():
            raise TenderRefused("a tender takes an amount above zero")
        return record

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "amount": self.amount.minor,
            "tip": self.tip.minor,
            "currency": self.amount.currency,
            "method": self.method,
            "reference": self.reference,
            "received_at": self.received_at.isoformat(),
        }


def record_tender(session: Session, store: Store, terminal_id: str, record: TenderRecord) -> Tender:
    """Store a tender once (the same id again returns the stored one) and tell the other terminals."""
    existing = session.get(Tender, record.id)
    if existing is not None:
        if existing.store_id != store.id:
            raise TenderRefused("No such tender", 404)
        if (existing.amount_minor, existing.method, existing.ticket_id) != (
            record.amount.minor,
            record.method,
            record.ticket_id,
        ):
            raise TenderRefused("This tender id was already used for another tender", 409)
        return existing
    if record.amount.currency != store.currency:
        raise TenderRefused(f"the store takes {store.currency}, not {record.amount.currency}")
    tender = Tender(
        id=record.id,
        store_id=store.id,
        terminal_id=terminal_id,
        ticket_id=record.ticket_id,
        invoice_id=record.invoice_id,
        method=record.method,
        amount_minor=record.amount.minor,
        tip_minor=record.tip.minor,
        currency=record.amount.currency,
        reference=record.reference,
        refunded_minor=0,
        received_at=record.received_at,
    )
    session.add(tender)
    told = {"payment": record.wire(), "terminal_id": terminal_id}
    append_event_about(session, tender, EventType.TENDER_RECORDED, told)
    invoice = invoice_of(session, store, record)
    if invoice is not None:
        try:
            ledger.record_in_store_tender(
                session,
                store_id=store.id,
                invoice_id=invoice.id,
                tender_id=record.id,
                amount=record.amount,
                tip=record.tip,
                method=PaymentMethod(record.method),
            )
        except MismatchError as exc:
            raise TenderRefused(str(exc), 409) from None
    return tender


def invoice_of(session: Session, store: Store, record: TenderRecord) -> Invoice | None:
    """The invoice the tender pays toward: the one it names, else the ticket's latest invoice here (a
    terminal holding a ticket another terminal invoiced does not know the invoice; the companion does)."""
    if record.invoice_id:
        named = session.get(Invoice, record.invoice_id)
        return named if named is not None and named.store_id == store.id else None
    return session.scalars(
        select(Invoice)
        .where(Invoice.store_id == store.id, Invoice.ticket_id == record.ticket_id)
        .order_by(Invoice.created_at.desc())
    ).first()


def ledger_payment(session: Session, tender_id: str) -> Payment | None:
    """The ledger's payment of a tender on an invoice, locked; None for a ticket never invoiced."""
    found = session.scalars(
        select(Payment.id).where(Payment.idempotency_key == f"{IN_STORE}:{tender_id}"[:200])
    ).first()
    return ledger.lock_payment(session, found) if found is not None else None


def refund_tender(
    session: Session,
    store_id: str,
    tender_id: str,
    refunded_total: int,
    refunded_tip_total: int | None = None,
) -> Tender:
    """Raise a tender's refunded total to ``refunded_total`` (a lower total changes nothing); the
    terminal's ``refunded_tip_total`` (what of it was tip) goes to the other terminals with the event."""
    tender = session.get(Tender, tender_id, with_for_update=True)
    if tender is None or tender.store_id != store_id:
        raise TenderRefused("No such tender", 404)
    if not 0 < refunded_total <= tender.amount_minor + tender.tip_minor:
        raise TenderRefused("A refund is more than zero and at most what was taken")
    if refunded_tip_total is not None:
        tip_paid = Money(tender.tip_minor, tender.currency)
        if not 0 <= refunded_tip_total <= refunded_total:
            raise TenderRefused("The tip part of a refund is at least zero and at most the refund", 422)
        if refunded_tip_total > tip_paid.minor:
            raise TenderRefused(f"The tip part of a refund is at most the tip paid, {tip_paid.format()}", 422)
    payment = ledger_payment(session, tender.id)
    if payment is not None:
        ledger.record_refund(session, payment, Money(refunded_total, tender.currency))
        tender.refunded_minor = max(tender.refunded_minor, payment.refunded_minor)
        if payment.review in ledger.REVIEW_OPEN and payment.status == PaymentStatus.REFUNDED.value:
            from posdesk.companion.payments.review import Decision, settled

            settled(session, payment, Decision.GIVEN_BACK)  # all of it handed back: nothing left to review
    elif refunded_total > tender.refunded_minor:
        tender.refunded_minor = refunded_total
        append_event_about(
            session,
            tender,
            EventType.PAYMENT_REFUNDED,
            {"payment_id": tender.id, "amount": refunded_total, "refunded_total": refunded_total}
            | (
                {}
                if refunded_tip_total is None
                else {"refunded_tip_total": min(refunded_tip_total, tender.tip_minor)}
            ),
        )
    return tender
