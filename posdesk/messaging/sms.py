"""The SMS channel: an HTTP provider interface and a Twilio-compatible driver.

Sending is ``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded ``To``,
``From`` (or ``MessagingServiceSid``), ``Body`` and ``StatusCallback``, HTTP basic auth
``AccountSid:AuthToken``. The base address is configurable, so any Twilio-compatible provider (or the
fake under ``tests/fakes/twilio_api.py``) works.

After the send, Twilio POSTs form-encoded status callbacks (``MessageSid``, ``MessageStatus``,
``ErrorCode``...) to ``StatusCallback``, and inbound texts to the number's messaging webhook. Both carry
``X-Twilio-Signature``; check it with :func:`verify_twilio_signature` *before* reading anything, then
use :func:`parse_status_callback` / :func:`parse_inbound`. An inbound STOP (and its synonyms) is a
withdrawal of SMS consent that the companion must record; START/UNSTOP gives it back.

Twilio has no idempotency key for Messages: a request that timed out after it was written may have
sent the SMS. :class:`~posdesk.messaging.base.ChannelUnavailable` says so with ``may_have_sent``.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

import httpx

from posdesk.core.client import normalize_phone
from posdesk.messaging.base import (
    Channel,
    ChannelKind,
    ChannelRejected,
    ChannelUnavailable,
    ConsentMissing,
    DeliveryUpdate,
    InvalidAddress,
    MessageStatus,
    OutgoingMessage,
    SendResult,
    single_line,
)

MAX_BODY = 1600  # Twilio refuses longer bodies (error 21617)
SIGNATURE_HEADER = "X-Twilio-Signature"

FormLike = Mapping[str, object] | Iterable[tuple[str, object]]

# --- statuses and error codes ----------------------------------------------------------------------

TWILIO_STATUSES: dict[str, MessageStatus] = {
    "accepted": MessageStatus.QUEUED,  # a Messaging Service took it and has not picked a sender yet
    "scheduled": MessageStatus.QUEUED,
    "queued": MessageStatus.QUEUED,
    "sending": MessageStatus.QUEUED,  # still at Twilio, on its way to the carrier
    "sent": MessageStatus.SENT,  # the carrier took it
    "partially_delivered": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.FAILED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}

# Delivery failures reported in callbacks (ErrorCode), in the cashier's words.
DELIVERY_ERRORS: dict[str, str] = {
    "30001": "The SMS provider's queue overflowed; try again.",
    "30002": "The SMS account is suspended.",
    "30003": "The client's phone is unreachable (switched off or out of coverage).",
    "30004": "The message was blocked by the client's phone or carrier.",
    "30005": "This number does not exist or is no longer in service.",
    "30006": "This number cannot receive text messages (landline or unreachable carrier).",
    "30007": "The client's carrier filtered the message as spam.",
    "30008": "The message could not be delivered (unknown error from the carrier).",
    "30032": "The store's toll-free sender number is not verified yet.",
    "30034": "The store's sender number is not registered for business texting (A2P 10DLC).",
    "21610": "The client replied STOP to the store's texts.",
}

UNSUBSCRIBED_CODE = "21610"


class Unsubscribed(ConsentMissing):
    """The provider says the recipient opted out (Twilio 21610: they replied STOP). The companion records
    the withdrawal of SMS consent, as for an inbound STOP."""


def _api_error(status_code: int, code: str, message: str, retry_after: float | None) -> Exception:
    """Our typed error for one of Twilio's error answers (HTTP status + ``code`` + ``message``)."""
    detail = f"{single_line(message, 160)} (Twilio {code})" if code else single_line(message, 160)
    if code == "21211":
        return InvalidAddress("This phone number is not valid; check the client's mobile number.")
    if code == "21614":
        return InvalidAddress("This number cannot receive text messages (it may be a landline).")
    if code == UNSUBSCRIBED_CODE:
        return Unsubscribed("The client replied STOP to the store's texts; they must reply START first.")
    if code in {"21612", "21408", "21608", "21617"}:
        reasons = {
            "21612": "The SMS provider cannot reach this number from the store's sender number.",
            "21408": "Texts to this country are not enabled on the store's SMS account.",
            "21608": "The store's SMS account is a trial and this number is not verified on it.",
            "21617": "The message is too long (at most 1600 characters).",
        }
        return ChannelRejected(reasons[code], code=code)
    if status_code == 401 or code == "20003":
        return ChannelUnavailable("The SMS provider refused the store's credentials; check the SMS settings.")
    if code in {"21606", "21659", "21212", "21603", "21704", "21705"}:
        return ChannelUnavailable(f"The store's SMS sender is not set up correctly: {detail}.")
    if status_code == 429 or code == "20429":
        return ChannelUnavailable(
            "The SMS provider asked us to slow down; retrying shortly.", retry_after_s=retry_after
        )
    if status_code >= 500:
        # 503 means "not now"; other 5xx may come after the message was created.
        return ChannelUnavailable(
            f"The SMS provider had a problem (HTTP {status_code}); retrying.",
            retry_after_s=retry_after,
            may_have_sent=status_code != 503,
        )
    return ChannelRejected(f"The SMS provider refused the message: {detail}.", code=code or None)


