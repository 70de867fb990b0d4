"""Communicator messages in the local cache: the conversation with each client and its delivery states.

A message is written here and queued in the outbox in one transaction (:func:`queue_message`), so it
survives a crash or a missing connection and is sent exactly once: the id made here is the companion's
idempotency key. Its later states come back as ``message.status`` events and move it forward only
(:meth:`MessageRepository.advance`); a failed message is retried as a new message.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from posdesk.core.attributes import field_values, from_attributes
from posdesk.core.client import Client
from posdesk.core.ticket import new_id, utcnow
from posdesk.store.models import MessageRow
from posdesk.store.outbox import Outbox
from posdesk.store.repository import Repository

OUTBOX_KIND = "api.post"
MESSAGES_PATH = "/messages"


class MessageChannel(enum.StrEnum):
    SMS = "sms"
    EMAIL = "email"

    @property
    def label(self) -> str:
        return "SMS" if self is MessageChannel.SMS else "Email"


class MessageState(enum.StrEnum):
    """Where a message is on its way: queued (waiting here or at the provider), sent, delivered, failed."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in (MessageState.DELIVERED, MessageState.FAILED)


_RANK = {MessageState.QUEUED: 0, MessageState.SENT: 1, MessageState.DELIVERED: 2, MessageState.FAILED: 2}


def state_advances(current: MessageState, new: MessageState) -> bool:
    """Forward only: delivered and failed are final; a late "sent" never undoes "delivered"."""
    return not current.is_final and _RANK[new] > _RANK[current]


def client_change_key(client_id: str) -> str:
    """The key reported with changed ticket ids when a client's messages or consent changed (the
    Communicator listens for it)."""
    return f"client:{client_id}"


@dataclass(frozen=True, slots=True)
class ClientMessage:
    id: str
    client_id: str
    ticket_id: str | None
    channel: MessageChannel
    to: str
    subject: str
    text: str
    state: MessageState
    reason: str
    created_at: datetime
    updated_at: datetime


def _message_of(row: MessageRow) -> ClientMessage:
    return from_attributes(
        ClientMessage, row, channel=MessageChannel(row.channel), to=row.to_address, state=MessageState(row.status)
    )


class MessageRepository(Repository):
    """Messages to clients, and their delivery states."""

    def get(self, message_id: str) -> ClientMessage | None:
        return self._get(MessageRow, message_id, _message_of)

    def for_client(self, client_id: str, limit: int = 200) -> list[ClientMessage]:
        """The client's conversation, oldest first (the newest ``limit`` messages)."""
        rows = self.session.scalars(
            select(MessageRow)
            .where(MessageRow.client_id == client_id)
            .order_by(MessageRow.created_at.desc(), MessageRow.id.desc())
            .limit(limit)
            .execution_options(populate_existing=True)
        ).all()
        return [_message_of(row) for row in reversed(rows)]

    def last_for_ticket(self, ticket_id: str) -> ClientMessage | None:
        row = self.session.scalar(
            select(MessageRow)
            .where(MessageRow.ticket_id == ticket_id)
            .order_by(MessageRow.created_at.desc(), MessageRow.id.desc())
            .limit(1)
            .execution_options(populate_existing=True)
        )
        return None if row is None else _message_of(row)

    def add(self, message: ClientMessage) -> None:
        """Store a message unless one with its id exists."""
        values = field_values(
            message,
            leaving=("to", "state"),
            channel=message.channel.value,
            to_address=message.to,
            status=message.state.value,
        )
        self._insert_once(MessageRow, MessageRow.id, **values)

    def advance(self, message_id: str, state: MessageState, reason: str = "") -> bool:
        """Move a message forward to ``state``; False when it is unknown or the move is not forward."""
        row = self.session.get(MessageRow, message_id)
        if row is None or not state_advances(MessageState(row.status), state):
            return False
        row.status = state.value
        row.reason = reason
        row.updated_at = utcnow()
        return True

    def apply_event_data(self, data: dict[str, Any]) -> ClientMessage | None:
        """A ``message.status`` event: advance the message, or learn it (sent from another terminal).
        Returns the message when something changed."""
        message_id = str(data.get("message_id") or "")
        try:
            state = MessageState(str(data.get("status")))
        except ValueError:
            return None
        if not message_id:
            return None
        reason = str(data.get("reason") or "")
        if self.session.get(MessageRow, message_id) is None:
            if not data.get("client_id") or data.get("channel") not in ("sms", "email"):
                return None
            now = utcnow()
            created = data.get("created_at")
            self.add(
                ClientMessage(
                    id=message_id,
                    client_id=str(data["client_id"]),
                    ticket_id=data.get("ticket_id"),
                    channel=MessageChannel(data["channel"]),
                    to=str(data.get("to") or ""),
                    subject=str(data.get("subject") or ""),
                    text=str(data.get("text") or ""),
                    state=state,
                    reason=reason,
                    created_at=datetime.fromisoformat(created) if created else now,
                    updated_at=now,
                )
            )
            return self.get(message_id)
        return self.get(message_id) if self.advance(message_id, state, reason) else None


