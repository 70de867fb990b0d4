"""The Communicator's message templates and words, without Qt: what the dialog and the Tickets list's
reminders fill in and show."""

from __future__ import annotations

import re
from collections.abc import Mapping

from posdesk.core.client import Client
from posdesk.core.text import MAX_NAME_IN_MESSAGE, single_line
from posdesk.store.client_messages import ClientMessage, MessageChannel, MessageState

# Placeholders: {first_name}, {business}, {amount}, {link}.
INVOICE_SMS = "Hi {first_name}, your invoice from {business} for {amount} is ready. Pay securely here: {link}"
INVOICE_SUBJECT = "Your invoice from {business}: {amount}"
INVOICE_EMAIL = (
    "Hi {first_name},\n\nYour invoice from {business} for {amount} is ready.\n\n"
    "Pay securely online:\n{link}\n\nThank you,\n{business}\n"
)
REMINDER_SMS = "Hi {first_name}, a friendly reminder from {business}: {amount} is still due. Pay here: {link}"
REMINDER_SUBJECT = "A reminder from {business}"
REMINDER_EMAIL = (
    "Hi {first_name},\n\nA friendly reminder that {amount} is still due to {business}.\n\n"
    "You can pay securely online:\n{link}\n\nThank you,\n{business}\n"
)

GREETING_SMS = "Hi {first_name}, "
GREETING_EMAIL = "Hi {first_name},\n\n\n\nThank you,\n{business}\n"

# (name shown, needs a link, {channel: (subject, text)})
TEMPLATES: tuple[tuple[str, bool, dict[MessageChannel, tuple[str, str]]], ...] = (
    ("Invoice", True, {MessageChannel.SMS: ("", INVOICE_SMS), MessageChannel.EMAIL: (INVOICE_SUBJECT, INVOICE_EMAIL)}),
    ("Payment reminder", True, {MessageChannel.SMS: ("", REMINDER_SMS), MessageChannel.EMAIL: (REMINDER_SUBJECT, REMINDER_EMAIL)}),
    ("Blank message", False, {MessageChannel.SMS: ("", GREETING_SMS), MessageChannel.EMAIL: ("A message from {business}", GREETING_EMAIL)}),
)  # fmt: skip

_PLACEHOLDER = re.compile(r"\{(first_name|business|amount|link)\}")

STATE_WORDS = {
    MessageState.QUEUED: "Queued",
    MessageState.SENT: "Sent",
    MessageState.DELIVERED: "Delivered",
    MessageState.FAILED: "Failed",
}


def fill_template(template: str, values: Mapping[str, str]) -> str:
    """One pass over the template: a value is inserted as it is and never read again, so a client named
    ``{link}`` stays that name. An unknown ``{name}`` is left as written for the cashier to fix.

    Names are put on one line without bidi overrides and cut to 60 characters (a 10 kB name must not
    make a 10 kB text message, nor a U+202E make the amount read backwards)."""
    cleaned = {
        key: single_line(value, MAX_NAME_IN_MESSAGE) if key in ("first_name", "business") else value
        for key, value in values.items()
    }
    return _PLACEHOLDER.sub(lambda match: cleaned.get(match.group(1), match.group(0)), template)


def delivery_words(message: ClientMessage) -> str:
    """``"SMS delivered"``, ``"Email failed: <reason>"``: what the ticket and the thread show."""
    words = f"{message.channel.label} {STATE_WORDS[message.state].lower()}"
    return f"{words}: {message.reason}" if message.state is MessageState.FAILED and message.reason else words


def available_channels(client: Client) -> tuple[list[MessageChannel], str]:
    """The channels this client can be messaged on, and why the others are missing."""
    channels: list[MessageChannel] = []
    reasons: list[str] = []
    who = client.first_name or "This client"
    for channel, can_receive, address, address_name, what in (
        (MessageChannel.SMS, client.can_receive_sms, client.phone, "mobile number", "text messages"),
        (MessageChannel.EMAIL, client.can_receive_email, client.email, "email address", "emails"),
    ):
        if can_receive:
            channels.append(channel)
        elif not address:
            reasons.append(f"{who} has no {address_name} on file")
        else:
            reasons.append(f"{who} has not agreed to receive {what}")
    return channels, ("; ".join(reasons) + "." if reasons else "")
