"""A faithful in-memory fake of the part of the Stripe API that posdesk uses, for tests.

It speaks Stripe's wire format as stripe-python 16 sends and parses it, so the *real* client is
exercised: form-encoded bodies with nested keys (``metadata[k]=v``, ``payment_method_types[0]=card``,
``expand[]=latest_charge``), bearer auth with a ``sk_test_...`` key, ``Stripe-Version`` and
``Idempotency-Key`` headers, JSON objects with ``"object": "..."``, list objects, and error bodies
``{"error": {"type", "code", "decline_code", "message", "param", ...}}`` with the HTTP status that
makes stripe-python raise the matching exception (402 -> ``stripe.CardError``, 400 with
``idempotency_error`` -> ``stripe.IdempotencyError``, 401 -> ``stripe.AuthenticationError``...).

Usage::

    fake = make_fake_stripe(webhook_url=None)
    with serve_app(fake.app) as base:
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": base}, max_network_retries=0)
        pi = client.v1.payment_intents.create(params={"amount": 1200, "currency": "usd", ...})
        fake.complete_action(pi.id)            # what Stripe.js does after a 3-D Secure challenge
    fake.close()

Behaviour follows Stripe's public API reference and its documented test cards: ``pm_card_visa``,
``pm_card_mastercard``, ``pm_card_chargeDeclined``, ``pm_card_chargeDeclinedInsufficientFunds``,
``pm_card_authenticationRequired`` (always 3DS), ``pm_card_authenticationRequiredOnSetup`` (3DS on
session; off-session works once the card was set up) and a few more (see ``TEST_CARDS``).
Using a test name where a PaymentMethod id is expected creates a new ``pm_...`` cloned from it, as
Stripe does.

Things deliberately *not* faked: manual capture, non-card payment methods, Connect, sources, raw card
numbers over the API. Asking for them gives a clear 400 rather than a silent wrong answer.

Webhooks: every state change records an Event; when ``webhook_url`` is set the event is POSTed as raw
JSON bytes with a valid ``Stripe-Signature`` header, from a background thread (never from the request
handler, so a receiver living in the same process cannot deadlock the fake). See ``FakeStripe`` for the
delivery controls (manual mode with duplicates and shuffling, dropping, wrong signatures).

Browser stand-in support: ``/_test/...`` JSON endpoints (CORS-enabled) let ``stripe_js/stripe.js``
confirm intents from a page on another loopback port, like Stripe.js does with a client secret.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import hmac
import json
import queue
import random
import re
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = [
    "DEFAULT_API_VERSION",
    "TEST_CARDS",
    "TEST_CARD_NUMBERS",
    "FakeStripe",
    "FakeStripeError",
    "RecordedRequest",
    "WebhookDelivery",
    "decode_form",
    "make_fake_stripe",
    "sign_webhook_payload",
]

# The version stripe-python 16.1 pins; echoed when a request does not send ``Stripe-Version``.
DEFAULT_API_VERSION = "2026-10-28.endive"

Obj = dict[str, Any]


# --------------------------------------------------------------------------------------------------
# Test cards (Stripe's documented test PaymentMethods)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestCard:
    """One of Stripe's test cards and how the fake's "issuer" treats it."""

    number: str
    brand: str
    funding: str = "credit"
    country: str = "US"
    exp_month: int = 12
    # Decline on charge: (error code, decline code, message); None = approve.
    decline: tuple[str, str, str] | None = None
    # Also decline when saving the card with a SetupIntent (a $0 verification)?
    decline_on_setup: bool = False
    # 3-D Secure: "never" | "always" | "unless_setup" (on-session always; off-session once set up).
    three_d_secure: str = "never"

    __test__ = False  # not a pytest test class despite the name

    @property
    def last4(self) -> str:
        return self.number[-4:]


_GENERIC = ("card_declined", "generic_decline", "Your card was declined.")
TEST_CARDS: dict[str, TestCard] = {
    "pm_card_visa": TestCard("4242424242424242", "visa"),
    "pm_card_visa_debit": TestCard("4000056655665556", "visa", funding="debit"),
    "pm_card_mastercard": TestCard("5555555555554444", "mastercard"),
    "pm_card_amex": TestCard("378282246310005", "amex"),
    "pm_card_chargeDeclined": TestCard("4000000000000002", "visa", decline=_GENERIC, decline_on_setup=True),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard(
        "4000000000009995",
        "visa",
        decline=("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    ),
    "pm_card_chargeDeclinedExpiredCard": TestCard(
        "4000000000000069",
        "visa",
        decline=("expired_card", "expired_card", "Your card has expired."),
        decline_on_setup=True,
    ),
    "pm_card_chargeDeclinedIncorrectCvc": TestCard(
        "4000000000000127",
        "visa",
        decline=("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."),
        decline_on_setup=True,
    ),
    "pm_card_authenticationRequired": TestCard("4000002760003184", "visa", three_d_secure="always"),
    "pm_card_authenticationRequiredOnSetup": TestCard(
        "4000002500003155", "visa", three_d_secure="unless_setup"
    ),
    "pm_card_threeDSecure2Required": TestCard("4000000000003220", "visa", three_d_secure="always"),
    "pm_card_authenticationRequiredChargeDeclinedInsufficientFunds": TestCard(
        "4000008260003178",
        "visa",
        three_d_secure="always",
        decline=("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    ),
}
# Card number -> test PaymentMethod name: what the Stripe.js stand-in maps typed numbers to.
TEST_CARD_NUMBERS: dict[str, str] = {card.number: name for name, card in TEST_CARDS.items()}

_ACTIVE_PI = ("requires_payment_method", "requires_confirmation", "requires_action")
_CANCELABLE_PI = (*_ACTIVE_PI, "requires_capture", "processing")
# API versions from this date on reject ``payment_method_types`` as a parameter (2026-09-30.endive).
_PAYMENT_METHOD_TYPES_REMOVED = "2026-09-30"
_MIN_AMOUNT = {"usd": 50, "eur": 50, "cad": 50, "aud": 50, "chf": 50, "nzd": 50, "gbp": 30, "sgd": 50}
_ZERO_DECIMAL = {"jpy", "krw", "vnd", "clp", "pyg", "xaf", "xof", "ugx", "rwf", "kmf", "gnf", "bif", "djf"}


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------

_ALNUM = string.ascii_letters + string.digits


def _rand(n: int = 24) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def _new_id(prefix: str) -> str:
    """An id shaped like Stripe's: prefix, underscore, 24 alphanumerics."""
    return f"{prefix}_{_rand()}"


def _now() -> int:
    return int(time.time())


def _fmt_money(amount: int, currency: str) -> str:
    if currency in _ZERO_DECIMAL:
        return f"{amount} {currency.upper()}"
    if currency == "usd":
        return f"${amount / 100:.2f}"
    return f"{amount / 100:.2f} {currency.upper()}"


_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def _split_key(key: str) -> list[str]:
    """``"a[b][0]"`` -> ``["a", "b", "0"]``; ``"expand[]"`` -> ``["expand", ""]``."""
    match = _KEY_RE.match(key)
    if not match:
        return [key]
    head, rest = match.groups()
    return [head, *re.findall(r"\[([^\[\]]*)\]", rest)]


def _listify(node: Any, key: str | None = None) -> Any:
    if not isinstance(node, dict):
        return node
    # Dicts keyed 0..n become lists -- except metadata, whose keys are the user's own strings.
    if key != "metadata" and node and all(k.isdigit() for k in node):
        return [_listify(node[k]) for k in sorted(node, key=int)]
    return {k: _listify(v, k) for k, v in node.items()}


def decode_form(pairs: Iterable[tuple[str, str]]) -> Obj:
    """Decode Stripe's bracketed form encoding into nested dicts and lists.

    Accepts both array spellings Stripe accepts: indexed (``payment_method_types[0]=card``, what
    stripe-python sends) and empty brackets (``payment_method_types[]=card``, what curl examples use).
    """
    root: Obj = {}
    for key, value in pairs:
        parts = _split_key(key)
        node = root
        for i, part in enumerate(parts):
            if part == "":  # "a[]": append
                part = str(len(node))
            if i == len(parts) - 1:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = {}
                    node[part] = child
                node = child
    decoded: Obj = _listify(root)
    return decoded


