"""A store's event log for the POS: a JSON page (``GET /events``) and a live stream (``/events/stream``).

The stream is Server-Sent Events: ``id: N``, ``event: <type>``, ``data: <Event.to_wire() JSON>``. It
starts after ``Last-Event-ID`` (what a reconnecting EventSource sends) or ``?after=N``, sends every
later event in order, wakes at once when this process appends one (:class:`EventBus`) or PostgreSQL
relays a NOTIFY from another worker, checks the database every second anyway, and sends a heartbeat
comment every 15 seconds so proxies keep the connection open and dead clients are noticed. When the
database becomes unreachable the stream ends (the terminal reconnects), with no traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from posdesk.companion.database import Database
from posdesk.companion.deps import BusDep, DbDep, TerminalDep
from posdesk.companion.events import POLL_INTERVAL, events_after, last_event_id
from posdesk.companion.health import database_unavailable
from posdesk.core.events import Event

router = APIRouter(tags=["events"])

HEARTBEAT_INTERVAL = 15.0
PAGE_LIMIT = 500
STREAM_BATCH = 200


def read_page(db: Database, store_id: str, after: int, limit: int) -> tuple[list[Event], int]:
    with db.read() as session:
        return events_after(session, store_id, after, limit), last_event_id(session, store_id)


# Event ids are 64-bit integers in both databases; a larger cursor cannot name an event and must be
# refused before it reaches a query (SQLite and psycopg raise on it: a 500).
MAX_EVENT_ID = 2**63 - 1


@router.get("/events")
def list_events(
    terminal: TerminalDep,
    db: DbDep,
    after: Annotated[int, Query(ge=0, le=MAX_EVENT_ID, description="Return events with id greater than this")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = PAGE_LIMIT,
) -> dict[str, Any]:
    """Events after ``after``, oldest first. ``last_id``: the store's newest event id (more to read
    while the page's last id is below it)."""
    events, last_id = read_page(db, terminal.store_id, after, limit)
    return {"events": [event.to_wire() for event in events], "last_id": max(last_id, after)}


def sse_message(event: Event) -> str:
    data = json.dumps(event.to_wire(), separators=(",", ":"))
    return f"id: {event.id}\nevent: {event.type.value}\ndata: {data}\n\n"


def _start_position(last_event_id: str | None, after: int | None) -> int:
    if last_event_id is not None and last_event_id.strip():
        try:
            position = int(last_event_id.strip())
        except ValueError:
            raise HTTPException(status_code=400, detail="Last-Event-ID must be an event id") from None
        if not 0 <= position <= MAX_EVENT_ID:
            raise HTTPException(status_code=400, detail="Last-Event-ID must be an event id")
        return position
    return after or 0


@router.get("/events/stream", response_class=StreamingResponse)
async def stream_events(
    terminal: TerminalDep,
    db: DbDep,
    bus: BusDep,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_EVENT_ID, description="Start after this id (Last-Event-ID wins)")
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Server-Sent Events of the store's log, resuming from ``Last-Event-ID`` or ``?after=``."""
    store_id = terminal.store_id
    start = _start_position(last_event_id, after)
    return StreamingResponse(
        _event_stream(db, bus, store_id, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _event_stream(db: Database, bus: Any, store_id: str, cursor: int) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def on_notify(notified_store: str) -> None:
        if notified_store == store_id:
            loop.call_soon_threadsafe(wake.set)

    remove_listener = bus.add_listener(on_notify)
    try:
        # Tell the client how long to wait before reconnecting, and flush headers at once.
        yield "retry: 2000\n\n"
        last_sent = time.monotonic()
        while True:
            wake.clear()  # before reading: a commit landing during the read wakes the next wait
            try:
                events, _ = await run_in_threadpool(read_page, db, store_id, cursor, STREAM_BATCH)
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
                # End the stream cleanly: the terminal reconnects (after "retry:") and is answered
                # 503 until the database is back, then resumes from its Last-Event-ID.
                db.health.failed(exc)
                return
            for event in events:
                yield sse_message(event)
                cursor = event.id
            if events:
                last_sent = time.monotonic()
                if len(events) == STREAM_BATCH:
                    continue
            until_heartbeat = HEARTBEAT_INTERVAL - (time.monotonic() - last_sent)
            if until_heartbeat <= 0:
                yield ": heartbeat\n\n"
                last_sent = time.monotonic()
                continue
            # On timeout, poll anyway: another worker or host may have appended without us hearing.
            # (asyncio.timeout: 3.11's wait_for can swallow the cancel of a client that went away.)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(POLL_INTERVAL, until_heartbeat)):
                    await wake.wait()
    finally:
        remove_listener()
