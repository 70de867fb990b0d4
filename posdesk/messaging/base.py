"""What every Communicator channel shares: the message, the result, delivery states, typed errors.

A channel (email, SMS) takes one :class:`OutgoingMessage` and hands it to a provider. It answers with a
:class:`SendResult` (the provider's reference and the first known state) or raises one of the typed
errors below, each carrying a ``reason`` written for the cashier. Later state changes arrive as
:class:`DeliveryUpdate` values (SMS status callbacks); apply them only when
:func:`message_status_advances` says so, because providers deliver callbacks late and out of order.

Idempotency: ``message_id`` is made on the terminal and travels with every retry. The companion stores
messages by that id and calls :meth:`Channel.send` again only for a message that has no provider
reference yet; channels derive what they can from it (the email ``Message-ID`` header).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from posdesk.core.client import Client
from posdesk.core.text import single_line as single_line  # names in headers and SMS (re-exported)


class ChannelKind(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"


class MessageStatus(enum.StrEnum):
    """Where a message is on its way to the client. Moves forward only (see :func:`message_status_advances`).

    ``queued`` means the provider holds it; ``sent`` that it went on toward the client (SMS: the carrier
    took it; email: the store's SMTP server accepted it, and as email has no delivery receipts an email
    never becomes ``delivered``); ``delivered`` that the handset confirmed it.
    """

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


_STATUS_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.FAILED: 2,
}
FINAL_STATUSES = frozenset({MessageStatus.DELIVERED, MessageStatus.FAILED})


def message_status_advances(current: MessageStatus, new: MessageStatus) -> bool:
    """True when ``new`` is a forward move from ``current``.

    ``delivered`` and ``failed`` are final: a late ``sent`` never undoes ``delivered``, and a ``failed``
    arriving after ``delivered`` is ignored (the handset's receipt is the stronger fact). A retry of a
    failed message is not a status change but a new attempt with a new provider reference; callbacks
    still arriving for the old reference must be matched by that reference and ignored.
    """
    if current in FINAL_STATUSES:
        return False
    return _STATUS_RANK[new] > _STATUS_RANK[current]


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One message to one client, as the companion hands it to a channel.

    ``message_id`` is the terminal-made idempotency key. ``to`` is the address for the channel (an
    email address, or a phone number). ``subject`` is used by email only. ``html`` is optional: the
    email channel makes an HTML part from ``text`` when it is missing. ``link`` is the invoice link,
    if the message carries one (email shows it as a button too).
    """

    message_id: str
    store_id: str
    business_name: str
    client_id: str
    client_name: str
    to: str
    text: str
    subject: str = ""
    html: str | None = None
    link: str | None = None

    def __post_init__(self) -> None:
        if not self.message_id.strip():
            raise ValueError("a message needs a message_id (made on the terminal)")
        if not self.text.strip():
            raise ValueError("a message needs some text")
        if self.link is not None and not self.link.startswith(("https://", "http://")):
            raise ValueError("a message link must be an http(s) address")


@dataclass(frozen=True, slots=True)
class SendResult:
    """The provider took the message: its reference (Twilio ``SM...`` sid, email ``Message-ID``) and state."""

    provider_ref: str
    status: MessageStatus
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryUpdate:
    """A later state of a sent message, reported by the provider (status callback or lookup).

    ``code`` is the provider's own error code when there is one (kept for support), ``reason`` the
    cashier-facing text.
    """

    provider_ref: str
    status: MessageStatus
    reason: str | None = None
    code: str | None = None


class MessagingError(Exception):
    """A message could not be sent. ``reason`` is a sentence fit to show the cashier."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConsentMissing(MessagingError):
    """The client has not agreed to messages on this channel (or withdrew, e.g. replied STOP). Final."""


class InvalidAddress(MessagingError):
    """The address is not one this channel can send to. Final until the client's details are fixed."""


class ChannelUnavailable(MessagingError):
    """The provider could not be reached or asked us to come back later: retry with backoff.

    ``may_have_sent`` is True when the provider might have taken the message before the failure (a
    timeout after the request was written). Twilio has no idempotency key for messages, so a retry then
    risks a second SMS; the caller decides whether to retry or to ask the cashier.
    """

    def __init__(
        self, reason: str, *, retry_after_s: float | None = None, may_have_sent: bool = False
    ) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s
        self.may_have_sent = may_have_sent


class ChannelRejected(MessagingError):
    """The provider refused this message for good (bad number, unsubscribed recipient...). Do not retry.

    ``code`` is the provider's error code when it gave one.
    """

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.code = code


class RateLimited(MessagingError):
    """Too many messages for this client or store right now (see :mod:`posdesk.messaging.limits`)."""

    def __init__(self, reason: str, *, retry_after_s: float) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


@runtime_checkable
class Channel(Protocol):
    """A way to reach a client: email or SMS."""

    @property
    def kind(self) -> ChannelKind: ...

    def normalize_address(self, address: str) -> str:
        """The address in the form the provider wants; raise :class:`InvalidAddress` when it is not usable."""
        ...

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Hand the message to the provider. Raises :class:`InvalidAddress`, :class:`ChannelUnavailable`
        (retry) or :class:`ChannelRejected` (final)."""
        ...


def recipient_address(client: Client, kind: ChannelKind) -> str:
    """The client's address on ``kind``, or raise: :class:`ConsentMissing` when the client has not agreed
    to messages there, :class:`InvalidAddress` when they have no address for it.

    The companion calls this before every send, with the consent it has stored (an inbound STOP
    withdraws SMS consent), so a message to a client without consent never reaches a provider.
    """
    name = single_line(client.display_name, 60) or "This client"
    if kind is ChannelKind.SMS:
        if not client.phone.strip():
            raise InvalidAddress(f"{name} has no mobile number on file.")
        if not client.sms_consent:
            raise ConsentMissing(f"{name} has not agreed to receive text messages.")
        return client.phone.strip()
    if not client.email.strip():
        raise InvalidAddress(f"{name} has no email address on file.")
    if not client.email_consent:
        raise ConsentMissing(f"{name} has not agreed to receive emails.")
    return client.email.strip()