def sign_webhook_payload(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header for ``payload``: ``t=<unix>,v1=<HMAC-SHA256 hex>``.

    The signed message is ``f"{t}.{payload}"`` with the endpoint secret (``whsec_...``) as the key,
    exactly what ``stripe.Webhook.construct_event`` verifies.
    """
    t = _now() if timestamp is None else timestamp
    mac = hmac.new(secret.encode("utf-8"), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


class StripeAPIError(Exception):
    """An API error answered with Stripe's error body; ``store`` = kept for idempotent replays."""

    def __init__(self, status: int, error: Obj, *, store: bool | None = None) -> None:
        super().__init__(error.get("message"))
        self.status = status
        self.error = error
        # Stripe saves the result only once the endpoint started executing: a declined card (402)
        # is replayed, a request that failed parameter validation (400/404) is not.
        self.store = status == 402 if store is None else store


class FakeStripeError(RuntimeError):
    """Misuse of a test control (e.g. ``complete_action`` on an intent that needs no action)."""


def _invalid(message: str, *, param: str | None = None, code: str | None = None, status: int = 400) -> StripeAPIError:
    error: Obj = {"type": "invalid_request_error", "message": message}
    if param is not None:
        error["param"] = param
    if code is not None:
        error["code"] = code
        error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    return StripeAPIError(status, error)


def _missing(kind: str, obj_id: str, param: str = "id") -> StripeAPIError:
    return _invalid(f"No such {kind}: '{obj_id}'", param=param, code="resource_missing", status=404)


def _unexpected_state(message: str, kind: str = "payment_intent") -> StripeAPIError:
    return _invalid(message, code=f"{kind}_unexpected_state")


# ---- parameter readers (messages as Stripe words them) ----


def _check_params(params: Obj, allowed: Iterable[str]) -> None:
    allowed_set = {*allowed, "expand"}
    for name in params:
        if name not in allowed_set:
            raise _invalid(f"Received unknown parameter: {name}", param=name, code="parameter_unknown")


def _require(params: Obj, name: str) -> Any:
    if name not in params or params[name] == "":
        raise _invalid(f"Missing required param: {name}.", param=name, code="parameter_missing")
    return params[name]


def _int(params: Obj, name: str, *, required: bool = False, positive: bool = True) -> int | None:
    if name not in params:
        if required:
            _require(params, name)
        return None
    raw = params[name]
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise _invalid(f"Invalid integer: {raw}", param=name) from None
    if positive and value < 1:
        raise _invalid("This value must be greater than or equal to 1.", param=name)
    return value


def _bool(params: Obj, name: str, default: bool = False) -> bool:
    if name not in params:
        return default
    raw = params[name]
    if raw in ("true", True):
        return True
    if raw in ("false", False, ""):
        return False
    raise _invalid(f"Invalid boolean: {raw}", param=name)


def _str(params: Obj, name: str, choices: Iterable[str] | None = None) -> str | None:
    if name not in params:
        return None
    value = params[name]
    if not isinstance(value, str):
        raise _invalid(f"Invalid string: {value!r}", param=name)
    if choices is not None and value != "" and value not in choices:
        raise _invalid(
            f"Invalid {name}: must be one of {', '.join(choices)}", param=name, code="parameter_invalid_string"
        )
    return value


def _apply_metadata(target: Obj, value: Any) -> None:
    """Stripe's metadata update rules: keys merge, ``""`` as a value unsets a key, ``metadata=""``
    clears all; at most 50 keys, keys <= 40 characters, values <= 500 characters."""
    if value == "":
        target.clear()
        return
    if not isinstance(value, dict):
        raise _invalid("Invalid hash", param="metadata")
    for key, val in value.items():
        if len(key) > 40:
            raise _invalid(f"Metadata keys can have up to 40 characters: {key}", param=f"metadata[{key}]")
        if val == "":
            target.pop(key, None)
        elif not isinstance(val, str):
            raise _invalid("Invalid metadata value", param=f"metadata[{key}]")
        elif len(val) > 500:
            raise _invalid("Metadata values can have up to 500 characters.", param=f"metadata[{key}]")
        else:
            target[key] = val
    if len(target) > 50:
        raise _invalid("You can specify up to 50 keys in metadata.", param="metadata")


def _list_object(url: str, items: list[Obj], params: Obj, filters: Iterable[str] = ()) -> Obj:
    """A Stripe list object, newest first, with ``limit``/``starting_after``/``ending_before``; the
    ``filters`` given in ``params`` (``customer``, ``payment_intent``...) keep the objects that match."""
    items = [o for o in items if all(o[key] == params[key] for key in filters if params.get(key))]
    limit = _int(params, "limit") or 10
    limit = min(limit, 100)
    ordered = list(reversed(items))  # items come in creation order
    ids = [o["id"] for o in ordered]
    if params.get("starting_after"):
        cursor = params["starting_after"]
        start = ids.index(cursor) + 1 if cursor in ids else len(ids)
        window = ordered[start:]
        page, has_more = window[:limit], len(window) > limit
    elif params.get("ending_before"):
        cursor = params["ending_before"]
        end = ids.index(cursor) if cursor in ids else 0
        window = ordered[:end]
        page, has_more = window[-limit:], len(window) > limit
    else:
        page, has_more = ordered[:limit], len(ordered) > limit
    return {"object": "list", "data": page, "has_more": has_more, "url": url}


# --------------------------------------------------------------------------------------------------
# Records of what happened (for assertions)
# --------------------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One request the fake answered under ``/v1``."""

    method: str
    path: str
    params: Obj
    idempotency_key: str | None
    stripe_version: str | None
    status: int = 0
    replayed: bool = False


@dataclass
class WebhookDelivery:
    """One webhook POST attempt."""

    event_id: str
    event_type: str
    attempt: int
    status_code: int | None
    error: str | None
    signature: str | None
    at: float = field(default_factory=time.time)

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class _Stored:
    method: str
    path: str
    fingerprint: str
    status: int
    body: bytes
    request_id: str


@dataclass
class _Ctx:
    """The API request that caused a change (recorded on the Events it creates)."""

    request_id: str | None = None
    idempotency_key: str | None = None
    api_version: str = DEFAULT_API_VERSION
    base_url: str = ""


# --------------------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------------------


class FakeStripe:
    """In-memory Stripe with an ASGI ``app`` and test controls.

    State (plain dicts of Stripe-shaped objects, keyed by id; read them freely in assertions):
    ``customers``, ``payment_methods``, ``payment_intents``, ``setup_intents``, ``charges``,
    ``refunds``, ``disputes``, ``events`` (list, creation order), ``requests`` (``RecordedRequest``),
    ``deliveries`` (``WebhookDelivery``), ``browser_confirmations`` (what the Stripe.js stand-in sent).

    Controls: ``complete_action``, ``confirm_from_browser``, ``settle``, ``create_dispute``,
    ``charge_count``, ``fail_next``, ``delay_next``, ``deliver``, ``redeliver_failed``,
    ``wait_for_webhooks``, ``close``; attributes ``webhook_url``, ``webhook_secret``,
    ``webhooks_mode`` ("immediate" | "manual"), ``drop_webhooks``, ``sign_with``
    ("correct" | "wrong" | "stale" | "missing"), ``hold_processing``, ``account``.
    """

    def __init__(self, webhook_url: str | None = None, webhook_secret: str = "whsec_test") -> None:
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.webhooks_mode = "immediate"
        self.drop_webhooks = False
        self.sign_with = "correct"
        # Immediate mode retries a failed delivery a few times, quickly (Stripe retries for days);
        # after that the event counts as undelivered (``delivery_success=false``).
        self.webhook_max_attempts = 3
        self.webhook_retry_delay = 0.05
        self.webhook_timeout = 10.0
        # When True, successful card payments stop in "processing" until ``settle()``.
        self.hold_processing = False
        # Stripe's Search is eventually consistent ("don't use search for read-after-write flows"): an
        # intent written less than this many seconds ago is not found by ``/v1/payment_intents/search``.
        self.search_lag = 2.0
        self._written_at: dict[str, float] = {}
        self.publishable_key = "pk_test_fake"
        self.account: Obj = {
            "id": "acct_1FakePosdeskTest0001",
            "object": "account",
            "business_profile": {"name": "Posdesk Test Shop", "url": None, "support_email": None},
            "settings": {"dashboard": {"display_name": "Posdesk Test Shop", "timezone": "Etc/UTC"}},
            "country": "US",
            "default_currency": "usd",
            "charges_enabled": True,
            "payouts_enabled": True,
            "details_submitted": True,
            "email": "owner@example.test",
            "type": "standard",
            "livemode": False,
        }

        self.customers: dict[str, Obj] = {}
        self.payment_methods: dict[str, Obj] = {}
        self.payment_intents: dict[str, Obj] = {}
        self.setup_intents: dict[str, Obj] = {}
        self.charges: dict[str, Obj] = {}
        self.refunds: dict[str, Obj] = {}
        self.disputes: dict[str, Obj] = {}
        self.events: list[Obj] = []
        self.requests: list[RecordedRequest] = []
        self.deliveries: list[WebhookDelivery] = []
        self.browser_confirmations: list[Obj] = []

        self._lock = threading.RLock()
        self._events_by_id: dict[str, Obj] = {}
        self._pm_card: dict[str, TestCard] = {}  # pm id -> its test card
        self._pm_set_up: set[str] = set()  # PMs authenticated for off-session use
        self._pm_consumed: set[str] = set()  # used once without a customer, or detached
        self._delivery_ok: dict[str, bool] = {}  # event id -> delivered (True) / failed (False)
        self._idempotency: dict[tuple[str, str], _Stored] = {}
        self._inflight: set[tuple[str, str]] = set()
        self._failures: list[tuple[int, bool]] = []
        self._delays: list[tuple[float, bool]] = []
        self._manual_queue: list[str] = []
        self._outbox: queue.Queue[str | None] = queue.Queue()
        self._outstanding = 0
        self._idle = threading.Condition(self._lock)
        self._worker: threading.Thread | None = None

        self.app = self._build_app()

    # ==============================================================================================
    # Test controls
    # ==============================================================================================

    def fail_next(self, n: int = 1, status: int = 500, *, after_processing: bool = False) -> None:
        """Answer the next ``n`` ``/v1`` requests with HTTP ``status`` and a Stripe error body.

        ``after_processing=False``: the request never reaches the API (an outage): nothing changes,
        nothing is stored for its idempotency key. ``True``: the request *is* processed and its
        result stored, but the client gets the error -- a lost response. Retrying with the same
        ``Idempotency-Key`` then replays the real result, as Stripe does.
        """
        with self._lock:
            self._failures.extend([(status, after_processing)] * n)

    def delay_next(self, seconds: float, n: int = 1, *, after_processing: bool = False) -> None:
        """Delay the next ``n`` ``/v1`` requests by ``seconds`` (to make client timeouts happen).

        By default the delay comes before processing (a slow Stripe: a retry with the same
        idempotency key while it is pending gets 409 ``idempotency_key_in_use``); with
        ``after_processing=True`` the work is done first and only the response is late.
        """
        with self._lock:
            self._delays.extend([(seconds, after_processing)] * n)

    def complete_action(self, intent_id: str, succeed: bool = True) -> Obj:
        """Finish the 3-D Secure challenge of a PaymentIntent/SetupIntent in ``requires_action``.

        What Stripe.js ``handleNextAction``/``confirmPayment`` do when the customer passes
        (``succeed=True``: the payment proceeds, and can still be declined by the issuer) or fails
        the challenge (``payment_intent_authentication_failure``). Returns the intent.
        """
        with self._lock:
            intent = self._intent_by_id(intent_id)
            if intent["status"] != "requires_action":
                raise FakeStripeError(f"{intent_id} is {intent['status']}, not requires_action")
            # A failed challenge or a decline after authentication: the intent records it.
            with contextlib.suppress(StripeAPIError):
                self._complete_action(intent, succeed, _Ctx())
            return copy.deepcopy(intent)

    def confirm_from_browser(
        self,
        client_secret: str,
        payment_method: str,
        *,
        return_url: str | None = None,
        elements: Obj | None = None,
    ) -> Obj:
        """Confirm an intent by its client secret, as Stripe.js does from the payment page.

        ``payment_method`` is a test name (``pm_card_visa``) or a ``pm_...`` id. ``elements`` are the
        Elements options the page used (``mode``, ``amount``, ``currency``, ``setupFutureUsage``);
        like Stripe.js, a currency/setup_future_usage/mode mismatch with the intent is an error.
        Returns ``{"payment_intent": {...}}``/``{"setup_intent": {...}}`` or ``{"error": {...}}``.
        No 3-D Secure is auto-completed here: see ``complete_action``.
        """
        _status, body = self._browser_confirm(
            {"client_secret": client_secret, "payment_method": payment_method, "return_url": return_url,
             "elements": elements},
            _Ctx(),
        )
        return body

    def settle(self, payment_intent_id: str, succeed: bool = True) -> Obj:
        """Finish a payment held in ``processing`` (see ``hold_processing``)."""
        with self._lock:
            pi = self._get(self.payment_intents, payment_intent_id, "payment_intent")
            if pi["status"] != "processing":
                raise FakeStripeError(f"{payment_intent_id} is {pi['status']}, not processing")
            charge = self.charges[pi["latest_charge"]]
            pm = self.payment_methods[pi["payment_method"]]
            if succeed:
                self._succeed_payment(pi, charge, pm, _Ctx())
            else:
                card = self._pm_card[pm["id"]]
                decline = card.decline or _GENERIC
                charge.update(status="failed", failure_code=decline[0], failure_message=decline[2])
                with contextlib.suppress(StripeAPIError):
                    self._fail_payment(pi, charge, pm, decline, _Ctx())
            return copy.deepcopy(pi)

    def create_dispute(self, payment_intent_id: str, reason: str = "fraudulent") -> Obj:
        """Open a dispute on the PaymentIntent's charge (``charge.dispute.created``)."""
        with self._lock:
            pi = self._get(self.payment_intents, payment_intent_id, "payment_intent")
            charge = self.charges.get(pi.get("latest_charge") or "")
            if charge is None or charge["status"] != "succeeded":
                raise FakeStripeError(f"{payment_intent_id} has no successful charge to dispute")
            dispute: Obj = {
                "id": _new_id("dp"), "object": "dispute", "amount": charge["amount"],
                "charge": charge["id"], "created": _now(), "currency": charge["currency"],
                "livemode": False, "metadata": {}, "payment_intent": pi["id"], "reason": reason,
                "status": "needs_response", "is_charge_refundable": False,
            }
            self.disputes[dispute["id"]] = dispute
            charge["disputed"] = True
            self._emit("charge.dispute.created", dispute, _Ctx())
            return copy.deepcopy(dispute)

    def charge_count(
        self, *, payment_intent: str | None = None, invoice_id: str | None = None, status: str = "succeeded"
    ) -> int:
        """How many charges with ``status`` exist for a PaymentIntent and/or ``metadata.invoice_id``.

        The double-charge detector: after any retry storm it must be at most 1 per invoice.
        """
        with self._lock:
            return sum(
                1
                for ch in self.charges.values()
                if ch["status"] == status
                and (payment_intent is None or ch["payment_intent"] == payment_intent)
                and (invoice_id is None or ch["metadata"].get("invoice_id") == invoice_id)
            )

    def events_of_type(self, event_type: str) -> list[Obj]:
        with self._lock:
            return [e for e in self.events if e["type"] == event_type]

    def pending_webhooks(self) -> list[str]:
        """Event ids queued in manual mode, waiting for ``deliver()``."""
        with self._lock:
            return list(self._manual_queue)

    def deliver(self, duplicate: int = 1, shuffle: bool = False, seed: int | None = None) -> list[WebhookDelivery]:
        """Manual mode: POST every queued event now, each ``duplicate`` times, optionally shuffled.

        Models Stripe's at-least-once, unordered delivery. Runs in the calling thread and returns
        the attempts; the queue is emptied. Failed attempts count as undelivered events.
        """
        if duplicate < 1:
            raise ValueError("duplicate must be >= 1: every event is delivered at least once")
        with self._lock:
            batch = [eid for eid in self._manual_queue for _ in range(duplicate)]
            self._manual_queue.clear()
        if shuffle:
            random.Random(seed).shuffle(batch)
        results = []
        with httpx.Client(timeout=self.webhook_timeout) as client:
            for eid in batch:
                results.append(self._post_event(client, eid, attempt=1))
        return results

    def redeliver_failed(self) -> list[WebhookDelivery]:
        """Send again every event whose delivery failed or was dropped (Stripe's later retries)."""
        with self._lock:
            failed = [eid for eid, ok in self._delivery_ok.items() if not ok]
        with httpx.Client(timeout=self.webhook_timeout) as client:
            return [self._post_event(client, eid, attempt=0) for eid in failed]

    def wait_for_webhooks(self, timeout: float = 10.0) -> bool:
        """Block until immediate-mode deliveries (with their retries) are done; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._outstanding:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def close(self) -> None:
        """Stop the delivery thread (after finishing queued deliveries)."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            self._outbox.put(None)
            worker.join(30)

    def __enter__(self) -> FakeStripe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ==============================================================================================
    # Events and webhook delivery
    # ==============================================================================================

    def _emit(self, event_type: str, obj: Obj, ctx: _Ctx) -> Obj:
        """Record an Event whose ``data.object`` is a snapshot of ``obj`` and schedule its delivery."""
        event: Obj = {
            "id": _new_id("evt"),
            "object": "event",
            "api_version": ctx.api_version,
            "created": _now(),
            "data": {"object": copy.deepcopy(obj)},
            "livemode": False,
            "pending_webhooks": 1 if self.webhook_url else 0,
            "request": {"id": ctx.request_id, "idempotency_key": ctx.idempotency_key},
            "type": event_type,
        }
        self.events.append(event)
        self._events_by_id[event["id"]] = event
        if not self.webhook_url:
            return event
        if self.drop_webhooks:
            self._delivery_ok[event["id"]] = False  # lost: reconciliation has to find it
        elif self.webhooks_mode == "manual":
            self._manual_queue.append(event["id"])
        else:
            self._outstanding += 1
            self._ensure_worker()
            self._outbox.put(event["id"])
        return event

    def _ensure_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._deliver_loop, name="fake-stripe-webhooks", daemon=True)
            self._worker.start()

    def _deliver_loop(self) -> None:
        """Background delivery, in event order; a thread so that a receiver in this process (even one
        that calls back into the fake) never waits on the request that created the event."""
        with httpx.Client(timeout=self.webhook_timeout) as client:
            while True:
                try:
                    event_id = self._outbox.get(timeout=2.0)
                except queue.Empty:
                    with self._lock:  # idle: exit, so forgotten fakes leave no thread behind
                        if self._outbox.empty():
                            if self._worker is threading.current_thread():
                                self._worker = None
                            return
                    continue
                if event_id is None:
                    return
                try:
                    for attempt in range(1, max(1, self.webhook_max_attempts) + 1):
                        if self._post_event(client, event_id, attempt).ok:
                            break
                        time.sleep(self.webhook_retry_delay * attempt)
                except Exception:  # never let a delivery bug kill the thread or leak into pytest
                    pass
                finally:
                    with self._idle:
                        self._outstanding -= 1
                        self._idle.notify_all()

    def _post_event(self, client: httpx.Client, event_id: str, attempt: int) -> WebhookDelivery:
        with self._lock:
            event = self._events_by_id[event_id]
            url = self.webhook_url
            payload = json.dumps(event, indent=2).encode("utf-8")  # Stripe sends pretty-printed JSON
            mode = self.sign_with
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}
        signature = None
        if mode != "missing":
            if mode == "wrong":
                signature = sign_webhook_payload(payload, self.webhook_secret + "_wrong")
            elif mode == "stale":  # outside construct_event's 300 s tolerance
                signature = sign_webhook_payload(payload, self.webhook_secret, _now() - 3600)
            else:
                signature = sign_webhook_payload(payload, self.webhook_secret)
            headers["Stripe-Signature"] = signature
        status_code: int | None = None
        error: str | None = None
        if url is None:
            error = "no webhook_url"
        else:
            try:
                status_code = client.post(url, content=payload, headers=headers).status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
        record = WebhookDelivery(event_id, event["type"], attempt, status_code, error, signature)
        with self._lock:
            self.deliveries.append(record)
            if record.ok:
                self._delivery_ok[event_id] = True
                event["pending_webhooks"] = 0
            elif not self._delivery_ok.get(event_id):
                self._delivery_ok[event_id] = False
        return record

    # ==============================================================================================
    # HTTP layer
    # ==============================================================================================

    def _build_app(self) -> Starlette:
        methods = ["GET", "POST", "DELETE"]
        test_methods = ["GET", "POST", "OPTIONS"]
        return Starlette(
            routes=[
                Route("/v1/{rest:path}", self._handle_api, methods=methods),
                Route("/_test/confirm", self._t_confirm, methods=test_methods),
                Route("/_test/complete_action", self._t_complete_action, methods=test_methods),
                Route("/_test/intent", self._t_intent, methods=test_methods),
                Route("/_test/health", self._t_health, methods=test_methods),
                Route("/_test/3ds/{intent_id}", self._t_3ds_page, methods=["GET"]),
            ]
        )

    @staticmethod
    def _json(status: int, body: Obj, headers: dict[str, str] | None = None) -> Response:
        return Response(json.dumps(body), status_code=status, media_type="application/json", headers=headers)

    def _check_auth(self, header: str | None) -> StripeAPIError | None:
        if not header:
            return StripeAPIError(
                401,
                {
                    "type": "invalid_request_error",
                    "message": "You did not provide an API key. You need to provide your API key in the "
                    "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
                },
            )
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() == "basic":  # curl -u sk_test_x:
            try:
                key = base64.b64decode(key).decode().split(":", 1)[0]
            except Exception:
                key = ""
        elif scheme.lower() != "bearer":
            key = ""
        if key.startswith(("sk_test_", "rk_test_")) and len(key) > len("sk_test_"):
            return None
        if key.startswith("pk_"):
            message = "This API call cannot be made with a publishable API key. Please use a secret API key."
        else:
            masked = (key[:8] + "*" * max(0, len(key) - 12) + key[-4:]) if len(key) > 12 else key
            message = f"Invalid API Key provided: {masked}"
        return StripeAPIError(401, {"type": "invalid_request_error", "message": message})

    async def _handle_api(self, request: Request) -> Response:
        method = request.method
        path = request.url.path
        request_id = _new_id("req")
        version = request.headers.get("stripe-version")
        out_headers = {"Request-Id": request_id, "Stripe-Version": version or DEFAULT_API_VERSION}
        raw = await request.body()
        pairs = parse_qsl(request.url.query, keep_blank_values=True)
        if method == "POST":
            pairs += parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        params = decode_form(pairs)
        idem_key = request.headers.get("idempotency-key") if method == "POST" else None
        record = RecordedRequest(method, path, params, idem_key, version)

        with self._lock:
            self.requests.append(record)
            failure = self._failures.pop(0) if self._failures else None
            delay = self._delays.pop(0) if self._delays else None

        def finish(status: int, body: Obj, extra: dict[str, str] | None = None) -> Response:
            record.status = status
            return self._json(status, body, {**out_headers, **(extra or {})})

        if failure is not None and not failure[1]:
            if delay is not None:
                await asyncio.sleep(delay[0])
            return finish(failure[0], self._injected_error(failure[0]), {"Stripe-Should-Retry": "true"})

        auth_error = self._check_auth(request.headers.get("authorization"))
        if auth_error is not None:
            return finish(auth_error.status, {"error": auth_error.error})

        scope = None
        if idem_key:
            scope = (request.headers.get("authorization", ""), idem_key)
            fingerprint = json.dumps(params, sort_keys=True)
            with self._lock:
                stored = self._idempotency.get(scope)
                if stored is not None:
                    misuse = None
                    if (stored.method, stored.path) != (method, path):
                        misuse = (
                            "can only be used for the same endpoint they were first used for "
                            f"('{stored.path}' vs '{path}')."
                        )
                    elif stored.fingerprint != fingerprint:
                        misuse = "can only be used with the same parameters they were first used with."
                    if misuse is not None:
                        message = (
                            f"Keys for idempotent requests {misuse} Try using a key other than '{idem_key}' "
                            "if you meant to execute a different request."
                        )
                        return finish(400, {"error": {"type": "idempotency_error", "message": message}})
                    record.status, record.replayed = stored.status, True
                    return Response(
                        stored.body,
                        status_code=stored.status,
                        media_type="application/json",
                        headers={**out_headers, "Idempotent-Replayed": "true", "Original-Request": stored.request_id},
                    )
                if scope in self._inflight:
                    err = {
                        "type": "idempotency_error",
                        "code": "idempotency_key_in_use",
                        "message": "There is currently another in-progress request using this "
                        f"Idempotent Key (that probably means you submitted twice, and the other request "
                        f"is still going through): {idem_key}. Please try again later.",
                    }
                    return finish(409, {"error": err})
                self._inflight.add(scope)

        try:
            if delay is not None and not delay[1]:
                await asyncio.sleep(delay[0])
            ctx = _Ctx(request_id, idem_key, version or DEFAULT_API_VERSION, str(request.base_url).rstrip("/"))
            with self._lock:
                try:
                    status, body = 200, self._dispatch(method, path, params, ctx)
                    store = True
                except StripeAPIError as exc:
                    status, body, store = exc.status, {"error": exc.error}, exc.store
                encoded = json.dumps(body).encode("utf-8")
                if scope is not None and store:
                    self._idempotency[scope] = _Stored(method, path, fingerprint, status, encoded, request_id)
        finally:
            if scope is not None:
                with self._lock:
                    self._inflight.discard(scope)

        if delay is not None and delay[1]:
            await asyncio.sleep(delay[0])
        if failure is not None:  # after_processing: the work is done, the response is "lost"
            return finish(failure[0], self._injected_error(failure[0]), {"Stripe-Should-Retry": "true"})
        record.status = status
        return Response(encoded, status_code=status, media_type="application/json", headers=out_headers)

    @staticmethod
    def _injected_error(status: int) -> Obj:
        if status == 429:
            return {"error": {"type": "invalid_request_error", "code": "rate_limit",
                              "message": "Too many requests hit the API too quickly."}}
        if status < 500:
            return {"error": {"type": "invalid_request_error", "message": f"Injected HTTP {status}."}}
        return {"error": {"type": "api_error", "message": "An unknown error occurred (injected by the fake)."}}

    # ---- routing ----

    _ROUTES: tuple[tuple[str, str, str], ...] = (
        ("POST", r"/v1/customers", "customer_create"),
        ("GET", r"/v1/customers", "customer_list"),
        ("GET", r"/v1/customers/(?P<id>[^/]+)", "customer_retrieve"),
        ("POST", r"/v1/customers/(?P<id>[^/]+)", "customer_update"),
        ("DELETE", r"/v1/customers/(?P<id>[^/]+)", "customer_delete"),
        ("GET", r"/v1/customers/(?P<id>[^/]+)/payment_methods", "customer_payment_methods"),
        ("GET", r"/v1/payment_methods", "pm_list"),
        ("POST", r"/v1/payment_methods", "pm_create"),
        ("GET", r"/v1/payment_methods/(?P<id>[^/]+)", "pm_retrieve"),
        ("POST", r"/v1/payment_methods/(?P<id>[^/]+)", "pm_update"),
        ("POST", r"/v1/payment_methods/(?P<id>[^/]+)/attach", "pm_attach"),
        ("POST", r"/v1/payment_methods/(?P<id>[^/]+)/detach", "pm_detach"),
        ("POST", r"/v1/payment_intents", "pi_create"),
        ("GET", r"/v1/payment_intents", "pi_list"),
        ("GET", r"/v1/payment_intents/search", "pi_search"),
        ("GET", r"/v1/payment_intents/(?P<id>[^/]+)", "pi_retrieve"),
        ("POST", r"/v1/payment_intents/(?P<id>[^/]+)", "pi_update"),
        ("POST", r"/v1/payment_intents/(?P<id>[^/]+)/confirm", "pi_confirm"),
        ("POST", r"/v1/payment_intents/(?P<id>[^/]+)/cancel", "pi_cancel"),
        ("POST", r"/v1/setup_intents", "si_create"),
        ("GET", r"/v1/setup_intents", "si_list"),
        ("GET", r"/v1/setup_intents/(?P<id>[^/]+)", "si_retrieve"),
        ("POST", r"/v1/setup_intents/(?P<id>[^/]+)/confirm", "si_confirm"),
        ("POST", r"/v1/setup_intents/(?P<id>[^/]+)/cancel", "si_cancel"),
        ("POST", r"/v1/refunds", "refund_create"),
        ("GET", r"/v1/refunds", "refund_list"),
        ("GET", r"/v1/refunds/(?P<id>[^/]+)", "refund_retrieve"),
        ("GET", r"/v1/charges", "charge_list"),
        ("GET", r"/v1/charges/(?P<id>[^/]+)", "charge_retrieve"),
        ("GET", r"/v1/events", "event_list"),
        ("GET", r"/v1/events/(?P<id>[^/]+)", "event_retrieve"),
        ("GET", r"/v1/account", "account_retrieve"),
    )
    _COMPILED = tuple((m, re.compile(p + r"/?$"), h) for m, p, h in _ROUTES)

    def _dispatch(self, method: str, path: str, params: Obj, ctx: _Ctx) -> Obj:
        for route_method, pattern, handler in self._COMPILED:
            match = pattern.match(path)
            if match and route_method == method:
                params = dict(params)  # keep the recorded request intact
                expand = params.pop("expand", None) or []
                if isinstance(expand, str):
                    expand = [expand]
                result = getattr(self, f"_h_{handler}")(params, ctx, **match.groupdict())
                if method == "POST" and isinstance(result, dict) and result.get("object") == "payment_intent":
                    self._written_at[str(result.get("id"))] = time.monotonic()
                return self._expand(copy.deepcopy(result), expand)
        raise _invalid(
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can "
            "help at https://support.stripe.com/.",
            status=404,
        )

    # ---- expansion ----

    def _lookup(self, obj_id: str) -> Obj | None:
        tables = {
            "cus": self.customers, "pm": self.payment_methods, "pi": self.payment_intents,
            "seti": self.setup_intents, "ch": self.charges, "re": self.refunds, "evt": self._events_by_id,
            "dp": self.disputes,
        }
        table = tables.get(obj_id.split("_", 1)[0])
        found = table.get(obj_id) if table is not None else None
        return copy.deepcopy(found) if found is not None else None

    def _expand(self, obj: Obj, paths: list[str]) -> Obj:
        for dotted in paths:
            self._expand_path(obj, dotted.split("."), dotted)
        return obj

    def _expand_path(self, node: Any, parts: list[str], dotted: str) -> None:
        if isinstance(node, list):
            for item in node:
                self._expand_path(item, parts, dotted)
            return
        if not isinstance(node, dict) or parts[0] not in node:
            raise _invalid(f"This property cannot be expanded ({dotted}).", param="expand")
        head, rest = parts[0], parts[1:]
        value = node[head]
        if isinstance(value, str) and not rest:
            expanded = self._lookup(value)
            if expanded is not None:
                node[head] = expanded
        elif rest and value is not None:
            self._expand_path(value, rest, dotted)

    # ---- /_test endpoints for the browser stand-in ----

    _CORS: ClassVar[dict[str, str]] = {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Allow-Private-Network": "true",
        "Access-Control-Max-Age": "600",
    }

    async def _test_body(self, request: Request) -> Obj:
        if request.method == "GET":
            return dict(request.query_params)
        raw = await request.body()
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            return decode_form(parse_qsl(raw.decode(), keep_blank_values=True))
        return body if isinstance(body, dict) else {}

    async def _t_run(self, request: Request, work: Callable[[Obj, _Ctx], tuple[int, Obj]]) -> Response:
        if request.method == "OPTIONS":  # CORS preflight (JSON POSTs from another origin)
            return Response(status_code=204, headers=self._CORS)
        body = await self._test_body(request)
        ctx = _Ctx(base_url=str(request.base_url).rstrip("/"))
        status, result = work(body, ctx)
        return self._json(status, result, self._CORS)

    async def _t_confirm(self, request: Request) -> Response:
        return await self._t_run(request, self._browser_confirm)

    async def _t_complete_action(self, request: Request) -> Response:
        def work(body: Obj, ctx: _Ctx) -> tuple[int, Obj]:
            with self._lock:
                try:
                    intent = self._intent_by_secret(body.get("client_secret")) if body.get(
                        "client_secret"
                    ) else self._get_intent_api(str(body.get("id", "")))
                    succeed = body.get("succeed", True) not in (False, "false", "0", 0)
                    self._complete_action(intent, succeed, ctx)
                    return 200, {intent["object"]: copy.deepcopy(intent)}
                except StripeAPIError as exc:
                    return exc.status, {"error": exc.error}

        return await self._t_run(request, work)

    async def _t_intent(self, request: Request) -> Response:
        def work(body: Obj, ctx: _Ctx) -> tuple[int, Obj]:
            with self._lock:
                try:
                    intent = self._intent_by_secret(body.get("client_secret"))
                    return 200, {intent["object"]: copy.deepcopy(intent)}
                except StripeAPIError as exc:
                    return exc.status, {"error": exc.error}

        return await self._t_run(request, work)

    async def _t_3ds_page(self, request: Request) -> Response:
        """The page ``next_action.use_stripe_sdk.stripe_js`` points at: a stand-in 3DS challenge."""
        intent_id = request.path_params["intent_id"]
        html = (
            "<!doctype html><title>3D Secure test challenge</title><h1>Test 3D Secure challenge</h1>"
            f"<p>{intent_id}</p>"
            "<button data-testid='3ds-complete' onclick='go(true)'>Complete authentication</button>"
            "<button data-testid='3ds-fail' onclick='go(false)'>Fail authentication</button>"
            "<script>function go(ok){fetch('/_test/complete_action',{method:'POST',"
            "headers:{'Content-Type':'application/json'},"
            f"body:JSON.stringify({{id:{json.dumps(intent_id)},succeed:ok}})}})"
            ".then(function(){document.body.dataset.done='1';});}</script>"
        )
        return Response(html, media_type="text/html")

    async def _t_health(self, request: Request) -> Response:
        return await self._t_run(request, lambda body, ctx: (200, {"ok": True}))

    def _browser_confirm(self, body: Obj, ctx: _Ctx) -> tuple[int, Obj]:
        with self._lock:
            try:
                intent = self._intent_by_secret(body.get("client_secret"))
                payment_method = body.get("payment_method")
                elements = body.get("elements") or None
                self.browser_confirmations.append(
                    {"intent": intent["id"], "payment_method": payment_method, "elements": elements,
                     "intent_amount": intent.get("amount"), "return_url": body.get("return_url")}
                )
                if elements:
                    self._check_elements(intent, elements)
                if not payment_method:
                    raise _invalid("A payment method is required to confirm.", param="payment_method")
                if intent["object"] == "payment_intent":
                    self._written_at[str(intent["id"])] = time.monotonic()
                    self._confirm_pi(intent, ctx, payment_method=str(payment_method), off_session=False)
                else:
                    self._confirm_si(intent, ctx, payment_method=str(payment_method))
                return 200, {intent["object"]: copy.deepcopy(intent)}
            except StripeAPIError as exc:
                return exc.status, {"error": exc.error}

    @staticmethod
    def _check_elements(intent: Obj, elements: Obj) -> None:
        """What Stripe.js checks when a deferred-intent Elements group confirms a real intent."""
        kind = "PaymentIntent" if intent["object"] == "payment_intent" else "SetupIntent"
        mode = elements.get("mode")
        if mode and (mode == "setup") != (intent["object"] == "setup_intent"):
            raise _invalid(f"The Elements mode ({mode}) does not match the {kind} you are confirming.")
        if intent["object"] != "payment_intent":
            return
        currency = elements.get("currency")
        if currency and str(currency).lower() != intent["currency"]:
            raise _invalid(
                f"The provided currency ({str(currency).lower()}) does not match the expected currency "
                f"of the PaymentIntent ({intent['currency']})."
            )
        wanted = elements.get("setupFutureUsage") or None
        if wanted != (intent.get("setup_future_usage") or None):
            raise _invalid(
                f"The provided setup_future_usage ({wanted}) does not match the expected setup_future_usage "
                f"of the PaymentIntent ({intent.get('setup_future_usage')})."
            )

    # ==============================================================================================
    # Lookups
    # ==============================================================================================

    @staticmethod
    def _get(table: dict[str, Obj], obj_id: str, kind: str, param: str = "id") -> Obj:
        obj = table.get(obj_id)
        if obj is None:
            raise _missing(kind, obj_id, param)
        return obj

    def _get_intent_api(self, intent_id: str) -> Obj:
        if intent_id.startswith("seti_"):
            return self._get(self.setup_intents, intent_id, "setup_intent")
        return self._get(self.payment_intents, intent_id, "payment_intent")

    def _intent_by_id(self, intent_id: str) -> Obj:
        intent = self.payment_intents.get(intent_id) or self.setup_intents.get(intent_id)
        if intent is None:
            raise FakeStripeError(f"no PaymentIntent or SetupIntent {intent_id!r}")
        return intent

    def _intent_by_secret(self, client_secret: Any) -> Obj:
        secret = str(client_secret or "")
        intent_id = secret.split("_secret_", 1)[0]
        intent = self.payment_intents.get(intent_id) or self.setup_intents.get(intent_id)
        if intent is None or intent.get("client_secret") != secret:
            kind = "setup_intent" if intent_id.startswith("seti_") else "payment_intent"
            raise _missing(kind, intent_id or secret, "client_secret")
        return intent

    def _customer(self, customer_id: str, param: str = "customer") -> Obj:
        customer = self.customers.get(customer_id)
        if customer is None or customer.get("deleted"):
            raise _missing("customer", customer_id, param)
        return customer

    # ==============================================================================================
    # Payment methods
    # ==============================================================================================

    def _clone_test_pm(self, name: str) -> Obj:
        """``pm_card_visa`` -> a new ``pm_...`` with that card's details (what Stripe does)."""
        card = TEST_CARDS[name]
        pm_id = _new_id("pm")
        pm: Obj = {
            "id": pm_id,
            "object": "payment_method",
            "allow_redisplay": "unspecified",
            "billing_details": {
                "address": {"city": None, "country": None, "line1": None, "line2": None,
                            "postal_code": None, "state": None},
                "email": None, "name": None, "phone": None,
            },
            "card": {
                "brand": card.brand,
                "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
                "country": card.country,
                "display_brand": card.brand,
                "exp_month": card.exp_month,
                "exp_year": time.gmtime().tm_year + 3,
                "fingerprint": hashlib.sha256(card.number.encode()).hexdigest()[:16],
                "funding": card.funding,
                "generated_from": None,
                "last4": card.last4,
                "networks": {"available": [card.brand], "preferred": None},
                "three_d_secure_usage": {"supported": True},
                "wallet": None,
            },
            "created": _now(),
            "customer": None,
            "livemode": False,
            "metadata": {},
            "type": "card",
        }
        self.payment_methods[pm_id] = pm
        self._pm_card[pm_id] = card
        return pm

    def _pm_for_use(self, pm_ref: str, customer: str | None, param: str = "payment_method") -> Obj:
        """Resolve a PaymentMethod reference for a payment or setup, with Stripe's reuse rules."""
        if pm_ref in TEST_CARDS:
            return self._clone_test_pm(pm_ref)
        pm = self._get(self.payment_methods, pm_ref, "PaymentMethod", param)
        if pm["customer"] is None and pm_ref in self._pm_consumed:
            raise _invalid(
                "This PaymentMethod was previously used without being attached to a Customer or was detached "
                "from a Customer, and may not be used again.",
                param=param,
            )
        if pm["customer"] is not None and customer is None:
            raise _invalid(
                "The provided PaymentMethod was previously attached to a Customer. To use this PaymentMethod, "
                "include the Customer ID in the `customer` parameter.",
                param=param,
            )
        if pm["customer"] is not None and pm["customer"] != customer:
            raise _invalid(
                f"The provided PaymentMethod belongs to a different Customer ({pm['customer']}).",
                param=param,
            )
        return pm

    def _attach(self, pm: Obj, customer_id: str, ctx: _Ctx) -> None:
        if pm["customer"] == customer_id:
            return
        pm["customer"] = customer_id
        self._emit("payment_method.attached", pm, ctx)

    def _h_pm_create(self, params: Obj, ctx: _Ctx) -> Obj:
        raise _invalid(
            "Sending card numbers directly to the Stripe API is generally unsafe and is not supported by the "
            "fake. Use a test PaymentMethod such as pm_card_visa.",
            param="card",
        )

    def _h_pm_retrieve(self, params: Obj, ctx: _Ctx, id: str) -> Obj:
        _check_params(params, [])
        if id in TEST_CARDS:  # a bare test name resolves to a fresh clone, as on Stripe
            return self._clone_test_pm(id)
        return self._get(self.payment_methods, id, "PaymentMethod")

    def _h_pm_update(self, params: Obj, ctx: _Ctx, id: str) -> Obj:
        _check_params(params, ["metadata", "billing_details", "allow_redisplay", "card"])
        pm = self._get(self.payment_methods, id, "PaymentMethod")
        if "metadata" in params:
            _apply_metadata(pm["metadata"], params["metadata"])
        if isinstance(params.get("billing_details"), dict):
            for key, value in params["billing_details"].items():
                if key in pm["billing_details"] and key != "address":
                    pm["billing_details"][key] = value or None
        if isinstance(params.get("card"), dict):
            for key in ("exp_month", "exp_year"):
                if key in params["card"]:
                    pm["card"][key] = _int(params["card"], key)
        if params.get("allow_redisplay"):
            pm["allow_redisplay"] = params["allow_redisplay"]
        self._emit("payment_method.updated", pm, ctx)
        return pm

    def _h_pm_attach(self, params: Obj, ctx: _Ctx, id: str) -> Obj:
        _check_params(params, ["customer"])
        customer = self._customer(str(_require(params, "customer")))
        if id in TEST_CARDS:
            pm = self._clone_test_pm(id)
        else:
            pm = self._get(self.payment_methods, id, "PaymentMethod")
            if pm["customer"] not in (None, customer["id"]):
                raise _invalid("The payment method you provided has already been attached to a customer.")
            if pm["customer"] is None and id in self._pm_consumed:
                raise _invalid(
                    "This PaymentMethod was previously used without being attached to a Customer or was "
                    "detached from a Customer, and may not be used again."
                )
        card = self._pm_card[pm["id"]]
        if card.decline_on_setup and card.decline:
            code, decline_code, message = card.decline
            raise StripeAPIError(402, {"type": "card_error", "code": code, "decline_code": decline_code,
                                       "message": message, "param": ""}, store=True)
        self._attach(pm, customer["id"], ctx)
        return pm

    def _h_pm_detach(self, params: Obj, ctx: _Ctx, id: str) -> Obj:
        _check_params(params, [])
        pm = self._get(self.payment_methods, id, "PaymentMethod")
        if pm["customer"] is None:
            raise _invalid("The payment method you provided is not attached to a customer so detachment is "
                           "impossible.")
        customer = self.customers.get(pm["customer"])
        pm["customer"] = None
        self._pm_consumed.add(pm["id"])
        self._pm_set_up.discard(pm["id"])
        if customer is not None and customer["invoice_settings"]["default_payment_method"] == pm["id"]:
            customer["invoice_settings"]["default_payment_method"] = None
            self._emit("customer.updated", customer, ctx)
        self._emit("payment_method.detached", pm, ctx)
        return pm

    def _pms_of(self, customer_id: str, params: Obj, url: str) -> Obj:
        pm_type = params.get("type")
        if pm_type not in (None, "card"):
            items: list[Obj] = []
        else:
            items = [pm for pm in self.payment_methods.values() if pm["customer"] == customer_id]
        return _list_object(url, items, params)

    def _h_pm_list(self, params: Obj, ctx: _Ctx) -> Obj:
        _check_params(params, ["customer", "type", "limit", "starting_after", "ending_before"])
        customer = self._customer(str(_require(params, "customer")))
        return self._pms_of(customer["id"], params, "/v1/payment_methods")

    def _h_customer_payment_methods(self, params: Obj, ctx: _Ctx, id: str) -> Obj:
        _check_params(params, ["type", "limit", "starting_after", "ending_before", "allow_redisplay"])
        customer = self._customer(id, "customer")
        return self._pms_of(customer["id"], params, f"/v1/customers/{id}/payment_methods")

    # ==============================================================================================
    # Customers
    # ==============================================================================================

    _CUSTOMER_PARAMS = ("email", "name", "phone", "description", "metadata", "invoice_settings",
                        "payment_method", "address", "preferred_locales", "shipping", "tax_exempt",
                        # accepted and ignored:
                        "business_name", "individual_name", "balance", "invoice_prefix", "next_invoice_sequence",
                        "tax", "tax_id_data", "validate", "test_clock", "cash_balance", "source")

    def _h_customer_create(self, params: Obj, ctx: _Ctx) -> Obj:
        _check_params(params, self._CUSTOMER_PARAMS)
        customer: Obj = {
            "id": _new_id("cus"), "object": "customer", "address": None, "balance": 0, "created": _now(),
            "currency": None, "default_source": None, "delinquent": False, "description": None,
            "discount": None, "email": None, "invoice_prefix": _rand(8).upper(),
            "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None,
                                 "rendering_options": None},
            "livemode": False, "metadata": {}, "name": None, "next_invoice_sequence": 1, "phone": None,
            "preferred_locales": [], "shipping": None, "tax_exempt": "none", "test_clock": None,
        }
        self.customers[customer["id"]] = customer
        pm = None
        if params.get("payment_method"):
            pm = self._pm_for_use(str(params["payment_method"]), None)
        try:
            self._update_customer(customer, params, ctx, pending_pm=pm)
        except StripeAPIError:
            del self.customers[customer["id"]]
            raise
        self._emit("customer.created", customer, ctx)
        if pm is not None:
            self._attach(pm, customer["id"], ctx)
        return customer

    def _update_customer(self, customer: Obj, params: Obj, ctx: _Ctx, pending_pm: Obj | None = None) -> None:
        for key in ("email", "name", "phone", "description", "tax_exempt"):
            if key in params:
                customer[key] = params[key] or (None if key != "tax_exempt" else "none")
        for key in ("address", "shipping"):
            if key in params:
                customer[key] = params[key] or None
        if "preferred_locales" in params:
            customer["preferred_locales"] = params["preferred_locales"] or []
        if "metadata" in params:
            _apply_metadata(customer["metadata"], params["metadata"])
        settings = params.get("invoice_settings")
        if settings not in (None, ""):
            if not isinstance(settings, dict):
                raise _invalid("Invalid hash", param="invoice_settings")
            if "default_payment_method" in settings:
                pm_id = settings["default_payment_method"] or None
                if pm_id is not None:
                    pm = self.payment_methods.get(pm_id)
                    attached = pm is not None and (
                        pm["customer"] == customer["id"] or pm is pending_pm
                    )
                    if not attached:
                        raise _invalid(
                            f"The customer does not have a payment method with the ID {pm_id}. The payment "
                            "method must be attached to the customer.",
                            param="invoice_settings[default_payment_method]",
                        )
                customer["invoice_settings"]["default_payment_method"] = pm_id
            for key in ("footer", "custom_fields", "rendering_options"):
                if key in settings:
                    customer["invoice_settings"][key] = settings[key] or None

    def _h_customer_retrieve(self, params: Obj, ctx: _Ctx, id: str) -> Obj:
        _check_params(params, [])
        return self._get(self.customers, id, "customer")

    def _h_customer_update(self, params: Obj, ctx: _Ctx, id: str) -> Obj:
        _check_params(params, [p for p in self._CUSTOMER_PARAMS if p != "payment_method"])
        customer = self._customer(id, "id")
        self._update_customer(customer, params, ctx)
        self._emit("customer.updated", customer, ctx)
        return customer

    def _h_customer_delete(self, params: Obj, ctx: _Ctx, id: str) -> Obj:
        _check_params(params, [])
        customer = self._customer(id, "id")
        for pm in self.payment_methods.values():
            if pm["customer"] == id:
                pm["customer"] = None
                self._pm_consumed.add(pm["id"])
        self._emit("customer.deleted", customer, ctx)
        self.customers[id] = {"id": id, "object": "customer", "deleted": True}
        return self.customers[id]

    def _h_customer_list(self, params: Obj, ctx: _Ctx) -> Obj:
        _check_params(params, ["email", "limit", "starting_after", "ending_before", "created", "test_clock"])
        items = [c for c in self.customers.values() if not c.get("deleted")]
        if params.get("email"):
            items = [c for c in items if c.get("email") == params["email"]]
        return _list_object("/v1/customers", items, params)

    # ==============================================================================================
    # PaymentIntents
    # ==============================================================================================

    # Real Stripe parameters accepted and ignored (they do not change what the fake models).
    _PI_IGNORED = ("statement_descriptor", "statement_descriptor_suffix", "shipping", "payment_method_options",
                   "mandate_data", "mandate", "use_stripe_sdk", "on_behalf_of", "transfer_data",
                   "application_fee_amount", "transfer_group", "radar_options", "payment_method_configuration",
                   "excluded_payment_method_types", "hooks", "amount_details", "payment_method_data",
                   "confirmation_token", "payment_details", "customer_account", "amount_to_confirm")

    def _h_pi_create(self, params: Obj, ctx: _Ctx) -> Obj:
        _check_params(params, ["amount", "currency", "customer", "payment_method", "confirm", "off_session",
                               "setup_future_usage", "metadata", "return_url", "description", "receipt_email",
                               "automatic_payment_methods", "payment_method_types", "allowed_payment_method_types",
                               "capture_method",
                               "confirmation_method", "error_on_requires_action", *self._PI_IGNORED])
        amount = self._amount(params)
        currency = self._currency(params)
        self._check_min_amount(amount, currency)
        customer = self._customer(str(params["customer"])).get("id") if params.get("customer") else None
        capture = _str(params, "capture_method", ["automatic", "automatic_async", "manual"]) or "automatic_async"
        if capture == "manual":
            raise _invalid("capture_method=manual is not supported by the fake Stripe.", param="capture_method")
        sfu = _str(params, "setup_future_usage", ["on_session", "off_session"]) or None
        confirm = _bool(params, "confirm")
        off_session = self._off_session(params)
        if off_session and not confirm:
            raise _invalid("You can only pass `off_session` when `confirm=true`.", param="off_session")
        apm, pm_types, allowed = self._pm_config(params, ctx)
        if confirm and not params.get("payment_method"):
            raise _unexpected_state(
                "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the "
                "PaymentIntent, please pass a `payment_method`."
            )
        if confirm:
            self._check_return_url(apm, params, off_session)
        pi_id = _new_id("pi")
        pi: Obj = {
            "id": pi_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": 0,
            "allowed_payment_method_types": allowed,
            "application": None,
            "application_fee_amount": None,
            "automatic_payment_methods": apm,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": capture,
            "client_secret": f"{pi_id}_secret_{_rand(25)}",
            "confirmation_method": _str(params, "confirmation_method", ["automatic", "manual"]) or "automatic",
            "created": _now(),
            "currency": currency,
            "customer": customer,
            "description": params.get("description") or None,
            "excluded_payment_method_types": None,
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": {},
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": None,
            "payment_method_configuration_details": None,
            "payment_method_options": {"card": {"installments": None, "mandate_options": None, "network": None,
                                                "request_three_d_secure": "automatic"}},
            "payment_method_types": pm_types,
            "processing": None,
            "receipt_email": params.get("receipt_email") or None,
            "review": None,
            "setup_future_usage": sfu,
            "shipping": None,
            "source": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": "requires_payment_method",
            "transfer_data": None,
            "transfer_group": None,
        }
        if "metadata" in params:
            _apply_metadata(pi["metadata"], params["metadata"])
        pm = None
        if params.get("payment_method"):
            pm = self._pm_for_use(str(params["payment_method"]), customer)
            pi["payment_method"] = pm["id"]
            pi["status"] = "requires_confirmation"
        self.payment_intents[pi_id] = pi
        self._emit("payment_intent.created", pi, ctx)
        if confirm:
            self._confirm_pi(
                pi, ctx, off_session=off_session,
                error_on_requires_action=_bool(params, "error_on_requires_action"),
            )
        return pi

    @staticmethod
    def _amount(params: Obj) -> int:
        amount = _int(params, "amount", required=True)
        assert amount is not None
        if amount > 99_999_999:
            raise _invalid("Amount must be no more than $999,999.99", param="amount", code="amount_too_large")
        return amount

    @staticmethod
    def _currency(params: Obj) -> str:
        currency = str(_require(params, "currency")).lower()
        if not re.fullmatch(r"[a-z]{3}", currency):
            raise _invalid(f"Invalid currency: {currency}.", param="currency")
        return currency

    @staticmethod
    def _check_min_amount(amount: int, currency: str) -> None:
        minimum = _MIN_AMOUNT.get(currency)
        if minimum is not None and amount < minimum:
            raise _invalid(f"Amount must be at least {_fmt_money(minimum, currency)} {currency}", param="amount",
                           code="amount_too_small")

    @staticmethod
    def _off_session(params: Obj) -> bool:
        value = params.get("off_session")
        if value in ("one_off", "recurring"):
            return True
        return _bool(params, "off_session")

    @staticmethod
    def _pm_config(params: Obj, ctx: _Ctx) -> tuple[Obj | None, list[str], list[str] | None]:
        """Which payment method types an intent accepts: ``(automatic_payment_methods,
        payment_method_types, allowed_payment_method_types)``.

        ``automatic_payment_methods`` (Stripe's default since 2023: enabled, redirects allowed),
        ``allowed_payment_method_types`` (API 2026-07-29+; filters to compatible types) and
        ``payment_method_types`` are mutually exclusive. Since API version 2026-09-30.endive --
        the version stripe-python 16 sends -- ``payment_method_types`` is no longer writable and
        answers 400 ``payment_method_types_no_longer_supported``, as Stripe's changelog says.
        """
        choices = [name for name in ("automatic_payment_methods", "allowed_payment_method_types",
                                     "payment_method_types") if params.get(name) not in (None, "")]
        if len(choices) > 1:
            raise _invalid(f"You may only specify one of these parameters: {', '.join(choices)}.")
        types = params.get("payment_method_types")
        if types not in (None, "") and ctx.api_version[:10] >= _PAYMENT_METHOD_TYPES_REMOVED:
            raise _invalid(
                f"`payment_method_types` is no longer supported on API version {ctx.api_version}. Use dynamic "
                "payment methods, `excluded_payment_method_types` or `allowed_payment_method_types` instead.",
                param="payment_method_types",
                code="payment_method_types_no_longer_supported",
            )
        allowed = params.get("allowed_payment_method_types")
        if types not in (None, "") or allowed not in (None, ""):
            given: Any = types or allowed
            listed: list[str] = [given] if isinstance(given, str) else [str(t) for t in given]
            name = "payment_method_types" if types else "allowed_payment_method_types"
            if types and [t for t in listed if t != "card"]:
                raise _invalid(f"The fake Stripe only supports card payments, not {listed}.", param=name)
            if "card" not in listed:
                raise _invalid(f"The fake Stripe only supports card payments; {name} must include card.",
                               param=name)
            return None, ["card"], (listed if allowed else None)
        apm_param = params.get("automatic_payment_methods") or {"enabled": "true"}
        if not isinstance(apm_param, dict):
            raise _invalid("Invalid hash", param="automatic_payment_methods")
        if not _bool(apm_param, "enabled"):
            return None, ["card"], None
        allow = _str(apm_param, "allow_redirects", ["always", "never"]) or "always"
        return {"allow_redirects": allow, "enabled": True}, ["card"], None

    @staticmethod
    def _check_return_url(apm: Obj | None, params: Obj, off_session: bool) -> None:
        if apm and apm.get("allow_redirects") != "never" and not off_session and not params.get("return_url"):
            raise _invalid(
                "This PaymentIntent is configured to accept payment methods enabled in your Dashboard. Because "
                "some of these payment methods might redirect your customer off of your page, you must provide "
                "a `return_url`. If you don't want to accept redirect-based payment methods, set "
                "`automatic_payment_methods[enabled]` to `true` and `automatic_payment_methods[allow_redirects]` "
                "to `never` when creating Setup Intents and Payment Intents.",
                param="return_url",
            )

    def _h_pi_retrieve(self, params: Obj, ctx: _Ctx, id: str) -> Obj:
        _check_params(params, ["client_secret"])
        return self._get(self.payment_intents, id, "payment_intent")

    def _h_pi_list(self, params: Obj, ctx: _Ctx) -> Obj:
        _check_params(params, ["customer", "limit", "starting_after", "ending_before", "created"])
        return _list_object("/v1/payment_intents", list(self.payment_intents.values()), params, ("customer",))

    _SEARCH_CLAUSE = re.compile(
        r"""\s*(?:(?P<meta>metadata\[\s*['"](?P<mkey>[^'"]+)['"]\s*\])|(?P<field>[a-z_]+))\s*"""
        r"""(?P<op>:|>=|<=|>|<)\s*(?:['"](?P<sval>[^'"]*)['"]|(?P<nval>-?\d+))\s*""",
    )

    def _h_pi_search(self, params: Obj, ctx: _Ctx) -> Obj:
        """A small subset of Stripe's search language: clauses joined by AND, on ``metadata['k']``,
        ``status``, ``customer``, ``currency`` (``:``) and ``amount``/``created`` (``: > < >= <=``)."""
        _check_params(params, ["query", "limit", "page"])
        query = str(_require(params, "query"))
        clauses = []
        for part in re.split(r"\s+AND\s+", query.strip()):
            match = self._SEARCH_CLAUSE.fullmatch(part)
            if not match:
                raise _invalid(f"We were unable to parse your search query. Try using the format "
                               f"`metadata['key']:'value'`. Query: {query}", param="query")
            clauses.append(match)

        def ok(pi: Obj, m: re.Match[str]) -> bool:
            value: Any = pi["metadata"].get(m["mkey"]) if m["meta"] else pi.get(m["field"])
            wanted: Any = m["sval"] if m["sval"] is not None else int(m["nval"])
            if m["op"] == ":":
                return str(value) == str(wanted)
            if not isinstance(value, int):
                return False
            ops = {">": value > int(wanted), "<": value < int(wanted), ">=": value >= int(wanted),
                   "<=": value <= int(wanted)}
            return ops[m["op"]]

        indexed_before = time.monotonic() - self.search_lag
        found = [
            pi
            for pi in reversed(self.payment_intents.values())
            if self._written_at.get(pi["id"], 0.0) <= indexed_before and all(ok(pi, m) for m in clauses)
        ]
        limit = min(_int(params, "limit") or 10, 100)
        return {"object": "search_result", "data": found[:limit], "has_more": len(found) > limit,
                "next_page": None, "url": "/v1/payment_intents/search"}

    _PI_AFTER_FINAL = ("metadata", "description", "receipt_email", "shipping", "statement_descriptor",
                       "statement_descriptor_suffix")

    def _h_pi_update(self, params: Obj, ctx: _Ctx, id: str) -> Obj:
        _check_params(params, ["amount", "currency", "customer", "description", "metadata", "payment_method",
                               "payment_method_types", "allowed_payment_method_types", "receipt_email",
                               "setup_future_usage", "capture_method",
                               *self._PI_IGNORED])
        pi = self._get(self.payment_intents, id, "payment_intent")
        if pi["status"] not in _ACTIVE_PI:
            for name in params:
                if name not in self._PI_AFTER_FINAL:
                    raise _unexpected_state(
                        f"This PaymentIntent's {name} could not be updated because it has a status of "
                        f"{pi['status']}. You may only update the {name} of a PaymentIntent with one of the "
                        "following statuses: requires_payment_method, requires_confirmation, requires_action."
                    )
        needs_reconfirm = False
        if "amount" in params:
            amount = self._amount(params)
            self._check_min_amount(amount, pi["currency"])
            needs_reconfirm = needs_reconfirm or amount != pi["amount"]
            pi["amount"] = amount
        if "currency" in params:
            pi["currency"] = self._currency(params)
        if "customer" in params:
            pi["customer"] = self._customer(str(params["customer"]))["id"] if params["customer"] else None
        if "setup_future_usage" in params:
            pi["setup_future_usage"] = _str(params, "setup_future_usage", ["on_session", "off_session"]) or None
        if params.get("payment_method"):
            pm = self._pm_for_use(str(params["payment_method"]), pi["customer"])
            pi["payment_method"] = pm["id"]
            needs_reconfirm = True
        if params.get("payment_method_types") or params.get("allowed_payment_method_types"):
            _apm, pi["payment_method_types"], pi["allowed_payment_method_types"] = self._pm_config(
                {k: params[k] for k in ("payment_method_types", "allowed_payment_method_types") if k in params}, ctx
            )
            pi["automatic_payment_methods"] = None
        for key in ("description", "receipt_email"):
            if key in params:
                pi[key] = params[key] or None
        if "metadata" in params:
            _apply_metadata(pi["metadata"], params["metadata"])
        # An authenticated (requires_action) or ready intent whose amount or card changed must be
        # confirmed again: 3-D Secure covered the old amount.
        if needs_reconfirm and pi["status"] in ("requires_confirmation", "requires_action"):
            pi["status"] = "requires_confirmation" if pi["payment_method"] else "requires_payment_method"
            pi["next_action"] = None
        elif pi["status"] == "requires_payment_method" and pi["payment_method"]:
            pi["status"] = "requires_confirmation"
        return pi

    def _h_pi_confirm(self, params: Obj, ctx: _Ctx, id: str) -> Obj:
        _check_params(params, ["payment_method", "return_url", "off_session", "setup_future_usage",
                               "receipt_email", "error_on_requires_action", "capture_method", "client_secret",
                               "payment_method_types", "allowed_payment_method_types", *self._PI_IGNORED])
        pi = self._get(self.payment_intents, id, "payment_intent")
        if params.get("payment_method_types") or params.get("allowed_payment_method_types"):
            _apm, pi["payment_method_types"], pi["allowed_payment_method_types"] = self._pm_config(
                {k: params[k] for k in ("payment_method_types", "allowed_payment_method_types") if k in params}, ctx
            )
            pi["automatic_payment_methods"] = None
        off_session = self._off_session(params)
        if "setup_future_usage" in params and pi["status"] in _ACTIVE_PI:
            pi["setup_future_usage"] = _str(params, "setup_future_usage", ["on_session", "off_session"]) or None
        if pi["status"] in _ACTIVE_PI:
            self._check_return_url(pi["automatic_payment_methods"], params, off_session)
        self._confirm_pi(
            pi, ctx,
            payment_method=str(params["payment_method"]) if params.get("payment_method") else None,
            off_session=off_session,
            error_on_requires_action=_bool(params, "error_on_requires_action"),
        )
        return pi

    def _h_pi_cancel(self, params: Obj, ctx: _Ctx, id: str) -> Obj:
        _check_params(params, ["cancellation_reason"])
        pi = self._get(self.payment_intents, id, "payment_intent")
        if pi["status"] not in _CANCELABLE_PI:
            raise _unexpected_state(
                f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}. Only a "
                "PaymentIntent with one of the following statuses may be canceled: requires_payment_method, "
                "requires_capture, requires_confirmation, requires_action, processing."
            )
        pi["status"] = "canceled"
        pi["canceled_at"] = _now()
        pi["cancellation_reason"] = _str(
            params, "cancellation_reason", ["duplicate", "fraudulent", "requested_by_customer", "abandoned"]
        ) or None
        pi["next_action"] = None
        self._emit("payment_intent.canceled", pi, ctx)
        return pi

    # ---- the PaymentIntent state machine ----

    def _confirm_pi(
        self,
        pi: Obj,
        ctx: _Ctx,
        *,
        payment_method: str | None = None,
        off_session: bool = False,
        error_on_requires_action: bool = False,
    ) -> None:
        """requires_payment_method/requires_confirmation/requires_action -> requires_action |
        processing | succeeded, or back to requires_payment_method with a 402 on a decline."""
        if pi["status"] == "succeeded":
            raise _unexpected_state(
                "You cannot confirm this PaymentIntent because it has already succeeded after being previously "
                "confirmed."
            )
        if pi["status"] not in _ACTIVE_PI:
            raise _unexpected_state(
                f"You cannot confirm this PaymentIntent because it has a status of {pi['status']}. Only a "
                "PaymentIntent with one of the following statuses may be confirmed: requires_confirmation, "
                "requires_payment_method, requires_action."
            )
        pm_ref = payment_method or pi["payment_method"]
        if not pm_ref:
            raise _unexpected_state(
                "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the "
                "PaymentIntent, please pass a `payment_method`."
            )
        pm = self._pm_for_use(pm_ref, pi["customer"])
        pi["payment_method"] = pm["id"]
        pi["last_payment_error"] = None
        pi["next_action"] = None
        card = self._pm_card[pm["id"]]
        needs_3ds = card.three_d_secure == "always" or (
            card.three_d_secure == "unless_setup" and (not off_session or pm["id"] not in self._pm_set_up)
        )
        if needs_3ds:
            if off_session or error_on_requires_action:
                # Nobody is there to authenticate: Stripe declines with authentication_required.
                self._fail_payment(
                    pi, None, pm,
                    ("authentication_required", "authentication_required",
                     "Your card was declined. This transaction requires authentication."),
                    ctx,
                )
            pi["status"] = "requires_action"
            pi["next_action"] = {
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {
                    "type": "three_d_secure_redirect",
                    "source": _new_id("src"),
                    "stripe_js": f"{ctx.base_url}/_test/3ds/{pi['id']}",
                },
            }
            self._emit("payment_intent.requires_action", pi, ctx)
            return
        self._charge(pi, pm, card, ctx)

    def _charge(self, pi: Obj, pm: Obj, card: TestCard, ctx: _Ctx) -> None:
        charge = self._new_charge(pi, pm)
        if card.decline is not None:
            charge["status"] = "failed"
            code, decline_code, message = card.decline
            charge["failure_code"], charge["failure_message"] = code, message
            charge["outcome"] = {"network_status": "declined_by_network", "reason": decline_code,
                                 "risk_level": "normal", "seller_message": "The bank did not return any further "
                                 "details with this decline.", "type": "issuer_declined"}
            self._fail_payment(pi, charge, pm, card.decline, ctx)
        if self.hold_processing:
            charge["status"] = "pending"
            pi["status"] = "processing"
            pi["latest_charge"] = charge["id"]
            self._emit("charge.pending", charge, ctx)
            self._emit("payment_intent.processing", pi, ctx)
            return
        self._succeed_payment(pi, charge, pm, ctx)

    def _new_charge(self, pi: Obj, pm: Obj) -> Obj:
        charge: Obj = {
            "id": _new_id("ch"),
            "object": "charge",
            "amount": pi["amount"],
            "amount_captured": 0,
            "amount_refunded": 0,
            "balance_transaction": None,
            "billing_details": copy.deepcopy(pm["billing_details"]),
            "calculated_statement_descriptor": "POSDESK TEST",
            "captured": False,
            "created": _now(),
            "currency": pi["currency"],
            "customer": pi["customer"],
            "description": pi["description"],
            "disputed": False,
            "failure_code": None,
            "failure_message": None,
            "livemode": False,
            "metadata": dict(pi["metadata"]),
            "outcome": None,
            "paid": False,
            "payment_intent": pi["id"],
            "payment_method": pm["id"],
            "payment_method_details": {
                "type": "card",
                "card": {k: pm["card"][k] for k in ("brand", "country", "exp_month", "exp_year", "fingerprint",
                                                    "funding", "last4")},
            },
            "receipt_email": pi["receipt_email"],
            "receipt_url": f"https://pay.stripe.com/receipts/fake/{_rand(16)}",
            "refunded": False,
            "status": "pending",
        }
        self.charges[charge["id"]] = charge
        return charge

    def _succeed_payment(self, pi: Obj, charge: Obj, pm: Obj, ctx: _Ctx) -> None:
        charge.update(
            status="succeeded", paid=True, captured=True, amount_captured=charge["amount"],
            balance_transaction=_new_id("txn"),
            outcome={"network_status": "approved_by_network", "reason": None, "risk_level": "normal",
                     "seller_message": "Payment complete.", "type": "authorized"},
        )
        pi["status"] = "succeeded"
        pi["amount_received"] = charge["amount"]
        pi["latest_charge"] = charge["id"]
        pi["next_action"] = None
        pi["last_payment_error"] = None
        if pi["setup_future_usage"]:
            # setup_future_usage: the card is saved to the customer and authenticated for later.
            self._pm_set_up.add(pm["id"])
            if pi["customer"]:
                self._attach(pm, pi["customer"], ctx)
        if pm["customer"] is None and not pi["setup_future_usage"]:
            self._pm_consumed.add(pm["id"])  # a one-off card cannot be reused
        self._emit("charge.succeeded", charge, ctx)
        self._emit("payment_intent.succeeded", pi, ctx)

    def _fail_payment(
        self, pi: Obj, charge: Obj | None, pm: Obj, decline: tuple[str, str, str], ctx: _Ctx
    ) -> None:
        """Record a declined attempt on the intent and raise the 402 Stripe answers with."""
        code, decline_code, message = decline
        error: Obj = {
            "type": "card_error",
            "code": code,
            "decline_code": decline_code,
            "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
            "message": message,
            "payment_method": copy.deepcopy(pm),
        }
        if charge is not None:
            error["charge"] = charge["id"]
            pi["latest_charge"] = charge["id"]
        pi["status"] = "requires_payment_method"
        pi["last_payment_error"] = error
        pi["payment_method"] = None  # Stripe detaches the failed method from the intent
        pi["next_action"] = None
        if charge is not None:
            self._emit("charge.failed", charge, ctx)
        self._emit("payment_intent.payment_failed", pi, ctx)
        raise StripeAPIError(402, {**error, "payment_intent": copy.deepcopy(pi)}, store=True)

    def _complete_action(self, intent: Obj, succeed: bool, ctx: _Ctx) -> None:
        if intent["status"] != "requires_action":
            raise _unexpected_state(
                f"This {intent['object']} ({intent['id']}) does not require any action (status: "
                f"{intent['status']}).",
                intent["object"],
            )
        pm = self.payment_methods[intent["payment_method"]]
        intent["next_action"] = None
        if not succeed:
            kind = "payment_intent" if intent["object"] == "payment_intent" else "setup_intent"
            error = {
                "type": "invalid_request_error",
                "code": f"{kind}_authentication_failure",
                "doc_url": f"https://stripe.com/docs/error-codes/{kind.replace('_', '-')}-authentication-failure",
                "message": "The provided PaymentMethod has failed authentication. You can provide "
                "payment_method_data or a new PaymentMethod to attempt to fulfill this "
                f"{'PaymentIntent' if kind == 'payment_intent' else 'SetupIntent'} again.",
                "payment_method": copy.deepcopy(pm),
            }
            intent["status"] = "requires_payment_method"
            intent["payment_method"] = None
            if kind == "payment_intent":
                intent["last_payment_error"] = error
                self._emit("payment_intent.payment_failed", intent, ctx)
            else:
                intent["last_setup_error"] = error
                self._emit("setup_intent.setup_failed", intent, ctx)
            raise StripeAPIError(400, {**error, kind: copy.deepcopy(intent)})
        if intent["object"] == "setup_intent":
            self._succeed_setup(intent, pm, ctx)
        else:
            self._charge(intent, pm, self._pm_card[pm["id"]], ctx)

    # ==============================================================================================
    # SetupIntents
    # ==============================================================================================

    def _h_si_create(self, params: Obj, ctx: _Ctx) -> Obj:
        _check_params(params, ["customer", "payment_method", "confirm", "usage", "metadata", "description",
                               "return_url", "payment_method_types", "allowed_payment_method_types",
                               "automatic_payment_methods", "customer_account",
                               "payment_method_options", "mandate_data", "on_behalf_of", "use_stripe_sdk",
                               "payment_method_data", "flow_directions", "single_use", "attach_to_self",
                               "confirmation_token", "payment_method_configuration",
                               "excluded_payment_method_types"])
        customer = self._customer(str(params["customer"]))["id"] if params.get("customer") else None
        apm, pm_types, allowed = self._pm_config(params, ctx)
        si_id = _new_id("seti")
        si: Obj = {
            "id": si_id,
            "object": "setup_intent",
            "allowed_payment_method_types": allowed,
            "application": None,
            "automatic_payment_methods": apm,
            "cancellation_reason": None,
            "client_secret": f"{si_id}_secret_{_rand(25)}",
            "created": _now(),
            "customer": customer,
            "description": params.get("description") or None,
            "flow_directions": None,
            "last_setup_error": None,
            "latest_attempt": None,
            "livemode": False,
            "mandate": None,
            "metadata": {},
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": None,
            "payment_method_configuration_details": None,
            "payment_method_options": {"card": {"mandate_options": None, "network": None,
                                                "request_three_d_secure": "automatic"}},
            "payment_method_types": pm_types,
            "single_use_mandate": None,
            "status": "requires_payment_method",
            "usage": _str(params, "usage", ["on_session", "off_session"]) or "off_session",
        }
        if "metadata" in params:
            _apply_metadata(si["metadata"], params["metadata"])
        if params.get("payment_method"):
            si["payment_method"] = self._pm_for_use(str(params["payment_method"]), customer)["id"]
            si["status"] = "requires_confirmation"
        confirm = _bool(params, "confirm")
        if confirm:
            self._check_return_url(apm, params, False)
        self.setup_intents[si_id] = si
        self._emit("setup_intent.created", si, ctx)
        if confirm:
            self._confirm_si(si, ctx)
        return si

    def _h_si_retrieve(self, params: Obj, ctx: _Ctx, id: str) -> Obj:
        _check_params(params, ["client_secret"])
        return self._get(self.setup_intents, id, "setup_intent")

    def _h_si_list(self, params: Obj, ctx: _Ctx) -> Obj:
        _check_params(params, ["customer", "payment_method", "limit", "starting_after", "ending_before",
                               "created", "attach_to_self"])
        return _list_object("/v1/setup_intents", list(self.setup_intents.values()), params, ("customer",))

    def _h_si_confirm(self, params: Obj, ctx: _Ctx, id: str) -> Obj:
        _check_params(params, ["payment_method", "return_url", "mandate_data", "payment_method_options",
                               "use_stripe_sdk", "payment_method_data", "client_secret", "confirmation_token",
                               "allowed_payment_method_types"])
        si = self._get(self.setup_intents, id, "setup_intent")
        if si["status"] in _ACTIVE_PI:
            self._check_return_url(si["automatic_payment_methods"], params, False)
        self._confirm_si(si, ctx, payment_method=str(params["payment_method"]) if params.get("payment_method") else None)
        return si

    def _h_si_cancel(self, params: Obj, ctx: _Ctx, id: str) -> Obj:
        _check_params(params, ["cancellation_reason"])
        si = self._get(self.setup_intents, id, "setup_intent")
        if si["status"] not in _ACTIVE_PI:
            raise _unexpected_state(
                f"You cannot cancel this SetupIntent because it has a status of {si['status']}.", "setup_intent"
            )
        si["status"] = "canceled"
        si["cancellation_reason"] = params.get("cancellation_reason") or None
        si["next_action"] = None
        self._emit("setup_intent.canceled", si, ctx)
        return si

    def _confirm_si(self, si: Obj, ctx: _Ctx, *, payment_method: str | None = None) -> None:
        if si["status"] not in _ACTIVE_PI:
            raise _unexpected_state(
                f"You cannot confirm this SetupIntent because it has a status of {si['status']}.", "setup_intent"
            )
        pm_ref = payment_method or si["payment_method"]
        if not pm_ref:
            raise _unexpected_state(
                "You cannot confirm this SetupIntent because it's missing a payment method.", "setup_intent"
            )
        pm = self._pm_for_use(pm_ref, si["customer"])
        si["payment_method"] = pm["id"]
        si["last_setup_error"] = None
        si["latest_attempt"] = _new_id("setatt")
        card = self._pm_card[pm["id"]]
        if card.decline_on_setup and card.decline:
            code, decline_code, message = card.decline
            error = {"type": "card_error", "code": code, "decline_code": decline_code, "message": message,
                     "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
                     "payment_method": copy.deepcopy(pm)}
            si["status"] = "requires_payment_method"
            si["payment_method"] = None
            si["last_setup_error"] = error
            self._emit("setup_intent.setup_failed", si, ctx)
            raise StripeAPIError(402, {**error, "setup_intent": copy.deepcopy(si)}, store=True)
        if card.three_d_secure in ("always", "unless_setup"):
            si["status"] = "requires_action"
            si["next_action"] = {
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {"type": "three_d_secure_redirect", "source": _new_id("src"),
                                   "stripe_js": f"{ctx.base_url}/_test/3ds/{si['id']}"},
            }
            self._emit("setup_intent.requires_action", si, ctx)
            return
        self._succeed_setup(si, pm, ctx)

    def _succeed_setup(self, si: Obj, pm: Obj, ctx: _Ctx) -> None:
        si["status"] = "succeeded"
        si["next_action"] = None
        self._pm_set_up.add(pm["id"])
        if si["customer"]:
            self._attach(pm, si["customer"], ctx)
        self._emit("setup_intent.succeeded", si, ctx)

    # ==============================================================================================
    # Charges, refunds, events, account
    # ==============================================================================================

    def _h_charge_retrieve(self, params: Obj, ctx: _Ctx, id: str) -> Obj:
        _check_params(params, [])
        return self._get(self.charges, id, "charge")

    def _h_charge_list(self, params: Obj, ctx: _Ctx) -> Obj:
        _check_params(params, ["payment_intent", "customer", "limit", "starting_after", "ending_before",
                               "created", "transfer_group"])
        return _list_object("/v1/charges", list(self.charges.values()), params, ("payment_intent", "customer"))

    def _h_refund_create(self, params: Obj, ctx: _Ctx) -> Obj:
        _check_params(params, ["payment_intent", "charge", "amount", "reason", "metadata", "instructions_email",
                               "refund_application_fee", "reverse_transfer", "origin", "currency", "customer"])
        if params.get("payment_intent"):
            pi = self._get(self.payment_intents, str(params["payment_intent"]), "payment_intent", "payment_intent")
            charge = self.charges.get(pi["latest_charge"] or "")
            if pi["status"] != "succeeded" or charge is None or charge["status"] != "succeeded":
                raise _invalid(
                    f"This PaymentIntent ({pi['id']}) does not have a successful charge to refund.",
                    param="payment_intent",
                )
        elif params.get("charge"):
            charge = self._get(self.charges, str(params["charge"]), "charge", "charge")
            if charge["status"] != "succeeded":
                raise _invalid(f"Charge {charge['id']} has not succeeded and cannot be refunded.", param="charge")
        else:
            raise _invalid("One of the following params should be provided for this request: payment_intent or "
                           "charge.", code="parameter_missing")
        remaining = charge["amount_captured"] - charge["amount_refunded"]
        if remaining <= 0:
            raise _invalid(f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded")
        amount = _int(params, "amount")
        if amount is None:
            amount = remaining
        if amount > remaining:
            raise _invalid(
                f"Refund amount ({_fmt_money(amount, charge['currency'])}) is greater than unrefunded amount on "
                f"charge ({_fmt_money(remaining, charge['currency'])})",
                param="amount",
            )
        refund: Obj = {
            "id": _new_id("re"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": _new_id("txn"),
            "charge": charge["id"],
            "created": _now(),
            "currency": charge["currency"],
            "destination_details": {"card": {"reference_status": "pending", "reference_type": "acquirer_reference_number",
                                             "type": "refund"}, "type": "card"},
            "metadata": {},
            "payment_intent": charge["payment_intent"],
            "reason": _str(params, "reason", ["duplicate", "fraudulent", "requested_by_customer"]) or None,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": "succeeded",
            "transfer_reversal": None,
        }
        if "metadata" in params:
            _apply_metadata(refund["metadata"], params["metadata"])
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
        self._emit("refund.created", refund, ctx)
        self._emit("charge.refunded", charge, ctx)
        return refund

    def _h_refund_retrieve(self, params: Obj, ctx: _Ctx, id: str) -> Obj:
        _check_params(params, [])
        return self._get(self.refunds, id, "refund")

    def _h_refund_list(self, params: Obj, ctx: _Ctx) -> Obj:
        _check_params(params, ["payment_intent", "charge", "limit", "starting_after", "ending_before", "created"])
        return _list_object("/v1/refunds", list(self.refunds.values()), params, ("payment_intent", "charge"))

    def _h_event_list(self, params: Obj, ctx: _Ctx) -> Obj:
        _check_params(params, ["type", "types", "created", "delivery_success", "limit", "starting_after",
                               "ending_before"])
        items = list(self.events)
        if params.get("type"):
            pattern = re.compile("^" + re.escape(str(params["type"])).replace(r"\*", ".*") + "$")
            items = [e for e in items if pattern.match(e["type"])]
        if params.get("types"):
            types = params["types"] if isinstance(params["types"], list) else [params["types"]]
            items = [e for e in items if e["type"] in types]
        if "delivery_success" in params:
            wanted = _bool(params, "delivery_success")
            items = [e for e in items if e["id"] in self._delivery_ok and self._delivery_ok[e["id"]] == wanted]
        created = params.get("created")
        if isinstance(created, dict):
            bounds = {op: int(v) for op, v in created.items() if op in ("gt", "gte", "lt", "lte")}
            checks: dict[str, Callable[[int, int], bool]] = {
                "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b,
                "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
            }
            items = [e for e in items if all(checks[op](e["created"], v) for op, v in bounds.items())]
        elif created not in (None, ""):
            items = [e for e in items if e["created"] == int(created)]
        return _list_object("/v1/events", items, params)

    def _h_event_retrieve(self, params: Obj, ctx: _Ctx, id: str) -> Obj:
        _check_params(params, [])
        return self._get(self._events_by_id, id, "event")

    def _h_account_retrieve(self, params: Obj, ctx: _Ctx) -> Obj:
        _check_params(params, [])
        return self.account


def make_fake_stripe(webhook_url: str | None = None, webhook_secret: str = "whsec_test") -> FakeStripe:
    """Create a fake Stripe; serve ``fake.app`` (e.g. with ``tests.fakes.serve.serve_app``).

    ``webhook_url`` may also be set later (``fake.webhook_url = ...``) once the receiver is serving;
    events created before that are stored but not sent, like events before an endpoint existed.
    """
    return FakeStripe(webhook_url=webhook_url, webhook_secret=webhook_secret)