def queue_message(
    session: Session,
    *,
    client: Client,
    channel: MessageChannel,
    text: str,
    subject: str = "",
    link: str | None = None,
    ticket_id: str | None = None,
    invoice_id: str | None = None,
    message_id: str | None = None,
    now: datetime | None = None,
) -> ClientMessage:
    """Write the message (queued) and its upload to the companion, in the caller's transaction."""
    if not text.strip():
        raise ValueError("Write a message first")
    now = now or utcnow()
    message = ClientMessage(
        id=message_id or new_id(),
        client_id=client.id,
        ticket_id=ticket_id,
        channel=channel,
        to=client.phone if channel is MessageChannel.SMS else client.email,
        subject=subject,
        text=text,
        state=MessageState.QUEUED,
        reason="",
        created_at=now,
        updated_at=now,
    )
    MessageRepository(session).add(message)
    body: dict[str, Any] = {
        "message_id": message.id,
        "client": asdict(client),
        "channel": channel.value,
        "text": text,
        "subject": subject,
        "link": link,
        "ticket_id": ticket_id,
        "invoice_id": invoice_id,
    }
    Outbox(session).enqueue(OUTBOX_KIND, f"message:{message.id}", {"path": MESSAGES_PATH, "body": body}, now=now)
    return message


def apply_communicator_event(session: Session, kind: str, data: dict[str, Any]) -> set[str]:
    """Apply a ``message.status`` or ``client.consent`` event; return the keys of what changed (the
    message's ticket id, and :func:`client_change_key` of its client)."""
    from posdesk.core.client import ClientValidationError
    from posdesk.store.clients import ClientRepository

    changed: set[str] = set()
    if kind == "message.status":
        message = MessageRepository(session).apply_event_data(data)
        if message is not None:
            changed.add(client_change_key(message.client_id))
            if message.ticket_id:
                changed.add(message.ticket_id)
    elif kind == "client.consent":
        client_id = str(data.get("client_id") or "")
        clients = ClientRepository(session)
        current = clients.get(client_id) if client_id else None
        if current is None:
            return changed
        sms = bool(data.get("sms_consent", current.sms_consent))
        email = bool(data.get("email_consent", current.email_consent))
        if (sms, email) != (current.sms_consent, current.email_consent):
            try:
                clients.update_consent(client_id, sms=sms, email=email)
            except ClientValidationError:  # consent for an address this terminal does not have
                clients.update_consent(client_id, sms=sms and bool(current.phone), email=email and bool(current.email))
            changed.add(client_change_key(client_id))
    return changed


def record_refused_message(session: Session, payload: dict[str, Any], detail: Any) -> None:
    """The companion refused a message's upload outright (a bad request): show it as failed."""
    body = payload.get("body") or {}
    message_id = str(body.get("message_id") or "")
    if message_id:
        reason = detail if isinstance(detail, str) else "The companion refused this message."
        MessageRepository(session).advance(message_id, MessageState.FAILED, reason)
