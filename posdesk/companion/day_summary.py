"""A store's day from the companion's records (every terminal's): online payments, tenders taken at
the counters, tips by provider, refunds, and invoices still awaiting payment."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from posdesk.companion.models import Event, Invoice, InvoiceStatus, Payment, PaymentStatus, Store, Tender
from posdesk.companion.payments.balance import IN_STORE
from posdesk.companion.tip_splits import refunded_tips, saved_splits
from posdesk.core.day_summary import DayCount, DaySummary, day_bounds
from posdesk.core.events import EventType
from posdesk.core.money import Money
from posdesk.core.tip_split import net_of_refunded_tip, payment_split, provider_bases

COUNTED = (PaymentStatus.SUCCEEDED.value, PaymentStatus.REFUNDED.value)
AWAITING = (InvoiceStatus.SENT.value, InvoiceStatus.OPENED.value, InvoiceStatus.PARTIALLY_PAID.value)


def refunds_made(session: Session, store: Store, start: datetime, end: datetime) -> Money:
    """What was refunded between ``start`` and ``end``, online and at the counters, on the day each
    refund was made (a payment taken yesterday and refunded today counts today). Read from the
    ``payment.refunded`` events: each says a payment's refunded total after it, and totals only grow."""
    before: dict[str, int] = {}
    by_end: dict[str, int] = {}
    rows = session.execute(
        select(Event.created_at, Event.data).where(
            Event.store_id == store.id, Event.type == EventType.PAYMENT_REFUNDED.value, Event.created_at < end
        )
    )
    for created_at, data in rows:
        payment_id, total = str(data.get("payment_id")), int(data.get("refunded_total", 0))
        by_end[payment_id] = max(by_end.get(payment_id, 0), total)
        if created_at < start:
            before[payment_id] = max(before.get(payment_id, 0), total)
    return Money(sum(total - before.get(p, 0) for p, total in by_end.items()), store.currency)


def day_summary(session: Session, store: Store, day: date, timezone: ZoneInfo, now: datetime) -> DaySummary:
    from posdesk.companion.payments import balance_of  # the ledger's rule for what an invoice still wants

    start, end = day_bounds(day, timezone)
    count = DayCount(day, store.currency)
    payments = session.scalars(
        select(Payment).where(
            Payment.store_id == store.id,
            Payment.status.in_(COUNTED),
            Payment.gateway != IN_STORE,  # counted below from the tenders' detail
            Payment.succeeded_at >= start,
            Payment.succeeded_at < end,
        )
    ).all()
    counter = session.scalars(
        select(Tender).where(
            Tender.store_id == store.id, Tender.received_at >= start, Tender.received_at < end
        )
    ).all()
    tipped = [(p.id, p.invoice_id, p.tip_minor) for p in payments if p.tip_minor] + [
        (t.id, t.invoice_id, t.tip_minor) for t in counter if t.tip_minor
    ]
    splits = saved_splits(session, store.id, [payment_id for payment_id, _, _ in tipped])
    # What of each tip was refunded: as a terminal said, else what the refunds took beyond the amount
    # (a refund whose parts nobody said comes off the amount first, as the terminals count it).
    said = refunded_tips(session, store.id, splits.keys() | {payment_id for payment_id, _, _ in tipped})
    beyond_amount = {p.id: max(p.refunded_minor - p.amount_minor, 0) for p in payments if p.tip_minor} | {
        t.id: max(t.refunded_minor - t.amount_minor, 0) for t in counter if t.tip_minor
    }
    taken = [("online_card", p.amount_minor, p.tip_minor) for p in payments] + [
        (t.method, t.amount_minor, t.tip_minor) for t in counter
    ]
    for method, amount, tip in taken:
        count.take(method, Money(amount, store.currency), Money(tip, store.currency))
    for payment_id, invoice_id, tip_minor in tipped:
        # The manager's split when saved; else in proportion to the invoice's services (a counter
        # tender without an invoice: the companion does not know its lines, so "Unassigned").
        bases: dict[str, Money] = {}
        if payment_id not in splits and invoice_id is not None:
            row = session.get(Invoice, invoice_id)
            balance = balance_of(session, row, store) if row is not None else None
            bases = provider_bases(balance.invoice.lines, balance.priced) if balance is not None else {}
        split = payment_split(Money(tip_minor, store.currency), splits.get(payment_id), bases)
        refunded_tip = min(max(said.get(payment_id, 0), beyond_amount.get(payment_id, 0)), tip_minor)
        count.share_tip(net_of_refunded_tip(split, Money(refunded_tip, store.currency)))
    count.refunds = refunds_made(session, store, start, end)

    for row in session.scalars(
        select(Invoice).where(Invoice.store_id == store.id, Invoice.status.in_(AWAITING))
    ):
        if row.expires_at <= now:
            count.links_expired += 1
        else:
            count.awaiting_link(balance_of(session, row, store).balance_due)
    count.links_expired += len(
        session.scalars(
            select(Invoice.id).where(
                Invoice.store_id == store.id, Invoice.status == InvoiceStatus.EXPIRED.value
            )
        ).all()
    )
    # The companion knows a ticket's balance through its invoice only: its open tickets are the links
    # awaiting payment.
    count.open_tickets, count.open_balance = count.links_awaiting, count.links_awaiting_amount
    return count.summary("companion")
