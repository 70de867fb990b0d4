"""``Server-Timing: app;dur=<ms>`` on every HTTP response: the app's own time for the request.

Measured from the moment the server hands the parsed request to the app to the moment the app starts
its response (the headers must go out before the body, so that is as late as a header can say). For
the pages, which answer with one body right after the headers, that is the whole of the app's work.
It includes waiting for the event loop, the thread pool and the GIL behind other requests, and
excludes the time a request spends in the socket's and the server's queues before the app sees it.
Browsers show it in their network panel; ``bench/page.py`` collects it to report the server's time
apart from the latency the client sees.

A plain ASGI middleware (:class:`~posdesk.companion.asgi.ScopeMiddleware`), so event streams keep
streaming; added outermost so it covers every other middleware.
"""

from __future__ import annotations

import time

from starlette.types import Message, Receive, Scope, Send

from posdesk.companion.asgi import ScopeMiddleware

HEADER = b"server-timing"


def server_timing(duration_s: float) -> bytes:
    """The header value for ``duration_s`` seconds, in milliseconds (microsecond precision)."""
    return f"app;dur={duration_s * 1000:.3f}".encode("latin-1")


class ServerTimingMiddleware(ScopeMiddleware):
    """Adds ``Server-Timing: app;dur=...`` (time from request to response start, in ms)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                headers.append((HEADER, server_timing(time.perf_counter() - started)))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed_send)
