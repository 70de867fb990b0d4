"""What an invoice asks for now: its document priced again, plus what was paid through the companion.

Priced per tender (``docs/pricing.md``): the card surcharge is on card amounts only. The balance due
is what the POS shows as "Balance due" (net + tax less what every payment counted toward it: an online
or counter card payment counts less the surcharge it carried; cash, gift card and other in full). The
link charges :attr:`Balance.due_now`, the part it asks off the balance (:attr:`Balance.due_toward`)
plus the card surcharge on that part only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from posdesk.companion.invoices import version_promotions
from posdesk.companion.models import Invoice as InvoiceRow
from posdesk.companion.models import Payment, Store, utcnow
from posdesk.companion.payments.values import COUNTED
from posdesk.core.invoice import Invoice
from posdesk.core.money import Money
from posdesk.core.pricing import CARD_METHODS, PricedTicket, Promotion, surcharge_within, toward_balance
from posdesk.core.ticket import Payment as TicketPayment
from posdesk.core.ticket import PaymentMethod

IN_STORE = "in_store"  # ``Payment.gateway`` of money taken at the counter (no gateway involved)


@dataclass(frozen=True, slots=True)
class Balance:
    """An invoice's figures now: its document priced again, plus what was paid through the companion."""

    invoice: Invoice
    priced: PricedTicket  # with the payments the document does not list yet
    paid_here: Money  # succeeded payments the document does not list yet (surcharges included)
    paid_total: Money  # every payment's amount (a card payment's surcharge included)
    balance_due: Money  # off the balance, without surcharge (the POS's "Balance due")
    due_toward: Money  # what this link asks off the balance now
    due_now: Money  # what this link charges now: ``due_toward`` and its card surcharge
    tips_paid: Money

    @property
    def currency(self) -> str:
        return self.invoice.currency

    @property
    def tip_base(self) -> Money:
        return self.priced.tip_base

    @property
    def due_surcharge(self) -> Money:
        """The card surcharge on what the link charges now."""
        return self.due_now - self.due_toward

    @property
    def paid_toward(self) -> Money:
        """What every payment counted toward the balance (their surcharges left out)."""
        return self.paid_total - self.priced.surcharge

    @property
    def total_toward(self) -> Money:
        """Net + tax: the total any mix of tenders pays off, before card surcharges."""
        return self.priced.total - self.priced.surcharge

    def toward(self, payment: Payment) -> Money:
        """What ``payment`` counts (or would count) toward the balance."""
        return toward_balance(as_ticket_payment(payment), self.invoice.surcharge_rate)


def as_ticket_payment(payment: Payment) -> TicketPayment:
    """A ledger row as the ticket records it (and the events tell the POS): an online card payment, or the
    counter's own method."""
    method = PaymentMethod.ONLINE_CARD
    if payment.gateway == IN_STORE:
        method = PaymentMethod(payment.payment_method_ref or PaymentMethod.OTHER.value)
    return TicketPayment(
        id=payment.id,
        amount=Money(payment.amount_minor, payment.currency),
        tip=Money(payment.tip_minor, payment.currency),
        method=method,
        received_at=payment.succeeded_at or payment.created_at or utcnow(),
        reference=payment.gateway_payment_id or "",
        card_brand=payment.card_brand,
        card_last4=payment.card_last4,
    )


def balance_of(session: Session, row: InvoiceRow, store: Store) -> Balance:
    counted = session.scalars(
        select(Payment).where(Payment.invoice_id == row.id, Payment.status.in_([s.value for s in COUNTED]))
    ).all()
    return balance_with(row, store, counted)


@dataclass(frozen=True, slots=True)
class Document:
    """An invoice row's document read and priced as it stands (only the payments it lists)."""

    invoice: Invoice
    terms: dict[str, Promotion]
    priced: PricedTicket


def document_of(row: InvoiceRow, store: Store) -> Document:
    invoice = Invoice.from_wire(row.document)
    terms = version_promotions(row.document, store)
    return Document(invoice, terms, invoice.price(terms))


def with_paid(priced: PricedTicket, payments: Sequence[TicketPayment], rate: Decimal) -> PricedTicket:
    """``priced`` (per tender) with ``payments`` counted too: what :meth:`Invoice.price` gives with them
    as ``also_paid``, without pricing the lines again (per tender, payments only add their amounts and
    the surcharges their card amounts carried)."""
    zero = Money.zero(priced.currency)
    carried = sum((surcharge_within(p.amount, rate) for p in payments if p.method in CARD_METHODS), zero)
    surcharge, total = priced.surcharge + carried, priced.total + carried
    paid = priced.paid + sum((p.amount for p in payments), zero)
    return replace(priced, surcharge=surcharge, total=total, paid=paid, balance_due=(total - paid).max(zero))


def balance_with(row: InvoiceRow, store: Store, counted: Sequence[Payment], document: Document | None = None) -> Balance:
    """:func:`balance_of` for a caller that already read the invoice's counted payments (``COUNTED``).
    ``document``: the row's :func:`document_of`, for a caller weighing several payments against one
    invoice (reading and pricing the document is most of the cost)."""
    document = document or document_of(row, store)
    invoice = document.invoice
    listed = {p.id for p in invoice.payments} | {p.reference for p in invoice.payments if p.reference}
    zero = Money.zero(invoice.currency)
    unlisted: list[TicketPayment] = []
    paid_this_version = zero
    tips = zero
    rate = invoice.surcharge_rate
    for payment in counted:
        tips = tips + Money(payment.tip_minor, payment.currency)
        if payment.kind != "invoice":
            continue
        if payment.id in listed or (payment.gateway_payment_id or "") in listed:
            continue  # the document already counts it (a tender listed by the version sent after it)
        as_paid = as_ticket_payment(payment)
        unlisted.append(as_paid)
        if payment.invoice_version == row.version:
            paid_this_version = paid_this_version + toward_balance(as_paid, rate)
    document_priced = document.priced
    priced = with_paid(document_priced, unlisted, rate) if unlisted else document_priced
    paid_here = sum((p.amount for p in unlisted), zero)
    balance_due = priced.balance_due
    asked = invoice.amount_due_now(document_priced) if invoice.amount_requested is None else invoice.amount_requested
    due_toward = (asked - paid_this_version).max(zero).min(balance_due)
    return Balance(
        invoice, priced, paid_here, priced.paid, balance_due, due_toward, invoice.card_charge(due_toward), tips
    )


def is_expired(row: InvoiceRow, now: datetime | None = None) -> bool:
    return (now or utcnow()) >= row.expires_at
