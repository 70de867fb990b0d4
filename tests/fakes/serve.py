"""Run an ASGI app on a loopback port for the length of a ``with`` block.

Used by the fake-Stripe tests and by any test that needs a real HTTP server (a webhook receiver, the
companion web app, a page for Playwright)::

    with serve_app(app) as base_url:          # e.g. "http://127.0.0.1:43127"
        httpx.get(f"{base_url}/health")

The server is a real ``uvicorn.Server`` running its own event loop in a daemon thread, so the test
thread can make blocking HTTP calls to it (and it can call other servers) without deadlocking.

Why we bind the socket ourselves: with ``port=0`` uvicorn would pick a free port but only tell us
after startup through private attributes; binding first gives the real port up front, race-free.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import uvicorn

__all__ = ["QuietHandler", "serve_app", "serve_handler"]

_STARTUP_TIMEOUT_S = 10.0
_SHUTDOWN_TIMEOUT_S = 10.0


def _bind(host: str, port: int) -> socket.socket:
    """Bind a listening TCP socket on ``host:port`` (port 0 = any free port); IPv4 or IPv6."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


@contextlib.contextmanager
def serve_app(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` on ``host:port`` in a background thread; yield its base URL (no trailing slash).

    On exit the server is asked to stop, open keep-alive connections are closed, and the thread is
    joined, so no server outlives the test. A server that fails to start raises ``RuntimeError``.
    """
    sock = _bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        # No websockets in these tests; "none" also avoids deprecation warnings from the websockets
        # package, which the strict pytest configuration would turn into errors.
        ws="none",
        lifespan="auto",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # SystemExit on startup failure included: report, don't crash
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"serve_app:{bound_port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + _STARTUP_TIMEOUT_S
        while not server.started:
            if failure or not thread.is_alive():
                raise RuntimeError(f"server for {app!r} failed to start: {failure[:1]!r}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server for {app!r} did not start within {_STARTUP_TIMEOUT_S} s")
            time.sleep(0.01)
        url_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        yield f"http://{url_host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(_SHUTDOWN_TIMEOUT_S)
        if thread.is_alive():  # a handler that never returns: stop waiting for it
            server.force_exit = True
            thread.join(_SHUTDOWN_TIMEOUT_S)
        sock.close()


class QuietHandler(BaseHTTPRequestHandler):
    """A standard-library request handler that does not write each request to the test's output."""

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve_handler(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """Serve ``handler`` (a plain ``http.server`` handler) on a free loopback port for the ``with``
    block, in a background thread; yield the port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
