"""The app's one webhook writer: group commit for deliveries, and the applier between groups.

A delivery verified on the event loop is handed to :meth:`Writer.store` and waits there. The writer
task stores every delivery waiting at that moment with one multi-row insert in one transaction
(:func:`pipeline.store_many`), then answers each: a 2xx goes out only after the commit that holds its
event. While that commit runs, the next deliveries gather, so under load one commit serves many
deliveries and the requests make no thread hop of their own (one hop per group).

Between two groups the same task applies what is stored (one transaction, :func:`pipeline.apply_some`,
up to :data:`APPLY_CHUNK` events). Applying is done in batches (the ledger's batch form,
:mod:`posdesk.companion.payments.ledger_batch`), whose statements cost the same for one event as for a
hundred: a batch of one or two costs several times per payment what a batch of dozens does. So while
deliveries keep coming the writer lets stored events gather to :data:`APPLY_MIN` before applying them,
never longer than :data:`APPLY_WAIT_MAX`; when no delivery follows within :data:`APPLY_IDLE` it applies
what there is at once, so at ordinary rates each event is applied right after it is stored. A delivery
waits at most one chunk before its group is stored (the figures are in docs/performance.md). SQLite has
one writer at a time anyway; on PostgreSQL other processes' writers still work alongside (rows locked
with ``SKIP LOCKED``). Every :data:`RETRY_INTERVAL` it retries events kept for later (an invoice not
known yet) and sweeps new events stored without it.

The writer's database work runs on a worker thread under a limiter of its own, not the shared pool's
40 tokens: under a crowd of payers those tokens have a queue, and a writer waiting in it for every group
would make each delivery wait many queue turns (the figures are in docs/performance.md, "Why the code is
as it is").
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

from posdesk.companion.database import Database
from posdesk.companion.webhooks import pipeline
from posdesk.gateways.base import GatewayEvent

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_GROUP = 256  # deliveries stored per transaction at most
APPLY_CHUNK = 256  # events applied per transaction at most (well under a millisecond each in a batch)
APPLY_MIN = 96  # while deliveries keep coming: stored events gathered before a batch is applied
APPLY_IDLE = 0.005  # seconds without a new delivery after which what is stored is applied anyway
APPLY_WAIT_MAX = 0.25  # seconds a stored event waits at most for its batch to fill
RETRY_INTERVAL = 10.0  # seconds between passes over events that arrived before their invoice


class WriterStopped(RuntimeError):
    """The app is shutting down: the delivery was not stored (answered 503; the gateway retries)."""


class Writer:
    """Made on the event loop (the app's lifespan); :meth:`run` is its task."""

    def __init__(self, db: Database, after_apply: Callable[[], None] | None = None) -> None:
        self._db = db
        self._after_apply = after_apply  # called on the loop after each apply (must not block)
        self._waiting: list[tuple[str, GatewayEvent, asyncio.Future[int | None]]] = []
        self._woken = asyncio.Event()
        self._apply_due = True  # events stored before a restart are applied at start
        self._unapplied = 0  # events stored since the last batch was applied
        self._unapplied_since = 0.0  # loop time the oldest of them was stored
        self._stopped = False
        self._storing: list[tuple[str, GatewayEvent, asyncio.Future[int | None]]] = []
        self._limiter = anyio.CapacityLimiter(1)  # the writer's own: never waits for the shared pool's tokens

    async def _on_thread(self, work: Callable[[], T]) -> T:
        """Run ``work`` on a worker thread under the writer's own limiter (one at a time, never queued
        behind page requests waiting for the shared pool's tokens)."""
        return await anyio.to_thread.run_sync(work, limiter=self._limiter)

    async def store(self, gateway: str, event: GatewayEvent) -> int | None:
        """Store ``event`` with the next group; its row id, or None for a duplicate. Returns after the
        commit; raises what kept it from being stored (:class:`WriterStopped` at shutdown)."""
        if self._stopped:
            raise WriterStopped("the webhook writer has stopped")
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((gateway, event, future))
        self._woken.set()
        return await future

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_retry = loop.time() + RETRY_INTERVAL
        try:
            while True:
                if self._waiting:
                    await self._store_group()
                if self._apply_due and await self._batch_ready():
                    await self._apply_chunk(APPLY_CHUNK)
                if loop.time() >= next_retry:
                    next_retry = loop.time() + RETRY_INTERVAL
                    await self._retry()
                if not self._waiting and not self._apply_due:
                    await self._wait(max(0.0, next_retry - loop.time()))
        finally:
            self._stopped = True
            for _gateway, _event, future in self._storing + self._waiting:
                if not future.done():  # perhaps stored after all: a retry is then a duplicate
                    future.set_exception(WriterStopped("the webhook writer has stopped"))
            self._waiting.clear()

    async def _store_group(self) -> None:
        """Store the waiting deliveries (up to :data:`MAX_GROUP`) and answer them."""
        group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
        self._storing = group
        try:
            events = [(g, e) for g, e, _f in group]
            outcomes = await self._on_thread(functools.partial(pipeline.store_many, self._db, events))
        except Exception as exc:  # not stored: each delivery gets an error answer and is sent again
            log.exception("storing %d webhook events failed", len(group))
            outcomes = [exc] * len(group)
        self._storing = []
        for (_gateway, _event, future), outcome in zip(group, outcomes, strict=True):
            if future.done():  # the sender went away; what was stored stays stored
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
        stored = sum(isinstance(outcome, int) for outcome in outcomes)
        if stored and not self._unapplied:
            self._unapplied_since = asyncio.get_running_loop().time()
        self._unapplied += stored
        self._apply_due = self._apply_due or stored > 0

    async def _batch_ready(self) -> bool:
        """Apply now: enough stored events gathered, the oldest waited long enough, or no delivery follows."""
        if self._unapplied >= APPLY_MIN or not self._unapplied:  # none: a restart's or a retry's backlog
            return True
        if asyncio.get_running_loop().time() - self._unapplied_since >= APPLY_WAIT_MAX:
            return True
        if not self._waiting:
            self._woken.clear()  # set by deliveries already stored: wait for a new one
            await self._wait(APPLY_IDLE)
        return not self._waiting

    async def _apply_chunk(self, limit: int) -> None:
        try:
            taken = await self._on_thread(functools.partial(pipeline.apply_some, self._db, limit))
        except Exception:  # tried again after the next group or retry pass; never kill the task
            log.exception("applying webhook events failed")
            taken = 0
        self._after()
        self._apply_due = taken == limit  # a full chunk: more may be waiting
        self._unapplied = 0 if not self._apply_due else max(0, self._unapplied - taken)

    async def _retry(self) -> None:
        """Events kept for later; and a sweep, in chunks, for new events stored without this writer
        (the Stripe route stores and applies its own; one it could not apply is picked up here)."""
        try:
            await self._on_thread(functools.partial(pipeline.retry_pending, self._db, tried_only=True))
        except Exception:
            log.exception("retrying kept webhook events failed")
        self._after()
        self._apply_due = True

    def _after(self) -> None:
        if self._after_apply is not None:
            try:
                self._after_apply()
            except Exception:
                log.exception("the writer's after-apply step failed")

    async def _wait(self, timeout: float) -> None:
        # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel (shutdown) as it is woken
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._woken.wait()
        self._woken.clear()