# --- addresses --------------------------------------------------------------------------------------

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_TYPED_PHONE = re.compile(r"^\+?[0-9 ().\-/]{7,24}$")


def to_e164(phone: str, default_country_code: str = "") -> str:
    """A typed phone number in E.164 (``+15550102000``), or :class:`InvalidAddress`.

    ``00`` starts an international number; without ``+`` or ``00`` the store's ``default_country_code``
    (digits, e.g. ``"1"`` or ``"44"``) is put in front, after dropping one national trunk ``0``
    (``07700 900123`` -> ``+447700900123``). For ``"1"`` an 11-digit number starting with 1 already has it.
    """
    raw = phone.strip()
    refusal = InvalidAddress(
        f"{single_line(raw, 40) or 'An empty number'} is not a mobile number we can text "
        "(use the international format, e.g. +1 555 010 2000)."
    )
    if not _TYPED_PHONE.match(raw):
        raise refusal
    number = normalize_phone(raw)
    if number.startswith("00"):
        number = "+" + number[2:]
    if not number.startswith("+"):
        code = default_country_code.strip().lstrip("+")
        if not code.isdigit():
            raise refusal
        if code == "1" and len(number) == 11 and number.startswith("1"):
            number = "+" + number
        else:
            number = f"+{code}{number[1:] if number.startswith('0') else number}"
    if not _E164.match(number):
        raise refusal
    return number


# --- signatures ------------------------------------------------------------------------------------


def _pairs(params: FormLike) -> list[tuple[str, str]]:
    items: Iterable[tuple[str, object]]
    multi_items = getattr(params, "multi_items", None)  # Starlette FormData keeps repeated keys here
    if callable(multi_items):
        items = multi_items()
    elif isinstance(params, Mapping):
        items = params.items()
    else:
        items = params
    pairs = []
    for key, value in items:
        if not isinstance(value, str):
            raise ValueError(f"form field {key!r} is not text")
        pairs.append((str(key), value))
    return pairs


