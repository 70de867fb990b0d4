"""A faithful in-memory fake of the Cloud9 payment gateway (C9PG) and its hosted card iframe.

Written from the public reference (``/work/shared/reference/cloud9.md``): one flat JSON object is
POSTed to ``/restApi``, ``TransType`` picks the operation, the credentials (``GMID``, ``GTID``,
``GMPW``) travel in the body, amounts are integer cents, and every answer is HTTP 200 with a JSON
object whose values are all strings. Where the reference is silent, the fake makes a documented
choice (marked *fake's choice* below) rather than guessing silently.

Usage::

    fake = make_fake_cloud9()
    with serve_app(fake.app) as base_url, httpx.Client(base_url=base_url, timeout=2) as client:
        r = client.post("/restApi", json={"TransType": "Sale", "GMID": fake.gmid, "GTID": fake.gtid,
                                          "GMPW": fake.gmpw, "AccountNum": "4788250000028291",
                                          "ExpDate": "1230", "MainAmt": "1001", "InvoiceNum": "INV-1"})
        fake.release_hangs()   # before the server stops, in case a test left a request hanging
    assert r.json()["Status"] == "success"
    assert fake.approved_sales["INV-1"] == 1

``serve_app`` is ``tests/fakes/serve.py`` (a real uvicorn: client timeouts and dropped connections
are real). In-process, ``httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app))`` works
too, except that hangs are not cut by client timeouts there. Starlette's ``TestClient`` emits a
deprecation warning with plain httpx, which this project's pytest settings turn into an error.

Magic values (declines are decided in this order, the first match wins)
-----------------------------------------------------------------------
=====================================  ========================================================
Card ``ExpDate`` before this month     ``054`` expired card (ResponseCode ``54``)
``CVVNum`` ``"000"``                   ``0N7`` CVV mismatch (ResponseCode ``N7``)
card ``4000000000000002``              ``005`` do not honor (ResponseCode ``05``)
card ``4000000000009995``              ``051`` insufficient funds (ResponseCode ``51``)
card ``4000000000000069``              ``054`` expired card
card ``4000000000000127``              ``0N7`` CVV mismatch
``MainAmt`` cents ``..05``             ``005`` do not honor   (e.g. ``1005`` = $10.05)
``MainAmt`` cents ``..51``             ``051`` insufficient funds
``MainAmt`` cents ``..54``             ``054`` expired card
card ``4000000000000119`` or           **timeout**: the Sale/Auth is APPROVED and recorded, then
``MainAmt`` exactly ``9999``           the caller gets no usable answer (see ``timeout_mode``);
                                       it must resolve the outcome with ``GetTransInfo``.
=====================================  ========================================================

Amount magic applies to Sale and Auth only (CreateCardToken/Verify have no amount). Any other
Luhn-valid card is approved, e.g. the sandbox cards ``4788250000028291`` and ``4012000098765439``.
A declined Sale/Auth is recorded (it reached the "processor"), so ``GetTransInfo`` finds it with its
``Status:"fail"``; requests refused by the gateway itself (1xx codes, invalid data) are not recorded.

Error codes used
----------------
``000`` approved; ``101``/``102``/``103`` bad GMID/GTID/GMPW; ``104`` unknown or malformed GTRC;
``105`` unknown card token; ``109`` bad amount (also: refund above what is left to refund);
``113`` wrong type of base transaction (e.g. Finalize on a Sale); ``114`` base transaction in the
wrong state (e.g. Void after Batch, Finalize twice, Refund of a pending Auth); ``115`` already
voided; ``117`` timeout (only with ``timeout_mode="status"``); ``146`` duplicate (CheckDuplicate);
``202`` no record (GetTransInfo). ``Status:"invalidData"`` with ErrorCode ``100`` for a malformed
request (missing/bad field, unknown TransType) is the *fake's choice*: the reference names the
status but not a code. The exact texts are the fake's own.

Fake's choices worth knowing when writing a driver
--------------------------------------------------
* GTRC: ``uuid4().hex.upper()``, or ``NewGTRC`` (32 hex digits, dashes allowed, stored uppercase).
  A Sale/Auth/Refund whose ``NewGTRC`` already exists creates nothing and returns the existing
  transaction's fields unchanged (idempotent retry). GTRC lookups ignore letter case.
* Finalize/AddTip/Modify/Void keep the base transaction's GTRC; Refund makes a new one.
* After Finalize or AddTip an Auth reports ``TransType:"Sale"``.
* AddTip works on an Auth (pending or finalized, before Batch); on a Sale it answers 113.
* Refund by GTRC is allowed before or after Batch; the total refunded never exceeds the captured
  ``AuthAmt`` (voided refunds give their amount back). A Sale with live refunds cannot be voided.
* Batch settles every approved, captured, non-voided transaction; a pending (not finalized) Auth
  stays pending, as with a real processor.
* ``GetTransInfo`` by GTRC answers with *that transaction's* ``Status``/``ErrorCode`` (so a declined
  sale comes back as ``fail``/``005``) plus ``IsVoided``; an unknown GTRC is ``fail``/``202``.
  By ``InvoiceNum`` it answers ``success`` with ``TransactionList``: a JSON **string** holding a
  list of the same field sets, oldest first, declines included.
* Fields with no value are left out of answers (read them with ``.get``).
* ``AuthDate``/``AuthTime`` are UTC, taken from the fake clock.
* ``Brand`` spellings: Visa, Mastercard, AmericanExpress, Discover, Unknown.

Controls (for tests)
--------------------
``fail_next(n, mode="http500"|"disconnect", process=False)``, ``hang_next(seconds, n,
before_processing=False)``, ``timeout_mode`` / ``timeout_hang_seconds``, ``release_hangs()``,
``freeze(when)`` / ``advance(seconds)`` / ``now()``, ``transactions``, ``tokens``, ``requests``,
``approved_sales``, ``net_captured(invoice)``, ``batches``, ``callbacks``, ``callback_transport``.

Hosted iframe
-------------
``GET /CreateCardToken`` and ``GET /checkout`` (identical in the fake: no amount parameter is
documented, the charge is the merchant server's own ``Sale`` with the returned ``CardToken``) take
``WebGMID``, ``GTID``, ``InvoiceNum``, ``SeedTime``, ``Seed``, ``CallbackUrl``, ``CallbackContext``,
``CallbackVersion``, ``MerchantName`` and (fake's choice) ``VerifyCard=Y``. See :func:`cloud9_seed`
and :meth:`FakeCloud9.handle_iframe`.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import ipaddress
import json
import re
import secrets
import string
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

__all__ = [
    "DECLINE_CARDS",
    "DECLINE_CENTS",
    "SANDBOX_CARDS",
    "SEED_VALIDITY",
    "TIMEOUT_AMOUNT",
    "TIMEOUT_CARD",
    "FakeCardToken",
    "FakeCloud9",
    "FakeTransaction",
    "cloud9_seed",
    "make_fake_cloud9",
    "web_gmid",
]

# --------------------------------------------------------------------------------------------
# Magic values
# --------------------------------------------------------------------------------------------

SANDBOX_CARDS = ("4788250000028291", "4012000098765439")
"""Public sandbox cards from the Cloud9 docs: always approved (given a future ExpDate)."""

DECLINE_CARDS: dict[str, str] = {
    "4000000000000002": "005",
    "4000000000009995": "051",
    "4000000000000069": "054",
    "4000000000000127": "0N7",
}
"""Card number -> Cloud9 ErrorCode of the decline it always gets."""

DECLINE_CENTS: dict[int, str] = {5: "005", 51: "051", 54: "054"}
"""``MainAmt % 100`` -> ErrorCode, for Sale/Auth."""

TIMEOUT_CARD = "4000000000000119"
TIMEOUT_AMOUNT = 9999
"""Either one makes a Sale/Auth approve and record, then leave the caller without an answer."""

SEED_VALIDITY = timedelta(minutes=5)
"""How long an iframe Seed stays valid after its SeedTime."""

# Processor side of each decline: (ErrorText, ResponseCode, ResponseText).
_DECLINES: dict[str, tuple[str, str, str]] = {
    "005": ("Do Not Honor", "05", "DO NOT HONOR"),
    "051": ("Insufficient Funds", "51", "INSUFFICIENT FUNDS"),
    "054": ("Expired Card", "54", "EXPIRED CARD"),
    "0N7": ("CVV Mismatch", "N7", "CVV2 MISMATCH"),
}

_SEED_TIME_RE = re.compile(r"^\d{2}-\d{2}-\d{4}:\d{2}:\d{2}:\d{2}:\d{3}$")
_HEX32_RE = re.compile(r"^[0-9A-F]{32}$")
_IFRAME_SESSION_TTL = timedelta(minutes=20)  # fake's choice: how long a rendered form may be submitted


# --------------------------------------------------------------------------------------------
# Seed helpers (the merchant server computes these; the fake recomputes them to validate)
# --------------------------------------------------------------------------------------------


def _sha256_upper(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest().upper()


def web_gmid(gmid: str) -> str:
    """``WebGMID``: uppercase hex SHA-256 of the GMID (so the GMID itself never reaches the browser)."""
    return _sha256_upper(gmid)


def _format_seed_time(when: datetime) -> str:
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.strftime("%d-%m-%Y:%H:%M:%S:") + f"{when.microsecond // 1000:03d}"


def _parse_seed_time(text: str) -> datetime | None:
    if not _SEED_TIME_RE.match(text):
        return None
    try:
        return datetime.strptime(text, "%d-%m-%Y:%H:%M:%S:%f").replace(tzinfo=UTC)
    except ValueError:
        return None


def cloud9_seed(invoice_num: str, gmid: str, gtid: str, gmpw: str, when: datetime) -> dict[str, str]:
    """Query parameters that authenticate an iframe URL: WebGMID, GTID, InvoiceNum, SeedTime, Seed.

    ``Seed`` = uppercase hex SHA-256 of ``InvoiceNum:WebGMID:GTID:SeedTime:GMPW``; ``SeedTime`` is UTC
    ``DD-MM-YYYY:HH:MM:SS:SSS`` (a naive ``when`` is taken as UTC). The GMPW only enters the hash.
    """
    wg = web_gmid(gmid)
    seed_time = _format_seed_time(when)
    seed = _sha256_upper(f"{invoice_num}:{wg}:{gtid}:{seed_time}:{gmpw}")
    return {"WebGMID": wg, "GTID": gtid, "InvoiceNum": invoice_num, "SeedTime": seed_time, "Seed": seed}


# --------------------------------------------------------------------------------------------
# Card helpers
# --------------------------------------------------------------------------------------------


def _luhn_ok(pan: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(pan)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _brand(pan: str) -> str:
    if pan.startswith("4"):
        return "Visa"
    if pan[:2] in {"34", "37"}:
        return "AmericanExpress"
    if 51 <= int(pan[:2]) <= 55 or 2221 <= int(pan[:4]) <= 2720:
        return "Mastercard"
    if pan.startswith(("6011", "65")) or 644 <= int(pan[:3]) <= 649:
        return "Discover"
    return "Unknown"


def _mask(pan: str) -> str:
    """First 6 + last 4 digits, the rest as ``X`` (length kept), as Cloud9 answers."""
    return pan[:6] + "X" * (len(pan) - 10) + pan[-4:]


def _expired(exp_date: str, now: datetime) -> bool:
    """A card is valid through the last day of its MMYY month."""
    month, year = int(exp_date[:2]), 2000 + int(exp_date[2:])
    return (year, month) < (now.year, now.month)


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------


@dataclass
class FakeCardToken:
    """A stored card. ``pan`` is the full number (the fake keeps it so tokens can hit magic cards)."""

    token: str
    pan: str
    exp_date: str
    brand: str
    created_at: datetime

    def fields(self) -> dict[str, str]:
        return {
            "CardToken": self.token,
            "AccountNum": _mask(self.pan),
            "ExpDate": self.exp_date,
            "Brand": self.brand,
            "Medium": "Credit",
        }


@dataclass
class FakeTransaction:
    """One Sale/Auth/Refund/Verify as the gateway remembers it.

    ``state``: ``declined`` | ``authorized`` (Auth, not finalized) | ``captured`` (awaiting Batch)
    | ``settled``. ``voided`` is separate so a voided transaction keeps the state it was voided in.
    """

    gtrc: str
    trans_type: str
    status: str
    error_code: str
    error_text: str
    response_code: str
    response_text: str
    main_amt: int
    tip_amt: int
    inc_tax_amt: int
    invoice_num: str
    pan: str
    exp_date: str
    brand: str
    card_token: str
    auth_code: str
    cvv_result: str
    created_at: datetime
    state: str
    voided: bool = False
    base_gtrc: str = ""
    refund_gtrcs: list[str] = field(default_factory=list)
    request: dict[str, Any] = field(default_factory=dict)

    @property
    def approved(self) -> bool:
        return self.status == "success"

    @property
    def auth_amt(self) -> int:
        return self.main_amt + self.tip_amt if self.approved else 0

    @property
    def reported_type(self) -> str:
        # "AddTip ... turns the Auth into a Sale": so does Finalize.
        if self.trans_type == "Auth" and self.state in {"captured", "settled"}:
            return "Sale"
        return self.trans_type

    def fields(self) -> dict[str, str]:
        """The response fields (strings only; empty ones dropped)."""
        out = {
            "Status": self.status,
            "ErrorCode": self.error_code,
            "ErrorText": self.error_text,
            "ResponseCode": self.response_code,
            "ResponseText": self.response_text,
            "TransType": self.reported_type,
            "GTRC": self.gtrc,
            "MainAmt": str(self.main_amt),
            "TipAmt": str(self.tip_amt),
            "IncTaxAmt": str(self.inc_tax_amt),
            "AuthAmt": str(self.auth_amt),
            "AuthCode": self.auth_code,
            "AccountNum": _mask(self.pan) if self.pan else "",
            "Brand": self.brand,
            "Medium": "Credit",
            "ExpDate": self.exp_date,
            "CardToken": self.card_token,
            "CVVResultCode": self.cvv_result,
            "AuthDate": self.created_at.strftime("%Y%m%d"),
            "AuthTime": self.created_at.strftime("%H%M%S"),
            "InvoiceNum": self.invoice_num,
        }
        return {k: v for k, v in out.items() if v != ""}

    def info_fields(self) -> dict[str, str]:
        """What GetTransInfo reports: the fields plus ``IsVoided``."""
        return {**self.fields(), "IsVoided": "Y" if self.voided else "N"}


@dataclass
class _Card:
    pan: str
    exp_date: str
    cvv: str
    token: str = ""


@dataclass
class _Fault:
    mode: str
    process: bool


@dataclass
class _Hang:
    seconds: float
    before_processing: bool


@dataclass
class _Outcome:
    fields: dict[str, str]
    timed_out: bool = False


@dataclass
class _IframeSession:
    params: dict[str, str]
    path: str
    created_at: datetime


class _Reject(Exception):
    """Short-circuits an operation with a gateway-level answer (nothing is recorded)."""

    def __init__(self, status: str, code: str, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.status, self.code, self.text = status, code, text


def _invalid(text: str) -> _Reject:
    return _Reject("invalidData", "100", text)


class _DisconnectResponse(Response):
    """Starts a 200 answer, sends a fragment, then breaks the connection.

    Raising an ``httpx`` transport error from the app makes both kinds of client see the same thing:
    under uvicorn the connection is closed mid-body (the client raises ``RemoteProtocolError``), and
    through ``httpx.ASGITransport`` / Starlette's TestClient the exception propagates unchanged.
    """

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"Status":"succ', "more_body": True})
        raise httpx.RemoteProtocolError("fake Cloud9: connection dropped before the answer was complete")


# --------------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------------


class FakeCloud9:
    """In-memory Cloud9 gateway. Build it with :func:`make_fake_cloud9`; serve ``.app``.

    All state is guarded by one lock because tests read it from their own thread while a uvicorn
    thread (or TestClient's portal thread) mutates it.
    """

    def __init__(self, gmid: str, gtid: str, gmpw: str) -> None:
        self.gmid, self.gtid, self.gmpw = gmid, gtid, gmpw
        self.web_gmid = web_gmid(gmid)

        self.transactions: dict[str, FakeTransaction] = {}
        """GTRC -> transaction, in creation order."""
        self.tokens: dict[str, FakeCardToken] = {}
        """CardToken -> stored card."""
        self.requests: list[dict[str, Any]] = []
        """Every parsed /restApi body, in arrival order (including ones the controls failed)."""
        self.batches: list[list[str]] = []
        """One list of settled GTRCs per Batch."""
        self.callbacks: list[dict[str, Any]] = []
        """Iframe server-to-server callbacks: {url, payload, status_code, error}."""
        self.iframe_sessions: dict[str, _IframeSession] = {}

        self.timeout_mode = "hang"
        # Cloud9 has answered a resent NewGTRC whose first Sale landed late with 146 (CheckDuplicate)
        # instead of that Sale: True makes the fake do the same.
        self.resend_sees_duplicate = False
        """What the timeout card/amount does after approving: ``hang`` (answer only after
        ``timeout_hang_seconds``, or never if the client leaves first), ``disconnect`` (drop the
        connection mid-answer) or ``status`` (answer ``Status:"timeout"``, ErrorCode 117)."""
        self.timeout_hang_seconds = 30.0
        self.callback_transport: httpx.AsyncBaseTransport | None = None
        """Transport for iframe callbacks (e.g. ``httpx.ASGITransport(companion_app)`` or a
        ``MockTransport``). ``None`` = real HTTP, loopback addresses only."""
        self.callback_timeout = 5.0

        self._lock = threading.RLock()
        self._faults: deque[_Fault] = deque()
        self._hangs: deque[_Hang] = deque()
        self._release = threading.Event()
        self._frozen: datetime | None = None
        self._offset = timedelta()

        self.app = Starlette(
            routes=[
                Route("/restApi", self._rest_api, methods=["POST"]),
                Route("/CreateCardToken", self.handle_iframe, methods=["GET", "POST"]),
                Route("/checkout", self.handle_iframe, methods=["GET", "POST"]),
            ]
        )

    # ---------------------------------------------------------------- controls

    def now(self) -> datetime:
        """The fake's clock (aware UTC): real time unless frozen, plus any ``advance``."""
        base = self._frozen if self._frozen is not None else datetime.now(UTC)
        return base + self._offset

    def freeze(self, when: datetime) -> None:
        """Stop the clock at ``when`` (naive = UTC). Used for CheckDuplicate and Seed tests."""
        self._frozen = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        self._offset = timedelta()

    def advance(self, seconds: float) -> None:
        """Move the clock forward (frozen or not)."""
        self._offset += timedelta(seconds=seconds)

    def fail_next(self, n: int = 1, mode: str = "http500", *, process: bool = False) -> None:
        """Make the next ``n`` /restApi requests fail at the transport level.

        ``mode="http500"`` answers HTTP 500 with a plain-text body; ``mode="disconnect"`` drops the
        connection mid-answer. With ``process=False`` the request never reaches the gateway (nothing
        happens); with ``process=True`` it is processed first and only the answer is lost.
        """
        if mode not in {"http500", "disconnect"}:
            raise ValueError(f"unknown fail mode {mode!r}")
        with self._lock:
            self._faults.extend(_Fault(mode, process) for _ in range(n))

    def hang_next(self, seconds: float, n: int = 1, *, before_processing: bool = False) -> None:
        """Delay the answer of the next ``n`` /restApi requests by ``seconds``.

        By default the request is processed at once and the *answer* is late (a slow gateway that
        did the work); ``before_processing=True`` waits first, then processes. The wait ends early
        when the client goes away or :meth:`release_hangs` is called.
        """
        with self._lock:
            self._hangs.extend(_Hang(seconds, before_processing) for _ in range(n))

    def release_hangs(self) -> None:
        """End every current and future wait at once (call before stopping a server)."""
        self._release.set()

    @property
    def approved_sales(self) -> Counter[str]:
        """InvoiceNum -> number of approved Sale/Auth transactions (voids do not subtract)."""
        with self._lock:
            return Counter(
                t.invoice_num
                for t in self.transactions.values()
                if t.approved and t.trans_type in {"Sale", "Auth"}
            )

    def net_captured(self, invoice_num: str) -> int:
        """Cents actually taken for an invoice: captured, non-voided charges minus live refunds."""
        with self._lock:
            total = 0
            for t in self.transactions.values():
                if t.invoice_num != invoice_num or not t.approved or t.voided:
                    continue
                if t.trans_type in {"Sale", "Auth"} and t.state in {"captured", "settled"}:
                    total += t.auth_amt
                elif t.trans_type == "Refund":
                    total -= t.auth_amt
            return total

    def seed_params(self, invoice_num: str, when: datetime | None = None) -> dict[str, str]:
        """:func:`cloud9_seed` with this fake's credentials and clock."""
        return cloud9_seed(invoice_num, self.gmid, self.gtid, self.gmpw, when or self.now())

    # ---------------------------------------------------------------- /restApi transport layer

    async def _rest_api(self, request: Request) -> Response:
        raw = await request.body()
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
            hang = self._hangs.popleft() if self._hangs else None
        if fault is not None and not fault.process:
            self._log_request(raw)
            return self._fault_response(fault)
        if hang is not None and hang.before_processing:
            await self._wait(hang.seconds, request)
        outcome = self.process(raw)
        if fault is not None:
            return self._fault_response(fault)
        if outcome.timed_out:
            if self.timeout_mode == "disconnect":
                return _DisconnectResponse()
            if self.timeout_mode == "status":
                return JSONResponse(
                    {
                        "Status": "timeout",
                        "ErrorCode": "117",
                        "ErrorText": "Timeout waiting for host",
                        "GTRC": outcome.fields.get("GTRC", ""),
                    }
                )
            # "hang": the answer would come far too late; a client that waits long enough gets it.
            await self._wait(self.timeout_hang_seconds, request)
        if hang is not None and not hang.before_processing:
            await self._wait(hang.seconds, request)
        return JSONResponse(outcome.fields)

    @staticmethod
    def _fault_response(fault: _Fault) -> Response:
        if fault.mode == "disconnect":
            return _DisconnectResponse()
        return PlainTextResponse("Internal Server Error", status_code=500)

    async def _wait(self, seconds: float, request: Request) -> None:
        """Sleep in small steps so a released hang or a departed client frees the server quickly
        (uvicorn waits for running requests on shutdown)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self._release.is_set():
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.05)

    def _log_request(self, raw: bytes) -> dict[str, Any] | None:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(body if isinstance(body, dict) else {"_raw": raw.decode("utf-8", "replace")})
        return body if isinstance(body, dict) else None

    # ---------------------------------------------------------------- gateway logic

    def process(self, raw: bytes | str | dict[str, Any]) -> _Outcome:
        """Run one /restApi request through the gateway (no transport effects). Public so unit
        tests can call the gateway without HTTP."""
        if isinstance(raw, dict):
            body: dict[str, Any] | None = raw
            with self._lock:
                self.requests.append(dict(raw))
        else:
            body = self._log_request(raw.encode() if isinstance(raw, str) else raw)
        return self._run(body)

    def _run(self, body: dict[str, Any] | None) -> _Outcome:
        try:
            if body is None:
                raise _invalid("Body must be one JSON object")
            with self._lock:
                return self._dispatch(body)
        except _Reject as rej:
            return _Outcome({"Status": rej.status, "ErrorCode": rej.code, "ErrorText": rej.text})

    def _dispatch(self, body: dict[str, Any]) -> _Outcome:
        trans_type = _text(body, "TransType")
        # Credentials first, in the documented order: 101 GMID, 102 GTID, 103 GMPW.
        if _text(body, "GMID") != self.gmid:
            raise _Reject("fail", "101", "Invalid GMID")
        if _text(body, "GTID") != self.gtid:
            raise _Reject("fail", "102", "Invalid GTID")
        if _text(body, "GMPW") != self.gmpw:
            raise _Reject("fail", "103", "Invalid GMPW")
        ops: dict[str, Callable[[dict[str, Any]], _Outcome]] = {
            "sale": self._op_charge,
            "auth": self._op_charge,
            "verify": self._op_verify,
            "finalize": self._op_finalize,
            "addtip": self._op_add_tip,
            "modify": self._op_modify,
            "adjust": self._op_modify,
            "void": self._op_void,
            "reverse": self._op_void,  # fake's choice: same effect as Void
            "cancel": self._op_void,
            "refund": self._op_refund,
            "batch": self._op_batch,
            "createcardtoken": self._op_create_token,
            "getcardtokeninfo": self._op_token_info,
            "updatecardtokeninfo": self._op_update_token,
            "deletecardtoken": self._op_delete_token,
            "gettransinfo": self._op_trans_info,
        }
        op = ops.get(trans_type.lower())
        if op is None:
            raise _invalid(f"Unsupported TransType {trans_type!r}" if trans_type else "TransType is required")
        medium = _text(body, "Medium")
        if medium and medium.lower() != "credit":
            raise _invalid(f"Medium {medium!r} is not supported (Credit only)")
        return op(body)

    # -- helpers

    def _new_gtrc(self, body: dict[str, Any]) -> tuple[str, FakeTransaction | None]:
        """The GTRC for a new transaction, and the existing one if NewGTRC was already used."""
        wanted = _text(body, "NewGTRC")
        if not wanted:
            return uuid.uuid4().hex.upper(), None
        gtrc = wanted.replace("-", "").upper()
        if not _HEX32_RE.match(gtrc):
            raise _invalid("NewGTRC must be a UUID (32 hex digits)")
        return gtrc, self.transactions.get(gtrc)

    def _base(self, body: dict[str, Any]) -> FakeTransaction:
        gtrc = _text(body, "GTRC").replace("-", "").upper()
        txn = self.transactions.get(gtrc) if gtrc else None
        if txn is None:
            raise _Reject("fail", "104", "Invalid GTRC")
        return txn

    def _card(self, body: dict[str, Any], *, allow_token: bool = True) -> _Card:
        token = _text(body, "CardToken").upper()
        cvv = _text(body, "CVVNum")
        if token and allow_token:
            stored = self.tokens.get(token)
            if stored is None:
                raise _Reject("fail", "105", "Invalid CardToken")
            return _Card(stored.pan, stored.exp_date, cvv, stored.token)
        pan = re.sub(r"[ -]", "", _text(body, "AccountNum"))
        if not pan:
            raise _invalid("AccountNum or CardToken is required")
        if not (pan.isdigit() and 13 <= len(pan) <= 19 and _luhn_ok(pan)):
            raise _invalid("Invalid AccountNum")
        exp = _text(body, "ExpDate").replace("/", "")
        if not (len(exp) == 4 and exp.isdigit() and 1 <= int(exp[:2]) <= 12):
            raise _invalid("ExpDate must be MMYY")
        if cvv and not (cvv.isdigit() and 3 <= len(cvv) <= 4):
            raise _invalid("Invalid CVVNum")
        return _Card(pan, exp, cvv)

    def _decline_code(self, card: _Card, main_amt: int | None) -> str | None:
        if _expired(card.exp_date, self.now()):
            return "054"
        if card.cvv == "000":
            return "0N7"
        if card.pan in DECLINE_CARDS:
            return DECLINE_CARDS[card.pan]
        if main_amt is not None:
            return DECLINE_CENTS.get(main_amt % 100)
        return None

    def _store_token(self, pan: str, exp_date: str) -> FakeCardToken:
        tok = FakeCardToken(secrets.token_hex(16).upper(), pan, exp_date, _brand(pan), self.now())
        self.tokens[tok.token] = tok
        return tok

    def _record(self, txn: FakeTransaction) -> FakeTransaction:
        self.transactions[txn.gtrc] = txn
        return txn

    def _make_txn(
        self,
        gtrc: str,
        trans_type: str,
        card: _Card,
        decline: str | None,
        main_amt: int,
        tip_amt: int,
        inc_tax: int,
        invoice: str,
        body: dict[str, Any],
    ) -> FakeTransaction:
        if decline is None:
            status, code, text, rcode, rtext = "success", "000", "Approved", "00", "APPROVAL"
            auth_code = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(6))
        else:
            text, rcode, rtext = _DECLINES[decline]
            status, code, auth_code = "fail", decline, ""
        cvv_result = "" if not card.cvv else ("N" if decline == "0N7" else "M")
        return FakeTransaction(
            gtrc=gtrc,
            trans_type=trans_type,
            status=status,
            error_code=code,
            error_text=text,
            response_code=rcode,
            response_text=rtext,
            main_amt=main_amt,
            tip_amt=tip_amt,
            inc_tax_amt=inc_tax,
            invoice_num=invoice,
            pan=card.pan,
            exp_date=card.exp_date,
            brand=_brand(card.pan),
            card_token=card.token,
            auth_code=auth_code,
            cvv_result=cvv_result,
            created_at=self.now(),
            state="declined" if decline else "captured",
            request=dict(body),
        )

    def _refunded(self, base: FakeTransaction) -> int:
        return sum(
            self.transactions[g].auth_amt for g in base.refund_gtrcs if not self.transactions[g].voided
        )

    # -- operations

    def _op_charge(self, body: dict[str, Any]) -> _Outcome:
        """Sale or Auth, by card data or CardToken."""
        trans_type = "Sale" if _text(body, "TransType").lower() == "sale" else "Auth"
        gtrc, existing = self._new_gtrc(body)
        if existing is not None and not (self.resend_sees_duplicate and _flag(body, "CheckDuplicate")):
            # A retried NewGTRC is the caller asking "what happened to this one?": never charge twice.
            return _Outcome(existing.fields())
        main_amt = _amount(body, "MainAmt", required=True)
        if main_amt <= 0:
            raise _Reject("invalidData", "109", "MainAmt must be greater than 0")
        tip_amt = _amount(body, "TipAmt")
        inc_tax = _amount(body, "IncTaxAmt")
        if inc_tax > main_amt:
            raise _Reject("invalidData", "109", "IncTaxAmt is included in MainAmt and cannot exceed it")
        invoice = _text(body, "InvoiceNum")
        card = self._card(body)

        if _flag(body, "CheckDuplicate"):
            window_start = self.now() - timedelta(seconds=60)
            for t in self.transactions.values():
                if (
                    t.approved
                    and t.trans_type in {"Sale", "Auth"}
                    and t.pan == card.pan
                    and t.auth_amt == main_amt + tip_amt
                    and t.invoice_num == invoice
                    and t.created_at >= window_start
                ):
                    raise _Reject("fail", "146", "Duplicate transaction")

        decline = self._decline_code(card, main_amt)
        txn = self._make_txn(gtrc, trans_type, card, decline, main_amt, tip_amt, inc_tax, invoice, body)
        if txn.approved:
            txn.state = "captured" if trans_type == "Sale" else "authorized"
            if _flag(body, "RequestCardToken") and not txn.card_token:
                txn.card_token = self._store_token(card.pan, card.exp_date).token
        self._record(txn)
        timed_out = txn.approved and (card.pan == TIMEOUT_CARD or main_amt == TIMEOUT_AMOUNT)
        return _Outcome(txn.fields(), timed_out=timed_out)

    def _op_verify(self, body: dict[str, Any]) -> _Outcome:
        """$0 card check (amount magic does not apply)."""
        gtrc, existing = self._new_gtrc(body)
        if existing is not None:
            return _Outcome(existing.fields())
        card = self._card(body)
        txn = self._make_txn(
            gtrc, "Verify", card, self._decline_code(card, None), 0, 0, 0, _text(body, "InvoiceNum"), body
        )
        if txn.approved:
            txn.state = "settled"  # nothing to capture or batch
        self._record(txn)
        return _Outcome(txn.fields())

    def _open_auth(self, body: dict[str, Any], *, allow_captured: bool) -> FakeTransaction:
        txn = self._base(body)
        if txn.trans_type != "Auth" or not txn.approved:
            raise _Reject("fail", "113", "Base transaction is not an approved Auth")
        if txn.voided:
            raise _Reject("fail", "115", "Transaction already voided")
        if txn.state == "settled" or (txn.state == "captured" and not allow_captured):
            raise _Reject(
                "fail", "114", "Auth already finalized" if txn.state == "captured" else "Already settled"
            )
        return txn

    def _op_finalize(self, body: dict[str, Any]) -> _Outcome:
        txn = self._open_auth(body, allow_captured=False)
        if _present(body, "MainAmt"):
            txn.main_amt = _positive(body, "MainAmt")
        if _present(body, "TipAmt"):
            txn.tip_amt = _amount(body, "TipAmt")
        txn.state = "captured"
        return _Outcome(txn.fields())

    def _op_add_tip(self, body: dict[str, Any]) -> _Outcome:
        txn = self._open_auth(body, allow_captured=True)
        txn.tip_amt = _amount(body, "TipAmt", required=True)
        txn.state = "captured"
        return _Outcome(txn.fields())

    def _op_modify(self, body: dict[str, Any]) -> _Outcome:
        refusal = "Only an approved Sale or Auth can be modified"
        txn = self._approved_base(body, refusal, not_when="settled", because="Already settled")
        if txn.refund_gtrcs:
            raise _Reject("fail", "114", "Transaction has refunds")
        main = _positive(body, "MainAmt") if _present(body, "MainAmt") else txn.main_amt
        tip = _amount(body, "TipAmt") if _present(body, "TipAmt") else txn.tip_amt
        inc_tax = _amount(body, "IncTaxAmt") if _present(body, "IncTaxAmt") else txn.inc_tax_amt
        if inc_tax > main:
            raise _Reject("invalidData", "109", "IncTaxAmt cannot exceed MainAmt")
        txn.main_amt, txn.tip_amt, txn.inc_tax_amt = main, tip, inc_tax
        return _Outcome(txn.fields())

    def _approved_base(
        self, body: dict[str, Any], refusal: str, *, not_when: str, because: str
    ) -> FakeTransaction:
        """The approved, not voided Sale or Auth that ``body``'s GTRC names, unless its state is
        ``not_when`` (refused with ``because``); ``refusal`` says what cannot be done to any other."""
        txn = self._base(body)
        if txn.trans_type not in {"Sale", "Auth"} or not txn.approved:
            raise _Reject("fail", "113", refusal)
        if txn.voided:
            raise _Reject("fail", "115", "Transaction already voided")
        if txn.state == not_when:
            raise _Reject("fail", "114", because)
        return txn

    def _op_void(self, body: dict[str, Any]) -> _Outcome:
        txn = self._base(body)
        if not txn.approved or txn.trans_type == "Verify":
            raise _Reject("fail", "113", "Nothing to void")
        if txn.voided:
            raise _Reject("fail", "115", "Transaction already voided")
        if txn.state == "settled":
            raise _Reject("fail", "114", "Already settled: use Refund")
        if any(not self.transactions[g].voided for g in txn.refund_gtrcs):
            raise _Reject("fail", "114", "Void the refunds of this transaction first")
        txn.voided = True
        return _Outcome({**txn.fields(), "TransType": "Void"})

    def _op_refund(self, body: dict[str, Any]) -> _Outcome:
        gtrc, existing = self._new_gtrc(body)
        if existing is not None:
            return _Outcome(existing.fields())
        if not _text(body, "GTRC"):
            # Unreferenced refund (credit) to a card: allowed by the reference, not limited.
            card = self._card(body)
            amount = _positive(body, "MainAmt")
            txn = self._make_txn(
                gtrc,
                "Refund",
                card,
                None,
                amount,
                _amount(body, "TipAmt"),
                0,
                _text(body, "InvoiceNum"),
                body,
            )
            return _Outcome(self._record(txn).fields())
        base = self._approved_base(
            body,
            "Only an approved Sale can be refunded",
            not_when="authorized",
            because="Auth not finalized: nothing captured to refund",
        )
        left = base.auth_amt - self._refunded(base)
        # No MainAmt: refund whatever is left (a full refund).
        partial = _present(body, "MainAmt")
        amount = _positive(body, "MainAmt") + _amount(body, "TipAmt") if partial else left
        if amount <= 0 or amount > left:
            raise _Reject("fail", "109", f"Refund amount exceeds the captured amount left ({left})")
        card = _Card(base.pan, base.exp_date, "", base.card_token)
        txn = self._make_txn(
            gtrc, "Refund", card, None, amount, 0, 0, _text(body, "InvoiceNum") or base.invoice_num, body
        )
        txn.base_gtrc = base.gtrc
        txn.auth_code = base.auth_code
        base.refund_gtrcs.append(txn.gtrc)
        return _Outcome(self._record(txn).fields())

    def _op_batch(self, body: dict[str, Any]) -> _Outcome:
        settled = []
        for t in self.transactions.values():
            if t.approved and not t.voided and t.state == "captured":
                t.state = "settled"
                settled.append(t.gtrc)
        self.batches.append(settled)
        return _Outcome(
            {
                "Status": "success",
                "ErrorCode": "000",
                "ErrorText": "Approved",
                "ResponseText": "Batch settled",
                "TransType": "Batch",
            }
        )

    def _op_create_token(self, body: dict[str, Any]) -> _Outcome:
        card = self._card(body, allow_token=False)
        if _flag(body, "VerifyCard"):
            decline = self._decline_code(card, None)
            if decline:
                text, rcode, rtext = _DECLINES[decline]
                return _Outcome(
                    {
                        "Status": "fail",
                        "ErrorCode": decline,
                        "ErrorText": text,
                        "ResponseCode": rcode,
                        "ResponseText": rtext,
                    }
                )
        tok = self._store_token(card.pan, card.exp_date)
        return _Outcome(
            {
                "Status": "success",
                "ErrorCode": "000",
                "ErrorText": "Approved",
                "ResponseText": "Card token created",
                **tok.fields(),
            }
        )

    def _token(self, body: dict[str, Any]) -> FakeCardToken:
        tok = self.tokens.get(_text(body, "CardToken").upper())
        if tok is None:
            raise _Reject("fail", "105", "Invalid CardToken")
        return tok

    def _op_token_info(self, body: dict[str, Any]) -> _Outcome:
        return _Outcome(
            {"Status": "success", "ErrorCode": "000", "ErrorText": "Approved", **self._token(body).fields()}
        )

    def _op_update_token(self, body: dict[str, Any]) -> _Outcome:
        tok = self._token(body)
        exp = _text(body, "ExpDate")
        if not (len(exp) == 4 and exp.isdigit() and 1 <= int(exp[:2]) <= 12):
            raise _invalid("ExpDate must be MMYY")
        tok.exp_date = exp
        return _Outcome({"Status": "success", "ErrorCode": "000", "ErrorText": "Approved", **tok.fields()})

    def _op_delete_token(self, body: dict[str, Any]) -> _Outcome:
        tok = self._token(body)
        del self.tokens[tok.token]
        return _Outcome(
            {"Status": "success", "ErrorCode": "000", "ErrorText": "Approved", "CardToken": tok.token}
        )

    def _op_trans_info(self, body: dict[str, Any]) -> _Outcome:
        no_record = _Outcome({"Status": "fail", "ErrorCode": "202", "ErrorText": "No record found"})
        gtrc = _text(body, "GTRC").replace("-", "").upper()
        if gtrc:
            txn = self.transactions.get(gtrc)
            return _Outcome(txn.info_fields()) if txn else no_record
        invoice = _text(body, "InvoiceNum")
        if not invoice:
            raise _invalid("GTRC or InvoiceNum is required")
        found = [t.info_fields() for t in self.transactions.values() if t.invoice_num == invoice]
        if not found:
            return no_record
        # Documented oddity: the list arrives as a JSON *string* inside the JSON answer.
        return _Outcome(
            {
                "Status": "success",
                "ErrorCode": "000",
                "ErrorText": "Approved",
                "InvoiceNum": invoice,
                "TransactionList": json.dumps(found),
            }
        )

    # ---------------------------------------------------------------- hosted iframe

    async def handle_iframe(self, request: Request) -> Response:
        """``GET``: validate WebGMID/GTID/Seed and render the card form (or an error page).
        ``POST`` (the form): create the token, call CallbackUrl, postMessage the result.

        Validation order: missing parameter, WebGMID, GTID, Seed hash ("Invalid seed"), then age
        ("Seed expired" when older than 5 minutes; a SeedTime over a minute in the future is
        "Invalid seed"). Tokenizing declines by magic card only with ``VerifyCard=Y``; without it
        only the card's format is checked (as the API's CreateCardToken with VerifyCard=N).
        """
        if request.method == "GET":
            params = dict(request.query_params)
            error = self._check_seed(params)
            if error:
                return HTMLResponse(_error_page(error), status_code=200)
            session_id = secrets.token_urlsafe(16)
            with self._lock:
                self.iframe_sessions[session_id] = _IframeSession(params, request.url.path, self.now())
            return HTMLResponse(_form_page(params, session_id, request.url.path))
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        session_id = form.get("C9Session", "")
        with self._lock:
            session = self.iframe_sessions.get(session_id)
            if session is None or self.now() - session.created_at > _IFRAME_SESSION_TTL:
                return HTMLResponse(_error_page("Session expired"))
            params = session.params
            # Straight to the gateway logic: the iframe is not a /restApi client, so not logged there.
            outcome = self._run(
                {
                    "TransType": "CreateCardToken",
                    "GMID": self.gmid,
                    "GTID": self.gtid,
                    "GMPW": self.gmpw,
                    "AccountNum": form.get("AccountNum", ""),
                    "ExpDate": form.get("ExpDate", ""),
                    "CVVNum": form.get("CVVNum", ""),
                    "VerifyCard": "Y" if params.get("VerifyCard", "").upper() == "Y" else "N",
                }
            )
            if outcome.fields.get("Status") == "success":
                del self.iframe_sessions[session_id]  # one token per rendered form
        result = outcome.fields
        context = params.get("CallbackContext", "")
        if params.get("CallbackUrl"):
            payload = {
                **result,
                "TransType": "CreateCardToken",
                "InvoiceNum": params.get("InvoiceNum", ""),
                "GTID": self.gtid,
                "CallbackContext": context,
            }
            await self._deliver_callback(params["CallbackUrl"], payload)
        message = {
            "Status": result.get("Status", ""),
            "ResponseText": result.get("ResponseText") or result.get("ErrorText", ""),
            "CardToken": result.get("CardToken", ""),
            "Medium": "Credit",
            "Brand": result.get("Brand", ""),
            "AccountNum": result.get("AccountNum", ""),
            "ExpDate": result.get("ExpDate", ""),
            "CallbackContext": context,
        }
        # The reference documents the postMessage for CallbackVersion=2.0 only.
        post = params.get("CallbackVersion", "") == "2.0"
        if message["Status"] == "success":
            return HTMLResponse(_result_page(message, post))
        return HTMLResponse(_form_page(params, session_id, session.path, decline=message, post=post))

    def _check_seed(self, params: dict[str, str]) -> str | None:
        for name in ("WebGMID", "GTID", "InvoiceNum", "SeedTime", "Seed"):
            if not params.get(name):
                return f"Invalid seed: missing {name}"
        if params["WebGMID"] != self.web_gmid:
            return "Invalid WebGMID"
        if params["GTID"] != self.gtid:
            return "Invalid GTID"
        seed_time = _parse_seed_time(params["SeedTime"])
        expected = _sha256_upper(
            f"{params['InvoiceNum']}:{self.web_gmid}:{self.gtid}:{params['SeedTime']}:{self.gmpw}"
        )
        if seed_time is None or not secrets.compare_digest(params["Seed"], expected):
            return "Invalid seed"
        age = self.now() - seed_time
        if age > SEED_VALIDITY:
            return "Seed expired"
        if age < timedelta(minutes=-1):
            return "Invalid seed: SeedTime is in the future"
        return None

    async def _deliver_callback(self, url: str, payload: dict[str, str]) -> None:
        record: dict[str, Any] = {"url": url, "payload": payload, "status_code": None, "error": None}
        with self._lock:
            self.callbacks.append(record)
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            record["error"] = "CallbackUrl is not an http(s) URL"
            return
        if self.callback_transport is None and not _is_loopback(parts.hostname):
            # Tests must never reach out beyond this machine.
            record["error"] = "refused: the fake only calls loopback addresses"
            return
        try:
            async with httpx.AsyncClient(
                transport=self.callback_transport, timeout=self.callback_timeout
            ) as client:
                response = await client.post(url, json=payload)
            record["status_code"] = response.status_code
        except httpx.HTTPError as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"


def make_fake_cloud9(
    gmid: str = "1110222484", gtid: str = "GT1120095178", gmpw: str = "GMPW3010300378"
) -> FakeCloud9:
    """A fresh fake with the public sandbox credentials by default."""
    return FakeCloud9(gmid, gtid, gmpw)


# --------------------------------------------------------------------------------------------
# Field parsing: numbers may come as strings or integers, flags as Y/N in any case
# --------------------------------------------------------------------------------------------


def _present(body: dict[str, Any], name: str) -> bool:
    return body.get(name) not in (None, "")


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, int | float):
        return str(value)
    return str(value).strip()


def _amount(body: dict[str, Any], name: str, *, required: bool = False) -> int:
    """Integer cents from ``"1001"`` or ``1001``; decimals, negatives and booleans are refused."""
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise _Reject("invalidData", "109", f"{name} is required")
        return 0
    if isinstance(value, bool):
        raise _Reject("invalidData", "109", f"{name} must be integer cents")
    if isinstance(value, int):
        cents = value
    elif isinstance(value, str) and value.strip().isdigit():
        cents = int(value.strip())
    else:
        raise _Reject("invalidData", "109", f"{name} must be integer cents")
    if cents < 0:
        raise _Reject("invalidData", "109", f"{name} cannot be negative")
    return cents


def _positive(body: dict[str, Any], name: str) -> int:
    cents = _amount(body, name, required=True)
    if cents <= 0:
        raise _Reject("invalidData", "109", f"{name} must be greater than 0")
    return cents


def _flag(body: dict[str, Any], name: str) -> bool:
    return _text(body, name).upper() == "Y"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------------------------
# Iframe pages (deliberately plain: tests find elements by data-testid)
# --------------------------------------------------------------------------------------------

_STYLE = "body{font-family:sans-serif;margin:12px}label{display:block;margin:6px 0}"


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def _script_json(data: dict[str, str]) -> str:
    # Escape "<" so a value such as "</script>" in CallbackContext cannot end the script early.
    return json.dumps(data).replace("<", "\\u003c")


def _post_message_script(message: dict[str, str]) -> str:
    return f'<script>window.parent.postMessage({_script_json(message)}, "*");</script>'


def _error_page(text: str) -> str:
    return _page("Cloud9 - error", f'<p data-testid="c9-error">{html.escape(text)}</p>')


def _form_page(
    params: dict[str, str],
    session_id: str,
    path: str,
    *,
    decline: dict[str, str] | None = None,
    post: bool = False,
) -> str:
    merchant = html.escape(params.get("MerchantName", "") or "Merchant")
    notice = ""
    if decline is not None:
        notice = f'<p data-testid="c9-decline">{html.escape(decline["ResponseText"])}</p>'
        if post:
            notice += _post_message_script(decline)
    body = (
        f'<h1 data-testid="c9-merchant">{merchant}</h1>{notice}'
        f'<form method="post" action="{html.escape(path)}" data-testid="c9-form">'
        f'<input type="hidden" name="C9Session" value="{html.escape(session_id)}">'
        '<label>Card number <input name="AccountNum" data-testid="c9-card-number" '
        'autocomplete="cc-number" inputmode="numeric"></label>'
        '<label>Expiry (MMYY) <input name="ExpDate" data-testid="c9-exp" autocomplete="cc-exp" '
        'inputmode="numeric"></label>'
        '<label>CVV <input name="CVVNum" data-testid="c9-cvv" autocomplete="cc-csc" '
        'inputmode="numeric"></label>'
        '<button type="submit" data-testid="c9-submit">Submit</button></form>'
    )
    return _page(f"Cloud9 - {params.get('MerchantName', '')}", body)


def _result_page(message: dict[str, str], post: bool) -> str:
    body = (
        f'<p data-testid="c9-result" data-status="{html.escape(message["Status"])}">'
        f"Card saved: {html.escape(message['AccountNum'])}</p>"
    )
    if post:
        body += _post_message_script(message)
    return _page("Cloud9 - done", body)
