"""The day summary from this terminal's own cache: the fallback when the companion cannot be asked.

It sees what this terminal knows: its own tickets and those other terminals' events brought here. The
dialog says which source the figures come from.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from posdesk.core.day_summary import DayCount, DaySummary, day_bounds
from posdesk.core.pricing import price_ticket
from posdesk.core.tip_split import net_of_refunded_tip, payment_split, provider_bases
from posdesk.pos.tenders import LIVE_LINK

if TYPE_CHECKING:
    from posdesk.store import Database, TerminalSettings

LOOK_AT = 5000  # tickets: a day's fallback figures, not an archive report


def local_day_summary(
    db: Database, day: date, timezone: ZoneInfo, settings: TerminalSettings, now: datetime
) -> DaySummary:
    from posdesk.store import InvoiceRecordRepository, TicketRepository

    start, end = day_bounds(day, timezone)
    count = DayCount(day, settings.currency)
    promotions = settings.promotions_by_code()
    with db.reading() as session:
        tickets = TicketRepository(session).list((), "", limit=LOOK_AT)
        records = InvoiceRecordRepository(session)
        for ticket in tickets:
            if ticket.currency != settings.currency:
                continue
            priced = price_ticket(
                ticket, promotions=promotions, surcharge_rate=settings.surcharge_rate, per_tender=True
            )
            for payment in ticket.payments:
                # A refund counts on the day it was made, whatever day the payment was taken.
                for refund in payment.refunds:
                    if start <= refund.at < end:
                        count.refunds = count.refunds + refund.total
                taken_today = start <= payment.received_at < end
                if taken_today and not payment.refunds and payment.refunded is not None:
                    count.refunds = count.refunds + payment.refunded  # recorded before refunds kept their day
                if not taken_today:
                    continue
                count.take(payment.method.value, payment.amount, payment.tip)
                if payment.tip.is_positive():
                    bases = provider_bases(ticket.lines, priced)
                    split = payment_split(payment.tip, payment.tip_split, bases)
                    count.share_tip(net_of_refunded_tip(split, payment.refunded_of_tip))
            if not ticket.is_closed and priced.balance_due.is_positive() and ticket.number:
                count.open_tickets += 1
                count.open_balance = count.open_balance + priced.balance_due
            record = records.get(ticket.id)
            if record is not None and not ticket.is_closed and record.link_status in LIVE_LINK:
                if record.expires_at <= now:
                    count.links_expired += 1
                else:
                    count.awaiting_link(priced.balance_due)
            elif record is not None and not ticket.is_closed and record.link_status.value == "expired":
                count.links_expired += 1
    return count.summary("terminal")


def companion_day_summary(companion_url: str, credential: str, day: date, timezone: ZoneInfo) -> DaySummary:
    """The store's figures from the companion (every terminal). Raises ``CompanionError``."""
    from posdesk.sync.client import BlockingCompanion

    with BlockingCompanion(companion_url, credential) as companion:
        return DaySummary.from_wire(companion.get("/day-summary", day=day.isoformat(), tz=timezone.key))


def summary_csv(summary: DaySummary, locale: str = "en_US") -> str:
    """The summary as CSV: a heading naming the day and the source, then section, item, amount rows."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    source = "all terminals (companion)" if summary.source == "companion" else "this terminal only"
    writer.writerow(["Day summary", summary.day.isoformat(), source, summary.currency])
    writer.writerow(["Section", "Item", "Amount"])
    writer.writerows(summary.rows(locale))
    return out.getvalue()
