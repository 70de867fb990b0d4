"""A store's day from the companion's records (every terminal's): online payments, tenders taken at
the counters, tips by provider, refunds, and invoices still awaiting payment."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from posdesk.companion.models import Event, Invoice, InvoiceStatus, Payment, PaymentStatus, Store, Tender
from posdesk.companion.payments.balance import IN_STORE
from posdesk.companion.tip_splits import refunded_tips, saved_splits
from posdesk.core.day_summary import DaySummary
from posdesk.core.events import EventType
from posdesk.core.money import Money
from posdesk.core.tip_split import net_of_refunded_tip, payment_split, provider_bases

COUNTED = (PaymentStatus.SUCCEEDED.value, PaymentStatus.REFUNDED.value)
AWAITING = (InvoiceStatus.SENT.value, InvoiceStatus.OPENED.value, InvoiceStatus.PARTIALLY_PAID.value)


def day_bounds(day: date, timezone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), timezone)
    return start, datetime.combine(day + timedelta(days=1), time(0), timezone)


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
    zero = Money.zero(store.currency)
    tenders: dict[str, Money] = {}
    tips = zero
    by_provider: dict[str, Money] = {}

    def add_tip(who: dict[str, Money]) -> None:
        for name, share in who.items():
            by_provider[name] = by_provider.get(name, zero) + share

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
    for payment in payments:
        tenders["online_card"] = tenders.get("online_card", zero) + Money(
            payment.amount_minor, store.currency
        )
        tips = tips + Money(payment.tip_minor, store.currency)
    for tender in counter:
        tenders[tender.method] = tenders.get(tender.method, zero) + Money(tender.amount_minor, store.currency)
        tips = tips + Money(tender.tip_minor, store.currency)
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
        add_tip(net_of_refunded_tip(split, Money(refunded_tip, store.currency)))
    refunds = refunds_made(session, store, start, end)

    awaiting, awaiting_amount, expired = 0, zero, 0
    for row in session.scalars(
        select(Invoice).where(Invoice.store_id == store.id, Invoice.status.in_(AWAITING))
    ):
        if row.expires_at <= now:
            expired += 1
            continue
        awaiting += 1
        awaiting_amount = awaiting_amount + balance_of(session, row, store).balance_due
    expired += len(
        session.scalars(
            select(Invoice.id).where(
                Invoice.store_id == store.id, Invoice.status == InvoiceStatus.EXPIRED.value
            )
        ).all()
    )
    return DaySummary(
        day=day,
        currency=store.currency,
        source="companion",
        tenders=tenders,
        tips=tips,
        tips_by_provider=by_provider,
        refunds=refunds,
        open_balance=awaiting_amount,
        open_tickets=awaiting,
        links_awaiting=awaiting,
        links_awaiting_amount=awaiting_amount,
        links_expired=expired,
    )