def twilio_signature(url: str, params: FormLike, auth_token: str) -> str:
    """Twilio's request signature: base64(HMAC-SHA1(auth token, URL + each POST parameter's name and
    value concatenated, sorted by name (then value, for repeated names), no separators)).

    ``url`` is the full URL Twilio requested, query string included. For a JSON body Twilio signs the
    URL alone (with ``bodySHA256`` in the query); pass no params then.
    """
    payload = url + "".join(key + value for key, value in sorted(_pairs(params)))
    digest = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _port_variants(url: str) -> list[str]:
    """The URL as given, with its default port written out, and without any port: Twilio has signed
    both forms over the years, and its own libraries accept either."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.username or parts.password:
        userinfo = parts.username or ""
        if parts.password:
            userinfo += ":" + parts.password
        host = f"{userinfo}@{host}"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    with_port = urlunsplit(parts._replace(netloc=f"{host}:{port}"))
    without_port = urlunsplit(parts._replace(netloc=host))
    return list(dict.fromkeys([url, with_port, without_port]))


def verify_twilio_signature(url: str, params: FormLike, signature: str | None, auth_token: str) -> bool:
    """True when ``signature`` (the ``X-Twilio-Signature`` header) is Twilio's signature of this request.

    ``url`` must be the public URL Twilio called (scheme, host, path and query exactly): behind a proxy
    rebuild it from the companion's public address, not from the request line. ``params`` are *all*
    the POST fields received (Starlette ``FormData`` works as it is). Comparison is constant-time.
    """
    if not signature or not auth_token:
        return False
    try:
        expected = [twilio_signature(variant, params, auth_token) for variant in _port_variants(url)]
    except ValueError:
        return False
    given = signature.strip().encode("ascii", "replace")
    matches = [hmac.compare_digest(candidate.encode("ascii"), given) for candidate in expected]
    return any(matches)


# --- callbacks and inbound messages ----------------------------------------------------------------


def _field(form: Mapping[str, object], *names: str) -> str:
    for name in names:
        value = form.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def parse_status_callback(form: Mapping[str, object]) -> DeliveryUpdate | None:
    """The delivery update in a (verified) status callback, or None for a status that means nothing to
    us (answer 2xx and ignore it). Raises ``ValueError`` when the callback has no message sid.

    A failed or undelivered message carries ``ErrorCode``; its ``reason`` says what went wrong.
    """
    sid = _field(form, "MessageSid", "SmsSid")
    if not sid:
        raise ValueError("status callback without MessageSid")
    raw_status = _field(form, "MessageStatus", "SmsStatus").lower()
    status = TWILIO_STATUSES.get(raw_status)
    if status is None:
        return None
    code = _field(form, "ErrorCode") or None
    reason = None
    if status is MessageStatus.FAILED:
        reason = DELIVERY_ERRORS.get(code or "", f"The message could not be delivered ({raw_status}).")
        if code and code not in DELIVERY_ERRORS:
            reason = f"The message could not be delivered (Twilio error {code})."
    return DeliveryUpdate(provider_ref=sid, status=status, reason=reason, code=code)


class ConsentChange(enum.StrEnum):
    WITHDRAWN = "withdrawn"  # STOP and its synonyms
    GIVEN = "given"  # START, UNSTOP


# Twilio's default opt-out keywords (and the newer OPTOUT, REVOKE, STOP ALL). Opting out errs wide: a
# client who wrote "Stop." means it. Opting back in is strict: START or UNSTOP only. Twilio also lifts
# its block on "YES", but a "yes" is as likely the answer to a question, so consent stays withdrawn
# until the client says START (sends would then fail at our consent check, never reach a phone).
OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
)
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A text a client sent to the store's number. ``consent_change`` is set for STOP/START keywords."""

    provider_ref: str
    from_address: str
    to_address: str
    body: str
    consent_change: ConsentChange | None = None
    help_requested: bool = False


def _keyword(body: str) -> str:
    words = re.sub(r"[^\w\s]", " ", body).upper().split()
    return " ".join(words)


def parse_inbound(form: Mapping[str, object]) -> InboundMessage:
    """The inbound text in a (verified) messaging webhook, with the consent change it makes.

    With Twilio's Advanced Opt-Out the request carries ``OptOutType`` (STOP, START, HELP); it is part
    of the signed parameters and wins over our own keyword reading.
    """
    sid = _field(form, "MessageSid", "SmsSid")
    sender = _field(form, "From")
    if not sid or not sender:
        raise ValueError("inbound message without MessageSid or From")
    body = _field(form, "Body")
    opt_out_type = _field(form, "OptOutType").upper()
    keyword = _keyword(body)
    consent: ConsentChange | None = None
    if opt_out_type == "STOP" or (not opt_out_type and keyword in OPT_OUT_KEYWORDS):
        consent = ConsentChange.WITHDRAWN
    elif opt_out_type == "START" or (not opt_out_type and keyword in OPT_IN_KEYWORDS):
        consent = ConsentChange.GIVEN
    help_requested = opt_out_type == "HELP" or (not opt_out_type and keyword in HELP_KEYWORDS)
    return InboundMessage(
        provider_ref=sid,
        from_address=sender,
        to_address=_field(form, "To"),
        body=body,
        consent_change=consent,
        help_requested=help_requested,
    )


# --- the provider interface and the Twilio driver --------------------------------------------------


@runtime_checkable
class SmsProvider(Channel, Protocol):
    """An SMS channel whose provider reports back over HTTP (status callbacks, inbound texts)."""

    async def fetch(self, provider_ref: str) -> DeliveryUpdate | None:
        """The message's current state, asked of the provider (when a callback is late or lost)."""
        ...

    def verify_request(self, url: str, params: FormLike, signature: str | None) -> bool:
        """True when a callback or inbound request really comes from the provider."""
        ...


@dataclass(frozen=True, slots=True)
class TwilioSettings:
    """A Twilio (or compatible) account. ``auth_token`` never appears in ``repr``.

    One of ``from_number`` (E.164 or an alphanumeric sender id) and ``messaging_service_sid`` is
    required. ``status_callback_url`` is the companion's public status-callback endpoint.
    """

    account_sid: str
    auth_token: str = field(repr=False)
    from_number: str = ""
    messaging_service_sid: str = ""
    base_url: str = "https://api.twilio.com"
    status_callback_url: str = ""
    default_country_code: str = ""
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.account_sid or not self.auth_token:
            raise ValueError("Twilio needs an account SID and an auth token")
        if not (self.from_number or self.messaging_service_sid):
            raise ValueError("Twilio needs a From number or a Messaging Service SID")
        if not self.base_url.startswith(("https://", "http://")):
            raise ValueError("the SMS provider's base URL must be http(s)")

    @property
    def messages_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/2010-04-01/Accounts/{self.account_sid}/Messages.json"


