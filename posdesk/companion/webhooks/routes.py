"""``POST /webhooks/{gateway}`` (a companion-wide secret, the Simulator; or any store's secret of that
gateway, tried in turn) and ``POST /webhooks/{gateway}/{store_id}`` (that store's webhook secret).

Answers fast: verify (on the event loop when the secret is the companion's; a store's secret needs a
database read, done in the thread pool), hand the event to the app's writer, which stores it with the
other deliveries waiting (one transaction, see :mod:`posdesk.companion.webhooks.writer`), and answer
200 after that commit; the writer applies stored events between groups. Anything that does not verify
gets 400 and writes nothing; an event that could not be stored gets 503, so the gateway sends it again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from posdesk.companion.background import run_with_app
from posdesk.companion.database import Database
from posdesk.companion.payments import gateway_directory
from posdesk.companion.payments.gateway_events import apply_method_saved
from posdesk.companion.payments.ledger import stale_seen
from posdesk.companion.payments.supersede import refund_stale
from posdesk.companion.webhooks import cloud9, pipeline
from posdesk.companion.webhooks.writer import Writer, WriterStopped
from posdesk.gateways import COMPANION_SECRET, DRIVERS
from posdesk.gateways.base import BadSignature

router = APIRouter(include_in_schema=False)
router.include_router(cloud9.router)  # Cloud9's unsigned card-token callbacks (hints, not events)
log = logging.getLogger(__name__)


def _apply(db: Database) -> None:
    """Without a running writer (an app served without its lifespan), apply on the request's task."""
    pipeline.apply_new(db)


async def _receive(request: Request, background: BackgroundTasks, gateway: str, store_id: str | None) -> JSONResponse:
    raw = await request.body()
    db: Database = request.app.state.db
    directory = gateway_directory(request.app.state)
    headers = dict(request.headers)
    try:
        if store_id is None and gateway in COMPANION_SECRET:  # the companion's own secret: no thread hop
            event = pipeline.verify(db, directory, gateway, raw, headers)
        else:
            event = await run_in_threadpool(pipeline.verify, db, directory, gateway, raw, headers, store_id)
    except BadSignature as exc:
        log.warning("webhook from %s refused: %s", gateway, exc.message)
        return JSONResponse({"detail": "The webhook signature did not verify"}, status_code=400)
    except pipeline.UnknownGateway:
        return JSONResponse({"detail": "Unknown webhook endpoint"}, status_code=404)
    writer: Writer | None = getattr(request.app.state, "webhook_writer", None)
    try:
        if writer is None:
            row_id = await run_in_threadpool(pipeline.store, db, gateway, event)
            if row_id is not None:
                background.add_task(_apply, db)
        else:
            row_id = await writer.store(gateway, event)
    except Exception as exc:  # not stored, so not acknowledged: the gateway sends it again
        if not isinstance(exc, WriterStopped):
            log.error("webhook %s/%s not stored: %s: %s", gateway, event.event_id, type(exc).__name__, exc)
        return JSONResponse({"detail": "The event was not stored; send it again"}, status_code=503)
    if event.method_saved is not None:
        # Needs the gateway (the card's details): after the answer, outside any transaction, on every
        # delivery (idempotent), so a delivery that failed half-way is finished by the gateway's retry.
        background.add_task(apply_method_saved, db, directory, event.method_saved)
    return JSONResponse({"received": True, "duplicate": row_id is None})


def _routes_for(gateway: str) -> None:
    """``/webhooks/<gateway>`` and ``/webhooks/<gateway>/{store_id}``: one pair per driver in the registry,
    spelled out (an address a deploy guide gives is a route, not a catch-all)."""

    async def gateway_webhook(request: Request, background: BackgroundTasks) -> JSONResponse:
        return await _receive(request, background, gateway, None)

    async def store_webhook(request: Request, background: BackgroundTasks, store_id: str) -> JSONResponse:
        return await _receive(request, background, gateway, store_id[:32])

    router.add_api_route(f"/webhooks/{gateway}", gateway_webhook, methods=["POST"])
    router.add_api_route(f"/webhooks/{gateway}/{{store_id}}", store_webhook, methods=["POST"])


for _gateway in sorted(DRIVERS):
    _routes_for(_gateway)


def install(app: Any) -> None:
    """Called by ``create_app``: the one task that stores deliveries and applies stored webhook events."""

    def start(app_: Any) -> Coroutine[Any, Any, None]:
        db: Database = app_.state.db

        def refund_stale_later() -> None:
            # Money taken for a superseded version: refunded through the gateway, off the writer's thread.
            if stale_seen():
                asyncio.get_running_loop().create_task(run_in_threadpool(refund_stale, db, gateway_directory(app_.state)))

        writer = app_.state.webhook_writer = Writer(db, after_apply=refund_stale_later)  # in place before the first request
        return writer.run()

    def stopped(app_: Any) -> None:
        app_.state.webhook_writer = None

    run_with_app(app, "posdesk-webhook-writer", start, stopped=stopped)
