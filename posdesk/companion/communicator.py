"""The Communicator on the companion: store messages per store, check consent and limits, send, track.

A terminal POSTs a message with an id it made itself (see :mod:`posdesk.companion.api.communicator`), so a
POST resent after a lost answer is the same message. :func:`accept_message` stores it, in one
transaction with its first ``message.status`` event, as ``queued`` -- or as ``failed`` with the reason
when the client has not consented, has no usable address, the channel is not set up, or a limit is
reached (nothing reaches a provider then). :func:`deliver` hands a queued message to its channel after
the answer went out; the provider's later word (SMS status callbacks) arrives through
:func:`apply_delivery_update`. Every state change appends a ``message.status`` event
``{message_id, status, reason, client_id, ticket_id, channel, text, subject, created_at}``, so every
terminal of the store keeps the conversation and its delivery states.

Consent: the POS sends the client's addresses and consent with each message. An SMS opt-out the client
made themselves (a STOP reply, or the provider's "unsubscribed" answer) is kept here and wins over
what a terminal says until the client replies START; each change appends ``client.consent``
``{client_id, sms_consent, email_consent}`` so the POS shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from posdesk.companion.background import repeat, run_with_app
from posdesk.companion.config import CompanionConfig
from posdesk.companion.database import Database
from posdesk.companion.events import append_event, append_event_about
from posdesk.companion.models import ClientContact, Message, Store, utcnow
from posdesk.companion.stores import StoreSettings
from posdesk.core.client import Client, normalize_phone
from posdesk.core.events import EventType
from posdesk.messaging import (
    Channel,
    ChannelKind,
    ChannelRejected,
    ChannelUnavailable,
    ConsentMissing,
    DeliveryUpdate,
    InvalidAddress,
    MessageStatus,
    OutgoingMessage,
    RateLimited,
    channels_for,
    message_status_advances,
    recipient_address,
)
from posdesk.messaging.base import single_line
from posdesk.messaging.limits import MessageLimits
from posdesk.messaging.sms import ConsentChange, InboundMessage, Unsubscribed

log = logging.getLogger(__name__)

STATUS_CALLBACK_PATH = "/webhooks/twilio/status"
INBOUND_PATH = "/webhooks/twilio/inbound"
MAX_ATTEMPTS = 5  # a channel that stays unreachable this many times fails the message
FIRST_RETRY = timedelta(seconds=5)
SEND_LEASE = timedelta(seconds=60)  # a message being sent is not picked up by the retry pass meanwhile
RETRY_INTERVAL = 5.0


class MessageConflict(LookupError):
    """The message id is already used by another store (ids are global: 404 to the asker)."""


@dataclass
class MessagingSetup:
    """The companion's channels (``"email"``, ``"sms"``; absent when not configured) and its limits."""

    channels: dict[str, Channel]
    limits: MessageLimits
    public_url: str

    def channel(self, kind: str) -> Channel | None:
        return self.channels.get(kind)


def make_setup(config: CompanionConfig) -> MessagingSetup:
    """The channels and limits ``config`` describes (see :mod:`posdesk.messaging` for the variables).

    Status callbacks go to this companion's own public address.
    """
    public_url = config.public_url.rstrip("/")
    sms = config.sms and replace(config.sms, status_callback_url=public_url + STATUS_CALLBACK_PATH)
    channels = channels_for(config.email, sms)
    return MessagingSetup(
        channels=channels, limits=MessageLimits(config.message_limits), public_url=public_url
    )


def install(app: Any, config: CompanionConfig) -> None:
    """Called by ``create_app``: ``app.state.messaging`` and a background pass retrying queued messages."""
    app.state.messaging = make_setup(config)
    run_with_app(app, "posdesk-message-retry", _retry_forever)


async def _retry_forever(app: Any) -> None:
    state = app.state
    retry = functools.partial(retry_due, state.db, state.messaging)
    await repeat(
        "retrying queued messages", RETRY_INTERVAL, retry, state.db.health, first_delay=RETRY_INTERVAL
    )


# -- what a terminal sends -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewMessage:
    message_id: str
    client: Client  # as the terminal knows them when it sends (addresses and consent)
    channel: ChannelKind
    text: str
    subject: str = ""
    link: str | None = None
    ticket_id: str | None = None
    invoice_id: str | None = None
    # The client asked for this one themselves (a receipt from the confirmation page): their request is
    # the consent for it, and it changes nothing about the consent the store recorded.
    requested_by_client: bool = False


