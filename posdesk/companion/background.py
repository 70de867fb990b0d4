"""Work the companion repeats in the background for as long as the app runs (sweeps, retries).

:func:`run_with_app` is the one way to tie a task to the app's lifespan: started when the app starts
(after what was installed before it), cancelled and awaited when it stops. :func:`repeat` is the loop
such a task usually is: a failed pass is logged and tried again next time, never ending the task; a
pass that failed because the database is unreachable says so once (:class:`DatabaseHealth`), not with
a traceback every interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from typing import Any

from posdesk.companion.health import DatabaseHealth, database_unavailable

log = logging.getLogger("posdesk.companion")


def run_with_app(
    app: Any,
    name: str,
    work: Callable[[Any], Coroutine[Any, Any, None]],
    *,
    stopped: Callable[[Any], None] | None = None,
) -> None:
    """Run ``work(app)`` as a task named ``name`` while ``app`` runs (wraps its lifespan).

    ``work`` is called when the app has started, before it serves: a plain function that sets up state
    and returns the coroutine has that state in place for the first request. ``stopped(app)`` runs once
    the task has ended.
    """
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        async with inner(app_) as state:
            task = asyncio.create_task(work(app_), name=name)
            try:
                yield state
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                if stopped is not None:
                    stopped(app_)

    app.router.lifespan_context = lifespan


async def repeat(
    what: str,
    interval: float,
    one_pass: Callable[[], Awaitable[object]],
    health: DatabaseHealth,
    *,
    first_delay: float = 0.0,
    first_waits: Sequence[float] = (),
) -> None:
    """Await ``one_pass()`` every ``interval`` seconds, forever (see the module docstring); after the
    first passes wait ``first_waits`` in turn instead, for work that wants a closer look at start-up."""
    waits = iter(first_waits)
    await asyncio.sleep(first_delay)
    while True:
        try:
            await one_pass()
        except Exception as exc:  # tried again next pass; never end the task
            if database_unavailable(exc):
                health.failed(exc)
            else:
                log.exception("%s failed", what)
        else:
            health.succeeded()  # every pass reads the database
        await asyncio.sleep(next(waits, interval))