class TwilioSms:
    """The SMS channel through Twilio's Messages API (``httpx``).

    Pass a long-lived ``client`` (an ``httpx.AsyncClient``) to reuse connections; without one each
    call opens its own, which is safe from any event loop. ``transport`` is for tests.
    """

    def __init__(
        self,
        settings: TwilioSettings,
        *,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self._client = client
        self._transport = transport

    def __repr__(self) -> str:
        return f"TwilioSms({self.settings!r})"

    @property
    def kind(self) -> ChannelKind:
        return ChannelKind.SMS

    def normalize_address(self, address: str) -> str:
        return to_e164(address, self.settings.default_country_code)

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Create the message at Twilio; ``queued`` with its ``SM...`` sid, or a typed error."""
        to = self.normalize_address(message.to)
        if len(message.text) > MAX_BODY:
            raise ChannelRejected(f"The message is too long (at most {MAX_BODY} characters).", code="21617")
        form = {"To": to, "Body": message.text}
        if self.settings.messaging_service_sid:
            form["MessagingServiceSid"] = self.settings.messaging_service_sid
        if self.settings.from_number:
            form["From"] = self.settings.from_number
        if self.settings.status_callback_url:
            form["StatusCallback"] = self.settings.status_callback_url
        answer = await self._request("POST", self.settings.messages_url, data=form)
        sid = answer.get("sid")
        if not isinstance(sid, str) or not sid:
            raise ChannelUnavailable("The SMS provider answered without a message id.", may_have_sent=True)
        status = TWILIO_STATUSES.get(str(answer.get("status", "")).lower(), MessageStatus.QUEUED)
        reason = None
        if status is MessageStatus.FAILED:
            code = str(answer.get("error_code") or "")
            reason = DELIVERY_ERRORS.get(code, "The SMS provider could not send the message.")
        return SendResult(provider_ref=sid, status=status, reason=reason)

    async def fetch(self, provider_ref: str) -> DeliveryUpdate | None:
        """The message's state at Twilio (``GET .../Messages/{sid}.json``)."""
        if not re.fullmatch(r"[A-Za-z0-9]{2,64}", provider_ref):
            raise ValueError("not a message sid")
        url = self.settings.messages_url.removesuffix(".json") + f"/{provider_ref}.json"
        answer = await self._request("GET", url)
        code = answer.get("error_code")
        return parse_status_callback(
            {
                "MessageSid": provider_ref,
                "MessageStatus": str(answer.get("status", "")),
                "ErrorCode": str(code or ""),
            }
        )

    def verify_request(self, url: str, params: FormLike, signature: str | None) -> bool:
        return verify_twilio_signature(url, params, signature, self.settings.auth_token)

    async def _request(self, method: str, url: str, data: dict[str, str] | None = None) -> dict[str, Any]:
        auth = httpx.BasicAuth(self.settings.account_sid, self.settings.auth_token)
        try:
            if self._client is not None:
                response = await self._client.request(
                    method, url, data=data, auth=auth, timeout=self.settings.timeout_s
                )
            else:
                async with httpx.AsyncClient(
                    transport=self._transport, timeout=self.settings.timeout_s
                ) as client:
                    response = await client.request(method, url, data=data, auth=auth)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise ChannelUnavailable(f"Could not reach the SMS provider ({type(exc).__name__}).") from None
        except httpx.TransportError as exc:
            # The request may have been written and processed before the answer was lost.
            raise ChannelUnavailable(
                f"The SMS provider did not answer in time ({type(exc).__name__}).",
                may_have_sent=method == "POST",
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success and isinstance(body, dict):
            return body
        if response.is_success:
            raise ChannelUnavailable(
                "The SMS provider gave an answer we cannot read.", may_have_sent=method == "POST"
            )
        retry_after = _retry_after(response.headers.get("Retry-After"))
        if not isinstance(body, dict):
            raise _api_error(response.status_code, "", f"HTTP {response.status_code}", retry_after)
        raise _api_error(
            response.status_code, str(body.get("code") or ""), str(body.get("message") or ""), retry_after
        )


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
