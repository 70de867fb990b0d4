"""``POST /webhooks/{gateway}`` (companion-wide secret, the Simulator) and
``POST /webhooks/{gateway}/{store_id}`` (a store's own webhook secret, e.g. Stripe).

Answers fast: verify and store (one insert), wake the applier and answer 200; the app's one applier
task applies stored events in batches (see :mod:`posdesk.companion.webhooks.pipeline`). Anything that
does not verify gets 400 and writes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from posdesk.companion.database import Database
from posdesk.companion.payments import gateway_directory
from posdesk.companion.webhooks import cloud9, pipeline
from posdesk.gateways.base import BadSignature

router = APIRouter(include_in_schema=False)
router.include_router(cloud9.router)  # Cloud9's unsigned card-token callbacks (hints, not events)
log = logging.getLogger(__name__)


def _apply(db: Database) -> None:
    """Without a running applier (an app served without its lifespan), apply on the request's task."""
    pipeline.apply_new(db)


async def _receive(request: Request, background: BackgroundTasks, gateway: str, store_id: str | None) -> JSONResponse:
    raw = await request.body()
    db: Database = request.app.state.db
    directory = gateway_directory(request.app.state)
    try:
        row_id = await run_in_threadpool(pipeline.receive, db, directory, gateway, raw, dict(request.headers), store_id)
    except BadSignature as exc:
        log.warning("webhook from %s refused: %s", gateway, exc.message)
        return JSONResponse({"detail": "The webhook signature did not verify"}, status_code=400)
    except pipeline.UnknownGateway:
        return JSONResponse({"detail": "Unknown webhook endpoint"}, status_code=404)
    if row_id is not None:
        applier: pipeline.Applier | None = getattr(request.app.state, "webhook_applier", None)
        if applier is not None:
            applier.wake()
        else:
            background.add_task(_apply, db)
    return JSONResponse({"received": True, "duplicate": row_id is None})


@router.post("/webhooks/{gateway}")
async def gateway_webhook(request: Request, background: BackgroundTasks, gateway: str) -> JSONResponse:
    return await _receive(request, background, gateway, None)


@router.post("/webhooks/{gateway}/{store_id}")
async def store_webhook(request: Request, background: BackgroundTasks, gateway: str, store_id: str) -> JSONResponse:
    return await _receive(request, background, gateway, store_id)


RETRY_INTERVAL = 10.0  # seconds between passes over events that arrived before their invoice


def install(app: Any) -> None:
    """Called by ``create_app``: the one task that applies stored webhook events (and retries kept ones)."""
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        app_.state.webhook_applier = pipeline.Applier()
        task = asyncio.create_task(_apply_forever(app_.state.db, app_.state.webhook_applier), name="posdesk-webhook-applier")
        try:
            async with inner(app_) as state:
                yield state
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            app_.state.webhook_applier = None

    app.router.lifespan_context = lifespan


async def _apply_forever(db: Database, applier: pipeline.Applier) -> None:
    """Drain new events whenever woken (and once at start: events stored before a restart); every
    :data:`RETRY_INTERVAL`, retry the events kept for later. One at a time, so batches never race."""
    next_retry = asyncio.get_running_loop().time() + RETRY_INTERVAL
    while True:
        try:
            await run_in_threadpool(pipeline.apply_new, db)
            if asyncio.get_running_loop().time() >= next_retry:
                next_retry = asyncio.get_running_loop().time() + RETRY_INTERVAL
                await run_in_threadpool(pipeline.retry_pending, db)
        except Exception:  # tried again on the next wake or pass; never kill the task
            log.exception("applying webhook events failed")
        await applier.wait(max(0.0, next_retry - asyncio.get_running_loop().time()))
