"""Keep what start-up built out of the garbage collector's full passes (``gc.freeze``), once per process.

A started companion holds some 150,000 long-lived objects (FastAPI, SQLAlchemy, Babel, Jinja, the
mapped models) that live as long as the process. Every full (generation 2) collection walks all of
them, tens to hundreds of milliseconds during which no request moves, and page views allocate enough
(ORM rows) to set one off every few seconds to minutes: those pauses alone would make the page's tail
latency (the figures are in docs/performance.md, "Why the code is as it is").
After start-up completes, one collection clears start-up's garbage and ``gc.freeze()`` moves the
survivors to the permanent generation: later collections walk only what requests create. Objects
frozen this way are still freed by reference counting when dropped; only cycles among them would stay.

An ASGI middleware because start-up completes in the ``lifespan`` protocol, which it can watch without
the app's lifespan knowing. Only a companion that is its process's server freezes: one whose event loop
runs on the main thread (``posdesk-companion serve``, uvicorn workers, the benchmarks), once. The demo
companion embedded in the POS and the tests' servers run on a thread of a larger process, whose
objects are not the companion's to freeze (the POS's windows come and go).
"""

from __future__ import annotations

import gc
import logging
import threading

from starlette.types import Message, Receive, Scope, Send

from posdesk.companion.asgi import ScopeMiddleware

log = logging.getLogger(__name__)
_frozen = False
_lock = threading.Lock()


def freeze_once() -> bool:
    """Collect, then freeze every object alive now: the first time in a process, on its main thread."""
    global _frozen
    if threading.current_thread() is not threading.main_thread():
        return False
    with _lock:
        if _frozen:
            return False
        _frozen = True
    gc.collect()
    gc.freeze()
    log.debug("froze %d start-up objects out of the garbage collector's passes", gc.get_freeze_count())
    return True


class FreezeAfterStartupMiddleware(ScopeMiddleware):
    """Calls :func:`freeze_once` when the app reports its start-up complete."""

    scope_type = "lifespan"

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def watching_send(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                freeze_once()  # before the server is told: no request waits for it
            await send(message)

        await self.app(scope, receive, watching_send)
