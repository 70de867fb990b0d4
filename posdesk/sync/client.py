"""The POS's HTTP client of the companion's API (``/api/v1``), async, on httpx.

Errors are sorted into the two kinds the relay cares about: :class:`CompanionUnavailable` (try again
later: network down, timeouts, 5xx, 429) and :class:`CompanionRejected` (the companion said no, with a
reason: retrying the same request will not help).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from posdesk import __version__
from posdesk.core.events import Event

API = "/api/v1"
# Every request says which POS build sent it: the companion keeps each terminal's version (update notice).
USER_AGENT = f"posdesk/{__version__}"
CONNECT_TIMEOUT = 5.0
REQUEST_TIMEOUT = 15.0


class CompanionError(Exception):
    """Base of the companion client's errors."""


class CompanionUnavailable(CompanionError):
    """The companion could not be reached or answered with a temporary error."""


class CompanionRejected(CompanionError):
    """The companion refused the request; ``status`` and ``detail`` say why."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"companion refused ({status}): {detail}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True, slots=True)
class PairingResult:
    store_id: str
    terminal_id: str
    credential: str


def _detail(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    return body.get("detail", body) if isinstance(body, dict) else body


def _check(response: httpx.Response, *, retry_conflicts: bool = False) -> httpx.Response:
    """``retry_conflicts``: a 409 with ``Retry-After`` (another refund of the payment under way) is
    temporary for queued work, to send again later; a person calling interactively reads its detail."""
    if response.status_code == 429 or response.status_code >= 500:
        raise CompanionUnavailable(f"companion answered {response.status_code}")
    if retry_conflicts and response.status_code == 409 and "retry-after" in response.headers:
        raise CompanionUnavailable(f"companion answered 409, retry: {_detail(response)}")
    if response.status_code >= 400:
        raise CompanionRejected(response.status_code, _detail(response))
    return response


def pair(companion_url: str, pairing_code: str, terminal_name: str) -> PairingResult:
    """Exchange a one-time pairing code for this terminal's credential (blocking; call off the UI thread)."""
    try:
        response = httpx.post(
            f"{companion_url.rstrip('/')}{API}/terminals/pair",
            json={"code": pairing_code.strip(), "terminal_name": terminal_name},
            headers={"User-Agent": USER_AGENT},
            timeout=httpx.Timeout(REQUEST_TIMEOUT, connect=CONNECT_TIMEOUT),
        )
    except httpx.HTTPError as exc:
        raise CompanionUnavailable(f"cannot reach the companion at {companion_url}: {exc}") from exc
    body = _check(response).json()
    return PairingResult(
        store_id=body["store_id"], terminal_id=body["terminal_id"], credential=body["credential"]
    )


def _event_of(data: dict[str, Any], fields: dict[str, str]) -> Event:
    """An SSE message's event: its data is the event's wire form; ``id:``/``event:`` fill what it lacks."""
    if "id" not in data and "id" in fields:
        data = {**data, "id": int(fields["id"])}
    if "type" not in data and "event" in fields:
        data = {**data, "type": fields["event"]}
    return Event.from_wire(data)


