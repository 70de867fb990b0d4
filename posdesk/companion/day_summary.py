"""A store's day from the companion's records (every terminal's): online payments, tenders taken at
the counters, tips by provider, refunds, and invoices still awaiting payment."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from posdesk.companion.models import Invoice, InvoiceStatus, Payment, PaymentStatus, Store, Tender
from posdesk.companion.payments.balance import IN_STORE
from posdesk.core.day_summary import DaySummary
from posdesk.core.money import Money
from posdesk.core.tip_split import provider_bases, split_tip

COUNTED = (PaymentStatus.SUCCEEDED.value, PaymentStatus.REFUNDED.value)
AWAITING = (InvoiceStatus.SENT.value, InvoiceStatus.OPENED.value, InvoiceStatus.PARTIALLY_PAID.value)


def day_bounds(day: date, timezone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), timezone)
    return start, datetime.combine(day + timedelta(days=1), time(0), timezone)


def day_summary(session: Session, store: Store, day: date, timezone: ZoneInfo, now: datetime) -> DaySummary:
    from posdesk.companion.payments import balance_of  # the ledger's rule for what an invoice still wants

    start, end = day_bounds(day, timezone)
    zero = Money.zero(store.currency)
    tenders: dict[str, Money] = {}
    tips, refunds = zero, zero
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
    for payment in payments:
        tenders["online_card"] = tenders.get("online_card", zero) + Money(
            payment.amount_minor, store.currency
        )
        tips = tips + Money(payment.tip_minor, store.currency)
        refunds = refunds + Money(payment.refunded_minor, store.currency)
        if payment.tip_minor:
            row = session.get(Invoice, payment.invoice_id)
            balance = balance_of(session, row, store) if row is not None else None
            bases = provider_bases(balance.invoice.lines, balance.priced) if balance is not None else {}
            add_tip(split_tip(Money(payment.tip_minor, store.currency), bases))
    counter = session.scalars(
        select(Tender).where(
            Tender.store_id == store.id, Tender.received_at >= start, Tender.received_at < end
        )
    ).all()
    for tender in counter:
        tenders[tender.method] = tenders.get(tender.method, zero) + Money(tender.amount_minor, store.currency)
        tips = tips + Money(tender.tip_minor, store.currency)
        refunds = refunds + Money(tender.refunded_minor, store.currency)

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
