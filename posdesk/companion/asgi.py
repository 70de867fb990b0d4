"""The shape of the companion's own middleware: plain ASGI, acting on one kind of scope.

Plain ASGI rather than Starlette's ``BaseHTTPMiddleware``, which runs the app in a task and passes
the response through a stream: event streams and the payment page keep their own pace.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class ScopeMiddleware:
    """Hands scopes of :attr:`scope_type` to :meth:`handle` and every other scope straight to the app."""

    scope_type = "http"

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == self.scope_type:
            await self.handle(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError
