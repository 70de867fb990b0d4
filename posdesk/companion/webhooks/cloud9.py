"""``POST /webhooks/{gateway}/{store_id}/card-token``: a card form (Cloud9's) reporting a new card token.

Cloud9 signs nothing, so this callback is a **hint**: it is remembered for the card form it names
(``CallbackContext``, a random reference made for one page render) and used only if the page itself
did not receive the token by ``postMessage``. Either way the driver confirms the token with
``GetCardTokenInfo`` before charging it, so a forged callback can at most offer a token Cloud9 does not
know (refused) or one of the merchant's own.

Hints live in this process's memory for :data:`HINT_TTL`: with several workers a hint may land in
another worker, which only means falling back to the page's own message -- the normal path.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from posdesk.companion.database import Database
from posdesk.companion.models import Store
from posdesk.companion.payments import gateway_directory
from posdesk.gateways import CARD_TOKEN_CALLBACKS

router = APIRouter(include_in_schema=False)

HINT_TTL = 30 * 60.0  # seconds: longer than a card form stays usable
MAX_HINTS = 10_000
HINTS_KEY = "cloud9_card_hints"  # the name the driver borrows them by (``build(..., cloud9_card_hints=)``)
_TOKEN = re.compile(r"^[0-9A-Fa-f]{32}$")
_FORM_REF = re.compile(r"^PDC[0-9A-F]{32}$")


class CardTokenHints:
    """Card tokens by (store, card form reference), forgotten after ``ttl`` seconds; thread-safe."""

    def __init__(
        self, ttl: float = HINT_TTL, max_entries: int = MAX_HINTS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._hints: OrderedDict[tuple[str, str], tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, store_id: str, form_ref: str, token: str) -> None:
        with self._lock:
            self._hints[(store_id, form_ref)] = (token.upper(), self._clock())
            self._hints.move_to_end((store_id, form_ref))
            while len(self._hints) > self.max_entries:
                self._hints.popitem(last=False)

    def token_for(self, store_id: str, form_ref: str) -> str | None:
        with self._lock:
            found = self._hints.get((store_id, form_ref))
            if found is None or self._clock() - found[1] > self.ttl:
                return None
            return found[0]


def hints_of(state: object) -> CardTokenHints:
    """The app's hints, lent to every Cloud9 driver the app builds from now on."""
    lent = gateway_directory(state).lent
    hints = lent.setdefault(HINTS_KEY, CardTokenHints())
    assert isinstance(hints, CardTokenHints)
    return hints


def _fields(raw: bytes, content_type: str) -> dict[str, str]:
    """The callback's fields, JSON or form-encoded (Cloud9 documents neither precisely)."""
    if "json" in content_type or raw.lstrip().startswith(b"{"):
        try:
            body = json.loads(raw)
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in body.items()} if isinstance(body, dict) else {}
    return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}


def _takes_callbacks(db: Database, gateway: str, store_id: str) -> bool:
    if gateway not in CARD_TOKEN_CALLBACKS:
        return False
    with db.read() as session:
        store = session.get(Store, store_id)
        return store is not None and store.gateway_kind == gateway


async def card_token_callback(request: Request, gateway: str, store_id: str) -> JSONResponse:
    raw = await request.body()
    if len(store_id) > 64 or not await run_in_threadpool(_takes_callbacks, request.app.state.db, gateway, store_id):
        return JSONResponse({"detail": "Unknown callback address"}, status_code=404)
    fields = _fields(raw, request.headers.get("content-type", ""))
    token, form_ref = fields.get("CardToken", ""), fields.get("CallbackContext", "")
    if (
        fields.get("Status", "").lower() != "success"
        or not _TOKEN.match(token)
        or not _FORM_REF.match(form_ref)
    ):
        return JSONResponse({"received": True, "used": False})  # a decline or noise: nothing to remember
    hints_of(request.app.state).record(store_id, form_ref, token)
    return JSONResponse({"received": True, "used": True})


def _route_for(gateway: str) -> None:
    async def callback(request: Request, store_id: str) -> JSONResponse:
        return await card_token_callback(request, gateway, store_id)

    router.add_api_route(f"/webhooks/{gateway}/{{store_id}}/card-token", callback, methods=["POST"])


for _gateway in sorted(CARD_TOKEN_CALLBACKS):
    _route_for(_gateway)