def message_view(row: Message) -> dict[str, Any]:
    """A message as the POS API shows it."""
    return {
        "message_id": row.id,
        "client_id": row.client_id,
        "ticket_id": row.ticket_id,
        "invoice_id": row.invoice_id,
        "channel": row.channel,
        "to": row.to_address,
        "subject": row.subject,
        "text": row.body,
        "status": row.status,
        "reason": row.reason,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def _status_event(session: Session, row: Message) -> None:
    append_event_about(
        session,
        row,
        EventType.MESSAGE_STATUS,
        {
            "message_id": row.id,
            "status": row.status,
            "reason": row.reason or None,
            "client_id": row.client_id,
            "ticket_id": row.ticket_id,
            "channel": row.channel,
            "to": row.to_address,
            "subject": row.subject,
            "text": row.body,
            "created_at": row.created_at.isoformat(),
        },
    )


def _consent_event(session: Session, contact: ClientContact) -> None:
    append_event(
        session,
        contact.store_id,
        EventType.CLIENT_CONSENT,
        data={
            "client_id": contact.client_id,
            "sms_consent": contact.sms_consent and not contact.sms_opted_out,
            "email_consent": contact.email_consent,
        },
    )


def _phone_key(phone: str, setup: MessagingSetup) -> str:
    """The number as the SMS provider writes it (E.164), so an inbound STOP finds the client."""
    sms = setup.channel(ChannelKind.SMS.value)
    if sms is not None and phone.strip():
        with contextlib.suppress(InvalidAddress):
            return sms.normalize_address(phone)
    return normalize_phone(phone)


def _update_contact(
    session: Session, store_id: str, client: Client, setup: MessagingSetup
) -> ClientContact:
    contact = session.get(ClientContact, (store_id, client.id))
    phone = _phone_key(client.phone, setup)
    if contact is None:
        contact = ClientContact(store_id=store_id, client_id=client.id, sms_opted_out=False)
        session.add(contact)
    elif contact.phone != phone:
        contact.sms_opted_out = False  # a STOP belongs to the number that sent it
    contact.name = client.display_name[:420]
    contact.phone = phone
    contact.email = client.email.strip()[:320]
    contact.sms_consent = client.sms_consent
    contact.email_consent = client.email_consent
    return contact


def _refusal(
    store_id: str, new: NewMessage, contact: ClientContact | None, setup: MessagingSetup
) -> tuple[str, str]:
    """``(address, reason)``: the address to send to, or the reason the message may not go ("" if it may)."""
    name = single_line(new.client.display_name, 60) or "This client"
    kind = new.channel
    if new.requested_by_client:
        new = replace(new, client=replace(new.client, sms_consent=True, email_consent=True))
    elif kind is ChannelKind.SMS and contact is not None and contact.sms_opted_out:
        return (
            "",
            f"{name} replied STOP to the store's texts; they must reply START before they can be texted.",
        )
    client = Client(
        id=new.client.id,
        first_name=new.client.first_name or "Client",
        last_name=new.client.last_name,
        phone=new.client.phone,
        email=new.client.email,
        sms_consent=new.client.sms_consent,
        email_consent=new.client.email_consent,
    )
    try:
        address = recipient_address(client, kind)
    except (ConsentMissing, InvalidAddress) as exc:
        return "", exc.reason
    channel = setup.channel(kind.value)
    if channel is None:
        what = "Text messages are" if kind is ChannelKind.SMS else "Email is"
        return address, f"{what} not set up on this store's companion."
    try:
        address = channel.normalize_address(address)
    except InvalidAddress as exc:
        return address, exc.reason
    if kind is ChannelKind.SMS and len(new.text) > 1600:
        return address, "The message is too long for a text (at most 1600 characters)."
    try:
        setup.limits.acquire(store_id, new.client.id, new.message_id)
    except RateLimited as exc:
        return address, exc.reason
    return address, ""


def accept_message(
    db: Database,
    setup: MessagingSetup,
    store_id: str,
    new: NewMessage,
    admit: Callable[[Session], None] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Store the message (or find it, for a resent POST); return its view and whether to send it now.

    ``admit`` runs in the same write transaction before a new message is stored, and refuses it by
    raising (a cap checked there holds under concurrent requests). Raises :class:`MessageConflict` when
    another store already used this id.
    """
    for attempt in range(2):
        try:
            with db.write() as session:
                existing = session.get(Message, new.message_id)
                if existing is not None:
                    if existing.store_id != store_id:
                        raise MessageConflict(new.message_id)
                    return message_view(existing), False
                if admit is not None:
                    admit(session)
                contact = (
                    None if new.requested_by_client else _update_contact(session, store_id, new.client, setup)
                )
                address, reason = _refusal(store_id, new, contact, setup)
                now = utcnow()
                row = Message(
                    id=new.message_id,
                    store_id=store_id,
                    client_id=new.client.id,
                    ticket_id=new.ticket_id,
                    invoice_id=new.invoice_id,
                    channel=new.channel.value,
                    to_address=address[:320],
                    subject=new.subject[:300],
                    body=new.text,
                    link=new.link,
                    status=MessageStatus.FAILED.value if reason else MessageStatus.QUEUED.value,
                    reason=reason,
                    next_try_at=None if reason else now + SEND_LEASE,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                session.flush()
                _status_event(session, row)
                return message_view(row), not reason
        except IntegrityError:
            if attempt:  # the same id raced in from a second request: the first one's row is there now
                raise
    raise AssertionError("unreachable")


def client_messages(db: Database, store_id: str, client_id: str, limit: int = 200) -> list[dict[str, Any]]:
    """The client's conversation in this store, oldest first (the newest ``limit``)."""
    with db.read() as session:
        rows = session.scalars(
            select(Message)
            .where(Message.store_id == store_id, Message.client_id == client_id)
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(limit)
        ).all()
        return [message_view(row) for row in reversed(rows)]


# -- sending ---------------------------------------------------------------------------------------


def _outgoing(session: Session, row: Message) -> OutgoingMessage:
    store = session.get(Store, row.store_id)
    business = StoreSettings.of(store).business_name if store is not None else ""
    contact = session.get(ClientContact, (row.store_id, row.client_id))
    return OutgoingMessage(
        message_id=row.id,
        store_id=row.store_id,
        business_name=business,
        client_id=row.client_id,
        client_name=contact.name if contact is not None else "",
        to=row.to_address,
        text=row.body,
        subject=row.subject,
        link=row.link if row.link and row.link.startswith(("https://", "http://")) else None,
    )


def _set_status(session: Session, row: Message, status: MessageStatus, reason: str = "") -> bool:
    if not message_status_advances(MessageStatus(row.status), status):
        return False
    row.status = status.value
    row.reason = reason
    row.next_try_at = None
    _status_event(session, row)
    return True


def _opt_out(session: Session, store_id: str, client_id: str) -> None:
    contact = session.get(ClientContact, (store_id, client_id))
    if contact is not None and not contact.sms_opted_out:
        contact.sms_opted_out = True
        _consent_event(session, contact)


async def deliver(db: Database, setup: MessagingSetup, message_id: str) -> None:
    """Hand a queued message to its channel and record the outcome (a no-op for one already handed over)."""
    with db.read() as session:
        row = session.get(Message, message_id)
        if row is None or row.status != MessageStatus.QUEUED.value or row.provider_ref:
            return
        outgoing = _outgoing(session, row)
        channel = setup.channel(row.channel)
    failure: str = ""
    retry = False
    opted_out = False
    result = None
    if channel is None:
        failure = "This channel is no longer set up on the store's companion."
    else:
        try:
            result = await channel.send(outgoing)
        except Unsubscribed as exc:
            failure, opted_out = exc.reason, True
        except ChannelUnavailable as exc:
            if exc.may_have_sent:
                failure = exc.reason + " It may still reach the client: check with them before sending again."
            else:
                failure, retry = exc.reason, True
        except (InvalidAddress, ChannelRejected, ConsentMissing) as exc:
            failure = exc.reason
        except Exception:  # an unexpected error must not leave the message queued forever
            log.exception("sending message %s failed", message_id)
            failure = "The message could not be sent (unexpected error on the companion)."
    await run_in_threadpool(_record_outcome, db, message_id, result, failure, retry, opted_out)


def _record_outcome(
    db: Database, message_id: str, result: Any, failure: str, retry: bool, opted_out: bool
) -> None:
    with db.write() as session:
        row = session.get(Message, message_id)
        if row is None:
            return
        row.attempts += 1
        if result is not None:
            row.provider_ref = result.provider_ref
            row.next_try_at = None
            if result.status is not MessageStatus.QUEUED:
                _set_status(session, row, result.status, result.reason or "")
            return
        if retry and row.attempts < MAX_ATTEMPTS:
            row.reason = failure  # still queued; the reason says why it waits
            row.next_try_at = utcnow() + FIRST_RETRY * (2 ** (row.attempts - 1))
            return
        if opted_out:
            _opt_out(session, row.store_id, row.client_id)
        _set_status(session, row, MessageStatus.FAILED, failure)


async def retry_due(
    db: Database, setup: MessagingSetup, *, now: datetime | None = None, limit: int = 20
) -> int:
    """Send queued messages whose retry time has come (or whose first send was cut off); how many."""
    now = now or utcnow()
    with db.write() as session:
        rows = session.scalars(
            select(Message)
            .where(
                Message.status == MessageStatus.QUEUED.value,
                Message.provider_ref.is_(None),
                Message.next_try_at <= now,
            )
            .order_by(Message.next_try_at)
            .limit(limit)
        ).all()
        ids = [row.id for row in rows]
        for row in rows:
            row.next_try_at = now + SEND_LEASE
    for message_id in ids:
        await deliver(db, setup, message_id)
    return len(ids)


# -- what providers report -------------------------------------------------------------------------


def apply_delivery_update(db: Database, update: DeliveryUpdate) -> bool | None:
    """Apply a provider's delivery update: True if it moved the message on, False if it did not (late or
    repeated), None when no message has that provider reference (yet)."""
    with db.write() as session:
        row = session.scalar(select(Message).where(Message.provider_ref == update.provider_ref))
        if row is None:
            return None
        moved = _set_status(session, row, update.status, update.reason or "")
        if update.code == "21610":
            _opt_out(session, row.store_id, row.client_id)
        return moved


async def apply_delivery_update_soon(
    db: Database, update: DeliveryUpdate, wait_s: float = 3.0
) -> bool | None:
    """:func:`apply_delivery_update`, waiting briefly for a message whose send answer is still on its way
    (a provider may call back before our own request has returned the reference)."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        applied = await run_in_threadpool(apply_delivery_update, db, update)
        if applied is not None or asyncio.get_running_loop().time() >= deadline:
            return applied
        await asyncio.sleep(0.1)


def record_inbound(db: Database, inbound: InboundMessage, setup: MessagingSetup) -> int:
    """Record the consent change of an inbound STOP/START for every client with that number; how many
    clients changed. A text without a keyword changes nothing (it is not a conversation channel yet)."""
    if inbound.consent_change is None:
        return 0
    number = _phone_key(inbound.from_address, setup)
    changed = 0
    with db.write() as session:
        contacts = session.scalars(select(ClientContact).where(ClientContact.phone == number)).all()
        for contact in contacts:
            if inbound.consent_change is ConsentChange.WITHDRAWN and not contact.sms_opted_out:
                contact.sms_opted_out = True
            elif inbound.consent_change is ConsentChange.GIVEN and (
                contact.sms_opted_out or not contact.sms_consent
            ):
                contact.sms_opted_out = False
                contact.sms_consent = True  # START is the client's own consent
            else:
                continue
            _consent_event(session, contact)
            changed += 1
    return changed


async def send_receipt_email(
    db: Database,
    setup: MessagingSetup,
    *,
    store_id: str,
    payment_id: str,
    to: str,
    subject: str,
    text: str,
    client_id: str | None = None,
    client_name: str = "",
    ticket_id: str | None = None,
    invoice_id: str | None = None,
    admit: Callable[[Session], None] | None = None,
) -> dict[str, Any]:
    """The confirmation page's "email me a receipt", through the same email channel and limits as every
    message, stored in the client's conversation (walk-ins under ``"walk-in"``). One receipt per payment
    and address: asking again returns the first one. Returns the message's view (``status``, ``reason``).
    """
    key = hashlib.sha256(f"{payment_id}\n{to.strip().lower()}".encode()).hexdigest()[:32]
    first, _, last = client_name.strip().partition(" ")
    new = NewMessage(
        message_id=f"receipt-{key}",
        client=Client(
            id=client_id or "walk-in", first_name=first or "Client", last_name=last, email=to
        ),
        channel=ChannelKind.EMAIL,
        text=text,
        subject=subject,
        ticket_id=ticket_id,
        invoice_id=invoice_id,
        requested_by_client=True,
    )
    view, send_now = await run_in_threadpool(accept_message, db, setup, store_id, new, admit)
    if send_now:
        await deliver(db, setup, new.message_id)
        with db.read() as session:
            row = session.get(Message, new.message_id)
            if row is not None:
                view = message_view(row)
    return view
