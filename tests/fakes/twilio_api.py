"""A fake of the part of Twilio's Programmable Messaging API that posdesk uses, for tests.

Written from Twilio's public reference, independently of ``posdesk.messaging`` (the signature code
here is its own), so a test of the driver against it checks two readings of the documents:

* ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` -- form-encoded ``To``, ``From`` or
  ``MessagingServiceSid``, ``Body``, optional ``StatusCallback``; HTTP basic auth
  ``AccountSid:AuthToken``. Answers ``201`` with a Message resource (``sid`` ``SM`` + 32 hex,
  ``status`` ``queued``, or ``accepted`` through a Messaging Service, RFC 2822 dates, string
  ``num_segments``...).
* ``GET /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json`` -- the resource as it is now.
* Errors are Twilio's JSON error object ``{"code", "message", "more_info", "status"}``: 401 with code
  20003 ("Authenticate") for bad credentials, 404 with 20404, 400 with these codes:
  21602 no body, 21603 no From, 21604 no To, 21606 From is not this account's number, 21211 invalid
  To, 21610 recipient unsubscribed (replied STOP), 21614 To is not a mobile number, 21617 body over
  1600 characters, 21609 bad StatusCallback URL. (21701 for an unknown Messaging Service is the
  *fake's choice*.)

Status callbacks: after a create with ``StatusCallback``, the fake POSTs form-encoded callbacks
(``AccountSid``, ``ApiVersion``, ``From``, ``MessageSid``, ``MessageStatus``, ``SmsSid``,
``SmsStatus``, ``To``, ``ErrorCode`` on failure, ``MessagingServiceSid`` when used), each signed
with ``X-Twilio-Signature`` exactly as Twilio signs: base64(HMAC-SHA1(auth token, callback URL +
sorted ``name + value`` pairs)). They go out in order from a background thread (never from the request
handler), ``queued`` -> ``sent`` -> ``delivered`` unless the number says otherwise.

Magic ``To`` numbers (Twilio's own test numbers where it has them, the 5559xxx ones are the
*fake's choice*):

=================  ==================================================================
``+15005550001``   400, 21211 invalid number
``+15005550004``   400, 21610 unsubscribed recipient
``+15005550009``   400, 21614 not a mobile number
``+15005559003``   201, then callbacks queued -> sent -> undelivered (ErrorCode 30003)
``+15005559006``   201, then callbacks queued -> failed (ErrorCode 30006)
any other E.164    201, then callbacks queued -> sent -> delivered
=================  ==================================================================

A number that texted STOP (see :meth:`FakeTwilio.send_inbound`) also gets 21610 until it texts
START, as Twilio's default opt-out handling does.

Controls: ``fail_next(n, mode="http500"|"http503"|"http429"|"timeout", process=False)``,
``corrupt_next_signatures(n)``, ``send_status_callback(sid, status, ...)`` (a callback by hand),
``send_inbound(body, from_number)`` (a client's text to ``inbound_webhook_url``),
``wait_for_callbacks(count)``, ``release_hangs()``, ``close()``.

Usage::

    fake = FakeTwilio(inbound_webhook_url=f"{receiver}/twilio/inbound")
    with serve_app(fake.app) as base_url:
        ... TwilioSettings(account_sid=fake.account_sid, auth_token=fake.auth_token,
                           from_number=fake.from_number, base_url=base_url) ...
        fake.wait_for_callbacks(3)
    fake.close()
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import math
import queue
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

API_VERSION = "2010-04-01"
MAX_BODY = 1600
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")

INVALID_NUMBER = "+15005550001"
UNSUBSCRIBED_NUMBER = "+15005550004"
NOT_MOBILE_NUMBER = "+15005550009"
UNDELIVERED_NUMBER = "+15005559003"
FAILED_NUMBER = "+15005559006"

OPT_OUT_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
OPT_IN_WORDS = {"START", "UNSTOP", "YES"}


def twilio_signature(url: str, params: dict[str, str], auth_token: str) -> str:
    """Twilio's request signature (see the module docstring)."""
    data = url
    for name in sorted(params):
        data += name + params[name]
    mac = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def _rfc2822(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _segments(body: str) -> int:
    """Twilio's count, close enough for a fake: GSM-7 when ASCII, else UCS-2."""
    single, part = (160, 153) if body.isascii() else (70, 67)
    return 1 if len(body) <= single else math.ceil(len(body) / part)


@dataclass
class CallbackDelivery:
    """One request the fake made to a webhook (status callback or inbound message) and its answer."""

    kind: str  # "status" or "inbound"
    url: str
    params: dict[str, str]
    signature: str
    signature_valid: bool
    status_code: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class RecordedRequest:
    method: str
    path: str
    form: dict[str, str]
    authorization: str | None


@dataclass
class _Failure:
    mode: str
    seconds: float
    process: bool


@dataclass
class FakeTwilio:
    """An in-memory Twilio account with one sender number (and optionally a Messaging Service)."""

    account_sid: str = field(default_factory=lambda: "AC" + secrets.token_hex(16))
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    from_number: str = "+15005550006"
    messaging_service_sid: str = field(default_factory=lambda: "MG" + secrets.token_hex(16))
    inbound_webhook_url: str | None = None
    advanced_opt_out: bool = False  # adds OptOutType to inbound STOP/START/HELP, like Advanced Opt-Out
    auto_callbacks: bool = True

    def __post_init__(self) -> None:
        self.messages: dict[str, dict[str, Any]] = {}
        self.requests: list[RecordedRequest] = []
        self.callbacks: list[CallbackDelivery] = []
        self.opted_out: set[str] = set()
        self._status_callback_urls: dict[str, str | None] = {}
        self._lock = threading.Lock()
        self._failures: list[_Failure] = []
        self._corrupt_signatures = 0
        self._released = threading.Event()
        self._outbox: queue.Queue[tuple[str, str, str | None] | None] = queue.Queue()
        self._delivered = threading.Condition()
        self._http = httpx.Client(timeout=5.0)
        self._worker = threading.Thread(target=self._deliver_loop, name="fake-twilio-callbacks", daemon=True)
        self._worker.start()
        self.app = Starlette(
            routes=[
                Route("/2010-04-01/Accounts/{account}/Messages.json", self._create, methods=["POST"]),
                Route("/2010-04-01/Accounts/{account}/Messages/{sid}.json", self._fetch, methods=["GET"]),
            ]
        )

    # --- controls -------------------------------------------------------------------------------

    def fail_next(
        self, n: int = 1, mode: str = "http500", *, seconds: float = 30.0, process: bool = False
    ) -> None:
        """The next ``n`` API requests fail: ``http500``/``http503``/``http429`` answer with that status
        and Twilio's error body; ``timeout`` holds the request for ``seconds`` (or until
        :meth:`release_hangs`). With ``process=True`` the message is created first (ambiguous outcome)."""
        if mode not in {"http500", "http503", "http429", "timeout"}:
            raise ValueError(mode)
        with self._lock:
            self._failures.extend(_Failure(mode, seconds, process) for _ in range(n))

    def release_hangs(self) -> None:
        self._released.set()

    def corrupt_next_signatures(self, n: int = 1) -> None:
        """The next ``n`` webhook requests carry a wrong ``X-Twilio-Signature`` (signed with another token)."""
        with self._lock:
            self._corrupt_signatures += n

    def send_status_callback(
        self, sid: str, status: str, *, error_code: str | None = None, bad_signature: bool = False
    ) -> CallbackDelivery:
        """POST one status callback for message ``sid`` now (from this thread) and return what happened."""
        message = self.messages[sid]
        with self._lock:
            if bad_signature:
                self._corrupt_signatures += 1
        return self._post_status(message, status, error_code)

    def send_inbound(self, body: str, from_number: str, to: str | None = None) -> CallbackDelivery:
        """A client texts the store's number: POST Twilio's inbound webhook to ``inbound_webhook_url``.

        Like Twilio's default opt-out handling, STOP (and synonyms) blocks further messages to that
        number (21610) and START/UNSTOP/YES lifts the block.
        """
        if not self.inbound_webhook_url:
            raise RuntimeError("FakeTwilio(inbound_webhook_url=...) is not set")
        word = body.strip().upper()
        opt_out_type = None
        if word in OPT_OUT_WORDS:
            self.opted_out.add(from_number)
            opt_out_type = "STOP"
        elif word in OPT_IN_WORDS:
            self.opted_out.discard(from_number)
            opt_out_type = "START"
        elif word in {"HELP", "INFO"}:
            opt_out_type = "HELP"
        sid = "SM" + secrets.token_hex(16)
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "Body": body,
            "From": from_number,
            "FromCountry": "US",
            "MessageSid": sid,
            "NumMedia": "0",
            "NumSegments": str(_segments(body)),
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "received",
            "To": to or self.from_number,
            "ToCountry": "US",
        }
        if self.advanced_opt_out and opt_out_type:
            params["OptOutType"] = opt_out_type
        return self._post("inbound", self.inbound_webhook_url, params)

    def wait_for_callbacks(self, count: int, timeout: float = 10.0) -> list[CallbackDelivery]:
        """Wait until ``count`` webhook requests have been made; return them all."""
        with self._delivered:
            if not self._delivered.wait_for(lambda: len(self.callbacks) >= count, timeout):
                raise AssertionError(
                    f"expected {count} callbacks within {timeout}s, got {len(self.callbacks)}"
                )
            return list(self.callbacks)

    def close(self) -> None:
        self.release_hangs()
        self._outbox.put(None)
        self._worker.join(10)
        self._http.close()

    def __enter__(self) -> FakeTwilio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- API ------------------------------------------------------------------------------------

    def _authenticate(self, request: Request) -> JSONResponse | None:
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        user = password = ""
        if scheme.lower() == "basic":
            with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        good = hmac.compare_digest(user, self.account_sid) and hmac.compare_digest(password, self.auth_token)
        if not good or request.path_params["account"] != self.account_sid:
            return _error(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        return None

    async def _injected_failure(self) -> tuple[_Failure | None, JSONResponse | None]:
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is None:
            return None, None
        if failure.mode == "http500":
            return failure, _error(500, 20500, "Internal Server Error")
        if failure.mode == "http503":
            return failure, _error(503, 20503, "Service Unavailable")
        if failure.mode == "http429":
            return failure, _error(429, 20429, "Too Many Requests", {"Retry-After": "1"})
        return failure, None  # timeout: handled by the caller after (maybe) processing

    async def _hang(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self._released.is_set():
            await asyncio.sleep(0.02)

    async def _create(self, request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).multi_items()}
        self.requests.append(
            RecordedRequest("POST", request.url.path, form, request.headers.get("authorization"))
        )
        refused = self._authenticate(request)
        if refused is not None:
            return refused
        failure, answer = await self._injected_failure()
        if failure is None:
            return self._create_message(form)
        result = self._create_message(form) if failure.process else None
        if failure.mode == "timeout":
            await self._hang(failure.seconds)  # the client gives up meanwhile
            return result or _error(500, 20500, "Internal Server Error")
        assert answer is not None
        return answer

    def _create_message(self, form: dict[str, str]) -> JSONResponse:
        to = form.get("To", "")
        sender = form.get("From", "")
        service = form.get("MessagingServiceSid", "")
        body = form.get("Body", "")
        callback = form.get("StatusCallback", "")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not sender and not service:
            return _error(400, 21603, "A 'From' phone number is required.")
        if service and service != self.messaging_service_sid:
            return _error(400, 21701, f"The Messaging Service Sid {service} is invalid.")
        if sender and sender != self.from_number:
            return _error(
                400,
                21606,
                f"The From phone number {sender} is not a valid, SMS-capable inbound phone number or short code "
                "for your account.",
            )
        if not body:
            return _error(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY:
            return _error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if callback and urlsplit(callback).scheme not in {"http", "https"}:
            return _error(400, 21609, "Invalid StatusCallback url")
        if to == INVALID_NUMBER or not _E164.match(to):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if to == NOT_MOBILE_NUMBER:
            return _error(400, 21614, f"'To' number {to} is not a valid mobile number")
        if to == UNSUBSCRIBED_NUMBER or to in self.opted_out:
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        now = datetime.now(UTC)
        sid = "SM" + secrets.token_hex(16)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json"
        message: dict[str, Any] = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": _rfc2822(now),
            "date_sent": None,
            "date_updated": _rfc2822(now),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender or None,
            "messaging_service_sid": service or None,
            "num_media": "0",
            "num_segments": "0" if service else str(_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service else "queued",
            "subresource_uris": {"media": uri.removesuffix(".json") + "/Media.json"},
            "to": to,
            "uri": uri,
        }
        self.messages[sid] = message
        self._status_callback_urls[sid] = callback or None
        if self.auto_callbacks and callback:
            for status, code in self._plan(to):
                self._outbox.put((sid, status, code))
        return JSONResponse(dict(message), status_code=201)

    @staticmethod
    def _plan(to: str) -> list[tuple[str, str | None]]:
        if to == UNDELIVERED_NUMBER:
            return [("queued", None), ("sent", None), ("undelivered", "30003")]
        if to == FAILED_NUMBER:
            return [("queued", None), ("failed", "30006")]
        return [("queued", None), ("sent", None), ("delivered", None)]

    async def _fetch(self, request: Request) -> Response:
        self.requests.append(
            RecordedRequest("GET", request.url.path, {}, request.headers.get("authorization"))
        )
        refused = self._authenticate(request)
        if refused is not None:
            return refused
        message = self.messages.get(request.path_params["sid"])
        if message is None:
            return _error(404, 20404, f"The requested resource {request.url.path} was not found")
        return JSONResponse(dict(message))

    # --- webhooks -------------------------------------------------------------------------------

    def _deliver_loop(self) -> None:
        while True:
            item = self._outbox.get()
            if item is None:
                return
            sid, status, code = item
            self._post_status(self.messages[sid], status, code)

    def _post_status(self, message: dict[str, Any], status: str, error_code: str | None) -> CallbackDelivery:
        sid = message["sid"]
        message["status"] = status
        message["date_updated"] = _rfc2822(datetime.now(UTC))
        if status in {"sent", "delivered", "undelivered"} and message["date_sent"] is None:
            message["date_sent"] = message["date_updated"]
        if error_code:
            message["error_code"] = int(error_code)
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "From": message["from"] or self.from_number,
            "MessageSid": sid,
            "MessageStatus": status,
            "SmsSid": sid,
            "SmsStatus": status,
            "To": message["to"],
        }
        if message["messaging_service_sid"]:
            params["MessagingServiceSid"] = message["messaging_service_sid"]
        if error_code:
            params["ErrorCode"] = error_code
        url = self._status_callback_urls.get(sid)
        if not url:
            raise RuntimeError(f"message {sid} was created without a StatusCallback")
        return self._post("status", url, params)

    def _post(self, kind: str, url: str, params: dict[str, str]) -> CallbackDelivery:
        with self._lock:
            corrupt = self._corrupt_signatures > 0
            if corrupt:
                self._corrupt_signatures -= 1
        token = "not-" + self.auth_token if corrupt else self.auth_token
        signature = twilio_signature(url, params, token)
        delivery = CallbackDelivery(kind, url, dict(params), signature, signature_valid=not corrupt)
        try:
            response = self._http.post(url, data=params, headers={"X-Twilio-Signature": signature})
            delivery.status_code = response.status_code
        except httpx.HTTPError as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"
        with self._delivered:
            self.callbacks.append(delivery)
            self._delivered.notify_all()
        return delivery
