"""The baseline for ``pay_to_close``: a bare Starlette Server-Sent Events round trip, in its own process.

``POST /ping`` with a body puts it on every open ``GET /stream`` as one ``data:`` line. Served like the
benchmark companion (one uvicorn worker on loopback), so the difference is the companion's own work.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

listeners: set[asyncio.Queue[str]] = set()


async def ping(request: Request) -> PlainTextResponse:
    body = (await request.body()).decode()
    for queue in listeners:
        queue.put_nowait(body)
    return PlainTextResponse("ok")


async def stream(_request: Request) -> StreamingResponse:
    queue: asyncio.Queue[str] = asyncio.Queue()
    listeners.add(queue)

    async def events() -> AsyncIterator[str]:
        try:
            yield "retry: 2000\n\n"
            while True:
                yield f"data: {await queue.get()}\n\n"
        finally:
            listeners.discard(queue)

    return StreamingResponse(events(), media_type="text/event-stream")


def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    print(f"http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    app = Starlette(routes=[Route("/ping", ping, methods=["POST"]), Route("/stream", stream)])
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, ws="none")).run(sockets=[sock])


if __name__ == "__main__":
    main()