class CompanionClient:
    """One terminal's authenticated connection to the companion."""

    def __init__(
        self, companion_url: str, credential: str, *, transport: httpx.AsyncBaseTransport | None = None
    ):
        self.base_url = companion_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {credential}", "User-Agent": USER_AGENT},
            timeout=httpx.Timeout(REQUEST_TIMEOUT, connect=CONNECT_TIMEOUT),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, f"{API}{path}", **kwargs)
        except httpx.HTTPError as exc:
            raise CompanionUnavailable(str(exc) or type(exc).__name__) from exc
        return _check(response, retry_conflicts=True)

    async def put_invoice(self, invoice_id: str, document: dict[str, Any]) -> dict[str, Any]:
        response = await self._request("PUT", f"/invoices/{invoice_id}", json=document)
        return dict(response.json())

    async def revoke_invoice(self, invoice_id: str) -> dict[str, Any]:
        response = await self._request("POST", f"/invoices/{invoice_id}/revoke")
        return dict(response.json())

    async def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST ``payload`` to an API path (messages, refunds...); the outbox uses it for other kinds."""
        response = await self._request("POST", path, json=payload)
        return dict(response.json()) if response.content else {}

    async def get(self, path: str) -> dict[str, Any]:
        """GET an API path that answers a JSON object (the store's settings, its promotions...)."""
        response = await self._request("GET", path)
        return dict(response.json())

    async def put(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = await self._request("PUT", path, json=payload)
        return dict(response.json()) if response.content else {}

    async def client_messages(self, client_id: str) -> list[dict[str, Any]]:
        """The client's conversation as the companion keeps it for the store (oldest first, the newest 200),
        in the ``message.status`` event's shape."""
        response = await self._request("GET", f"/clients/{quote(client_id, safe='')}/messages")
        messages = response.json().get("messages", [])
        return [message for message in messages if isinstance(message, dict)]

    async def events_after(self, after: int, limit: int = 200) -> tuple[list[Event], int]:
        """One page of the store's events after ``after``, and the companion's last event id."""
        response = await self._request("GET", "/events", params={"after": after, "limit": limit})
        body = response.json()
        return [Event.from_wire(raw) for raw in body["events"]], int(body.get("last_id", after))

    async def stream(self, after: int) -> AsyncGenerator[Event, None]:
        """Follow the event stream (Server-Sent Events) from ``after``; ends when the connection does."""
        headers = {"Last-Event-ID": str(after), "Accept": "text/event-stream"}
        timeout = httpx.Timeout(
            connect=CONNECT_TIMEOUT, read=45.0, write=REQUEST_TIMEOUT, pool=CONNECT_TIMEOUT
        )
        try:
            async with self._http.stream(
                "GET", f"{API}/events/stream", params={"after": after}, headers=headers, timeout=timeout
            ) as response:
                _check(response)
                data_lines: list[str] = []
                fields: dict[str, str] = {}
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        data_lines.append(line[5:].lstrip())
                    elif line.startswith(("id:", "event:")):
                        name, _, value = line.partition(":")
                        fields[name] = value.strip()
                    elif line == "" and data_lines:
                        yield _event_of(json.loads("\n".join(data_lines)), fields)
                        data_lines, fields = [], {}
                    # "retry:" and ":" heartbeat comments need no handling.
        except httpx.HTTPError as exc:
            raise CompanionUnavailable(str(exc) or type(exc).__name__) from exc


class BlockingCompanion:
    """The same API, called synchronously: for the POS's one-off calls (test connection, gateway
    settings, refunds, the day summary), run off the UI thread by a ``QueryOp``. The relay and the
    event stream use :class:`CompanionClient` on the sync thread's loop."""

    def __init__(
        self, companion_url: str, credential: str = "", *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.base_url = companion_url.rstrip("/")
        headers = {"User-Agent": USER_AGENT}
        if credential:
            headers["Authorization"] = f"Bearer {credential}"
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(REQUEST_TIMEOUT, connect=CONNECT_TIMEOUT),
            transport=transport,
        )

    def __enter__(self) -> BlockingCompanion:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._http.close()

    def _request(
        self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any
    ) -> httpx.Response:
        if timeout is not None:
            kwargs["timeout"] = httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT))
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CompanionUnavailable(type(exc).__name__) from exc
        return _check(response)

    def healthy(self) -> None:
        """``GET /healthz``; raises :class:`CompanionUnavailable` or :class:`CompanionRejected`."""
        self._request("GET", "/healthz", timeout=5)

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return dict(self._request("GET", f"{API}{path}", params=params or None).json())

    def post(
        self, path: str, payload: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        response = self._request("POST", f"{API}{path}", json=payload, timeout=timeout)
        return dict(response.json()) if response.content else {}

    def put(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = self._request("PUT", f"{API}{path}", json=payload)
        return dict(response.json()) if response.content else {}

    def put_gateway(self, kind: str, public: dict[str, str], secrets: dict[str, str] | None) -> None:
        """Write-only gateway credentials: ``PUT /api/v1/gateway``."""
        self.put("/gateway", {"kind": kind, "public": public, "secrets": secrets or None})

    def test_gateway(self) -> dict[str, Any]:
        """``POST /api/v1/gateway/test``: ``{"ok": bool, "message": str}``."""
        return self.post("/gateway/test", timeout=20)

    def payments_for_review(self, ticket_id: str) -> list[dict[str, Any]]:
        """``GET /api/v1/payments/review``: the ticket's online payments kept for a manager, with why."""
        found = self.get("/payments/review", ticket_id=ticket_id).get("payments", [])
        return [p for p in found if isinstance(p, dict)]

    def store_reviews(self) -> dict[str, Any]:
        """``GET /api/v1/payments/review`` for the whole store: ``payments`` kept for review and the gateway
        ``reports`` kept for review that name no payment the companion recorded."""
        return self.get("/payments/review")

    def handle_report(self, report_id: str, note: str) -> dict[str, Any]:
        """``POST /api/v1/payments/reports/{id}/handled``: a manager marks a kept gateway report handled."""
        return self.post(f"/payments/reports/{quote(report_id, safe='')}/handled", {"note": note})

    def settle_review(self, payment_id: str, decision: str) -> dict[str, Any]:
        """``POST /api/v1/payments/{id}/review``: count, refund or dismiss a payment kept for review (the
        companion asks the gateway first, hence the longer timeout)."""
        return self.post(f"/payments/{quote(payment_id, safe='')}/review", {"decision": decision}, timeout=60)
