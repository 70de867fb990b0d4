"""A payment reminder in one click from the Tickets list: the "Payment reminder" template, filled in
with the client's name, the balance due and the link, queued on the Communicator's path (the companion
checks consent and limits again before anything leaves).

The channel is the client's text messages when they agreed to them, else email when they agreed to
that; a client who agreed to neither gets nothing, and the cashier is told why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from posdesk.core.money import Money
from posdesk.pos.message_templates import TEMPLATES, available_channels, fill_template
from posdesk.store.client_messages import ClientMessage, MessageChannel

if TYPE_CHECKING:
    from posdesk.store import Database

REMINDER_TEMPLATE = "Payment reminder"


class ReminderRefused(ValueError):
    """No reminder can go to this client; the message says why (no consent, no address, no link)."""


@dataclass(frozen=True, slots=True)
class SentReminder:
    message: ClientMessage
    client_name: str

    def words(self) -> str:
        """What the Tickets list shows: ``"Reminder queued by SMS to Ada Lovelace"``."""
        how = "SMS" if self.message.channel is MessageChannel.SMS else "email"
        return f"Reminder queued by {how} to {self.client_name} ({self.message.to})"


def _template(channel: MessageChannel) -> tuple[str, str]:
    for name, _needs_link, texts in TEMPLATES:
        if name == REMINDER_TEMPLATE:
            return texts[channel]
    raise LookupError(REMINDER_TEMPLATE)


def send_reminder(
    db: Database, ticket_id: str, *, link: str, amount: Money, business: str, locale: str
) -> SentReminder:
    """Queue the reminder for the ticket's client now. Raises :class:`ReminderRefused`."""
    from posdesk.store import ClientRepository, InvoiceRecordRepository, TicketRepository
    from posdesk.store.client_messages import queue_message

    if not link:
        raise ReminderRefused("This ticket has no payment link to remind the client of")
    with db.session() as session:
        ticket = TicketRepository(session).get(ticket_id)
        if ticket is None or ticket.client_id is None:
            raise ReminderRefused("A walk-in ticket has no client to remind")
        client = ClientRepository(session).get(ticket.client_id)
        if client is None:
            raise ReminderRefused("The ticket's client is not on this terminal")
        channels, why_not = available_channels(client)
        if not channels:
            raise ReminderRefused(f"Not sent: {why_not}")
        channel = channels[0]  # a text is read sooner than an email
        subject, text = _template(channel)
        values = {
            "first_name": client.first_name or "there",
            "business": business or "us",
            "amount": amount.format(locale),
            "link": link,
        }
        record = InvoiceRecordRepository(session).get(ticket_id)
        message = queue_message(
            session,
            client=client,
            channel=channel,
            subject=fill_template(subject, values),
            text=fill_template(text, values),
            link=link,
            ticket_id=ticket_id,
            invoice_id=record.invoice_id if record is not None else None,
        )
    return SentReminder(message, client.display_name)
