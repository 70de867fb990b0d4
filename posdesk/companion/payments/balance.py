"""What an invoice asks for now: its document priced again, plus what was paid through the companion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from posdesk.companion.invoices import version_promotions
from posdesk.companion.models import Invoice as InvoiceRow
from posdesk.companion.models import Payment, Store, utcnow
from posdesk.companion.payments.values import COUNTED
from posdesk.core.invoice import Invoice
from posdesk.core.money import Money
from posdesk.core.pricing import PricedTicket


@dataclass(frozen=True, slots=True)
class Balance:
    """An invoice's figures now: its document priced again, plus what was paid through the companion."""

    invoice: Invoice
    priced: PricedTicket
    paid_here: Money  # succeeded link payments the document does not list yet
    paid_total: Money
    balance_due: Money
    due_now: Money  # what this link asks for now (the requested amount less what this version got)
    tips_paid: Money

    @property
    def currency(self) -> str:
        return self.invoice.currency

    @property
    def tip_base(self) -> Money:
        return self.priced.tip_base


def balance_of(session: Session, row: InvoiceRow, store: Store) -> Balance:
    counted = session.scalars(
        select(Payment).where(Payment.invoice_id == row.id, Payment.status.in_([s.value for s in COUNTED]))
    ).all()
    return balance_with(row, store, counted)


def balance_with(row: InvoiceRow, store: Store, counted: Sequence[Payment]) -> Balance:
    """:func:`balance_of` for a caller that already read the invoice's counted payments (``COUNTED``)."""
    invoice = Invoice.from_wire(row.document)
    priced = invoice.price(version_promotions(row.document, store))
    listed = {p.id for p in invoice.payments} | {p.reference for p in invoice.payments if p.reference}
    zero = Money.zero(invoice.currency)
    paid_here = zero
    paid_this_version = zero
    tips = zero
    for payment in counted:
        tips = tips + Money(payment.tip_minor, payment.currency)
        if payment.kind != "invoice":
            continue
        amount = Money(payment.amount_minor, payment.currency)
        if payment.id not in listed and (payment.gateway_payment_id or "") not in listed:
            paid_here = paid_here + amount
        if payment.invoice_version == row.version:
            paid_this_version = paid_this_version + amount
    paid_total = priced.paid + paid_here
    balance_due = (priced.total - paid_total).max(zero)
    asked = invoice.amount_due_now(priced) if invoice.amount_requested is None else invoice.amount_requested
    due_now = (asked - paid_this_version).max(zero).min(balance_due)
    return Balance(invoice, priced, paid_here, paid_total, balance_due, due_now, tips)


def is_expired(row: InvoiceRow, now: datetime | None = None) -> bool:
    return (now or utcnow()) >= row.expires_at
