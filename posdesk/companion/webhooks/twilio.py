"""Twilio's requests to the companion: SMS status callbacks and inbound texts (STOP / START).

Both are verified by their ``X-Twilio-Signature`` over the public URL Twilio called and every form
field, before anything is read; a request that does not verify gets 400 and changes nothing. The
public URL is rebuilt from the companion's configured address, not the request line, because behind a
proxy the two differ.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TypeVar

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from posdesk.companion.communicator import (
    INBOUND_PATH,
    STATUS_CALLBACK_PATH,
    MessagingSetup,
    apply_delivery_update_soon,
    record_inbound,
)
from posdesk.messaging.sms import SIGNATURE_HEADER, SmsProvider, parse_inbound, parse_status_callback

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

T = TypeVar("T")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _public_url(request: Request, setup: MessagingSetup) -> str:
    query = request.url.query
    return setup.public_url + request.url.path + (f"?{query}" if query else "")


async def _verified(
    request: Request, parse: Callable[[Mapping[str, object]], T], missing: str
) -> tuple[MessagingSetup, T]:
    """The setup and what ``parse`` reads of the request's form, once its signature verified; refused
    with 404 without SMS, 400 for a bad signature or a form ``parse`` refuses."""
    setup: MessagingSetup = request.app.state.messaging
    sms = setup.channel("sms")
    if not isinstance(sms, SmsProvider):
        raise HTTPException(404, "SMS is not set up on this companion")
    form = await request.form()
    if not sms.verify_request(_public_url(request, setup), form, request.headers.get(SIGNATURE_HEADER)):
        log.warning("Twilio request to %s refused: bad signature", request.url.path)
        raise HTTPException(400, "The request signature did not verify")
    try:
        return setup, parse({key: value for key, value in form.multi_items()})
    except ValueError:
        raise HTTPException(400, missing) from None


@router.post(STATUS_CALLBACK_PATH)
async def status_callback(request: Request) -> Response:
    """A message's new delivery state (queued, sent, delivered, undelivered, failed)."""
    _setup, update = await _verified(request, parse_status_callback, "MessageSid is missing")
    if update is not None:
        applied = await apply_delivery_update_soon(request.app.state.db, update)
        if applied is None:
            log.info("status callback for an unknown message; ignored")
    return Response(status_code=204)


@router.post(INBOUND_PATH)
async def inbound(request: Request) -> Response:
    """A client texted the store's number: STOP withdraws SMS consent, START gives it back."""
    setup, message = await _verified(request, parse_inbound, "MessageSid or From is missing")
    await run_in_threadpool(record_inbound, request.app.state.db, message, setup)
    # Twilio answers STOP/START itself; we reply nothing.
    return Response(EMPTY_TWIML, media_type="text/xml")
