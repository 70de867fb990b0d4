"""Send reminder, from the Tickets list's unpaid-invoice filters: one click sends the payment reminder
with the link (:mod:`posdesk.pos.reminders`) and the list says what happened."""

from __future__ import annotations

from typing import TYPE_CHECKING

from posdesk.gui.context import PosContext
from posdesk.gui.operations import CollectionOp, OpChanges

if TYPE_CHECKING:
    from posdesk.gui.qt import QLabel
    from posdesk.pos.backend import TicketSummary
    from posdesk.pos.reminders import SentReminder


def send_reminder(ctx: PosContext, summary: TicketSummary, result: QLabel) -> None:
    """Queue the reminder for the ticket's client now; ``result`` shows the outcome or why not."""
    link = ctx.backend.link_url(summary.id, ctx.connection.url)
    result.setText("Sending the reminder…")

    def sent(reminder: SentReminder) -> None:
        result.setText(reminder.words())
        ctx.wake_sync()

    CollectionOp(
        "send reminder",
        lambda: ctx.backend.send_reminder(
            summary.id, link=link, amount=summary.balance_due, business=ctx.settings.business_name,
            locale=ctx.locale,
        ),
        changes=OpChanges(messages=True),
    ).success(sent).failure(lambda error: result.setText(str(error))).run_in_background(ctx)  # fmt: skip
