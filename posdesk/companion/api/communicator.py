"""The Communicator's POS API: send a message to a client, read a client's conversation.

``POST /messages`` is idempotent by the ``message_id`` the terminal made: the outbox may send it again
after a lost answer and gets the same message back. The answer comes at once (``queued``, or
``failed`` with the reason when consent, an address, the channel or a limit refuses it); the send
happens right after, and every later state arrives as a ``message.status`` event.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, HTTPException, Path, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from posdesk.companion.api.common import ID_PATTERN
from posdesk.companion.communicator import (
    MessageConflict,
    MessagingSetup,
    NewMessage,
    accept_message,
    client_messages,
    deliver,
)
from posdesk.companion.deps import DbDep, TerminalDep
from posdesk.core.client import Client
from posdesk.messaging import ChannelKind

router = APIRouter(tags=["messages"])


class ClientBody(BaseModel):
    id: str = Field(pattern=ID_PATTERN)
    first_name: str = Field(max_length=200)
    last_name: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=40)
    email: str = Field(default="", max_length=320)
    sms_consent: bool = False
    email_consent: bool = False


class MessageBody(BaseModel):
    message_id: str = Field(pattern=ID_PATTERN, description="Made on the terminal; the idempotency key")
    client: ClientBody
    channel: ChannelKind
    text: str = Field(min_length=1, max_length=20_000)
    subject: str = Field(default="", max_length=300)
    link: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")
    ticket_id: str | None = Field(default=None, pattern=ID_PATTERN)
    invoice_id: str | None = Field(default=None, pattern=ID_PATTERN)


def _setup(request: Request) -> MessagingSetup:
    setup: MessagingSetup = request.app.state.messaging
    return setup


@router.post("/messages")
async def post_message(
    request: Request, terminal: TerminalDep, db: DbDep, body: MessageBody, background: BackgroundTasks
) -> dict[str, Any]:
    """Send a message to a client by SMS or email. Answers the message's view (``status``, ``reason``)."""
    if not body.text.strip():
        raise HTTPException(status_code=422, detail="A message needs some text")
    setup = _setup(request)
    new = NewMessage(
        message_id=body.message_id,
        client=Client(**body.client.model_dump()),
        channel=body.channel,
        text=body.text,
        subject=body.subject,
        link=body.link,
        ticket_id=body.ticket_id,
        invoice_id=body.invoice_id,
    )
    try:
        view, send_now = await run_in_threadpool(accept_message, db, setup, terminal.store_id, new)
    except MessageConflict:
        raise HTTPException(status_code=404, detail="No such message") from None
    if send_now:
        background.add_task(deliver, db, setup, body.message_id)
    return view


@router.get("/clients/{client_id}/messages")
def get_client_messages(
    terminal: TerminalDep,
    db: DbDep,
    client_id: Annotated[str, Path(pattern=ID_PATTERN)],
) -> dict[str, Any]:
    """The client's conversation in this store, oldest first, each message with its delivery state."""
    return {"messages": client_messages(db, terminal.store_id, client_id)}
