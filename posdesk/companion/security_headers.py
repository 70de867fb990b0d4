"""Security headers on every response, a request body limit, and an access log without link tokens.

All three are plain ASGI middleware (:class:`~posdesk.companion.asgi.ScopeMiddleware`), so the event stream
keeps streaming.

The Content-Security-Policy allows only this origin by default. A route that embeds a gateway's
script or card frame widens it for its own response only::

    request.state.csp_extra = {"script-src": ["https://js.stripe.com"], "frame-src": [...]}
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from posdesk.companion.asgi import ScopeMiddleware

access_log = logging.getLogger("posdesk.companion.access")

BASE_CSP: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "base-uri": ["'none'"],
    "object-src": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
    "img-src": ["'self'", "data:"],
}
HSTS = "max-age=31536000; includeSubDomains"
_TOKEN_PATH = re.compile(r"^/pay/[^/]+")
REDACTED_PATH = "/pay/[token]"


def content_security_policy(extra: Mapping[str, Sequence[str]] | None = None) -> str:
    """The policy text: :data:`BASE_CSP` plus ``extra`` sources per directive (a new directive starts
    from ``'self'``, as ``default-src`` would have)."""
    directives = {name: list(sources) for name, sources in BASE_CSP.items()}
    for name, sources in (extra or {}).items():
        current = directives.setdefault(name, ["'self'"])
        current.extend(source for source in sources if source not in current)
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


@functools.lru_cache(maxsize=64)
def _csp_header(extra: tuple[tuple[str, tuple[str, ...]], ...]) -> bytes:
    # Built once per set of gateway origins (a handful per process), not once per response.
    return content_security_policy(dict(extra)).encode("latin-1")


def _csp_for(extra: Mapping[str, Sequence[str]] | None) -> bytes:
    return _csp_header(tuple((name, tuple(sources)) for name, sources in (extra or {}).items()))


_FIXED_HEADERS = (
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_HSTS = (b"strict-transport-security", HSTS.encode())


def redact_path(path: str) -> str:
    """``/pay/<token>/...`` -> ``/pay/[token]/...``: link tokens are capabilities, never logged."""
    return _TOKEN_PATH.sub(REDACTED_PATH, path)


class SecurityHeadersMiddleware(ScopeMiddleware):
    """Adds CSP, ``frame-ancestors 'none'``, ``no-referrer``, ``nosniff`` and HSTS (over HTTPS)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        state: dict[str, Any] = scope.setdefault("state", {})
        is_api = scope.get("path", "").startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"content-security-policy"
                ]
                present = {k.lower() for k, _ in headers}
                headers.append((b"content-security-policy", _csp_for(state.get("csp_extra"))))
                headers.extend(header for header in _FIXED_HEADERS if header[0] not in present)
                if is_api and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                if scope.get("scheme") == "https":
                    headers.append(_HSTS)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimitMiddleware(ScopeMiddleware):
    """Refuses request bodies over ``max_bytes`` with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    await self._refuse(send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the handler's body read, so the app's exception handling answers.
                    raise HTTPException(413, self._detail())
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except HTTPException as exc:
            if exc.status_code != 413 or started:
                raise
            await self._refuse(send)

    def _detail(self) -> str:
        return f"The request body is larger than {self.max_bytes} bytes"

    async def _refuse(self, send: Send) -> None:
        body = b'{"detail":"' + self._detail().encode() + b'"}'
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class AccessLogMiddleware(ScopeMiddleware):
    """One line per request on ``posdesk.companion.access``, with ``/pay/<token>`` redacted and no query."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            client = scope.get("client")
            access_log.info(
                '%s "%s %s" %d %.1fms',
                client[0] if client else "-",
                scope.get("method", "-"),
                redact_path(scope.get("path", "")),
                status,
                (time.perf_counter() - started) * 1000,
            )
