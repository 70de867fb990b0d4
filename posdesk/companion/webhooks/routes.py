"""``POST /webhooks/{gateway}`` (companion-wide secret, the Simulator) and
``POST /webhooks/{gateway}/{store_id}`` (a store's own webhook secret, e.g. Stripe).

Answers fast: verify and store, answer 200, then apply in the background (see
:mod:`posdesk.companion.webhooks.pipeline`). Anything that does not verify gets 400 and writes nothing.
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


def _apply(db: Database, row_id: int | None) -> None:
    if row_id is not None:
        pipeline.process(db, row_id)
    pipeline.retry_pending(db, limit=20)  # events that arrived before their invoice


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
    background.add_task(_apply, db, row_id)
    return JSONResponse({"received": True, "duplicate": row_id is None})


@router.post("/webhooks/{gateway}")
async def gateway_webhook(request: Request, background: BackgroundTasks, gateway: str) -> JSONResponse:
    return await _receive(request, background, gateway, None)


@router.post("/webhooks/{gateway}/{store_id}")
async def store_webhook(request: Request, background: BackgroundTasks, gateway: str, store_id: str) -> JSONResponse:
    return await _receive(request, background, gateway, store_id)


RETRY_INTERVAL = 10.0  # seconds between passes over events that arrived before their invoice


def install(app: Any) -> None:
    """Called by ``create_app``: a background pass that applies webhook events kept for later."""
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        task = asyncio.create_task(_retry_forever(app_.state.db), name="posdesk-webhook-retry")
        try:
            async with inner(app_) as state:
                yield state
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.router.lifespan_context = lifespan


async def _retry_forever(db: Database) -> None:
    while True:
        await asyncio.sleep(RETRY_INTERVAL)
        try:
            await run_in_threadpool(pipeline.retry_pending, db)
        except Exception:  # retried next pass; never kill the task
            log.exception("retrying kept webhook events failed")
