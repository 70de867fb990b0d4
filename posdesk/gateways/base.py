"""The one interface every payment gateway driver implements, and the values that cross it.

The companion talks to Stripe, Cloud9 and the Simulator through :class:`Gateway` only. Everything that
goes in or comes out is a frozen dataclass; amounts are :class:`~posdesk.core.money.Money`; failures
are the typed errors below, so the charge flow can say "declined" without knowing which gateway said it
(the django-payments ``BasicProvider`` and Saleor ``payment/interface.py`` habit).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from posdesk.core.money import Money


class ChargeStatus(enum.StrEnum):
    """Where a gateway says a charge stands."""

    SUCCEEDED = "succeeded"
    REQUIRES_ACTION = "requires_action"  # 3-D Secure or similar: the client must act on the page
    PROCESSING = "processing"  # accepted, the outcome comes later (by webhook)
    FAILED = "failed"
    CANCELED = "canceled"  # the attempt was cancelled: it will never take money
    REFUNDED = "refunded"


# -- errors -----------------------------------------------------------------------------------------
class GatewayError(Exception):
    """Base of every gateway failure. ``message`` is fit to show to a client or a manager."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Declined(GatewayError):
    """The card or the issuer refused (a client can try another card)."""


class Misconfigured(GatewayError):
    """Credentials are missing or wrong, or the driver does not exist: the manager must fix settings."""


class Unavailable(GatewayError):
    """The gateway did not answer or answered 5xx; the outcome of a charge is unknown until looked up.

    ``payment_ref`` names the attempt at the gateway when the driver knows it (look it up by that id)."""

    def __init__(self, message: str, payment_ref: str | None = None) -> None:
        super().__init__(message)
        self.payment_ref = payment_ref


class NotTaken(Unavailable):
    """The gateway could not do it, and nothing was charged nor will be (the attempt is over): the client
    may try again. Only a driver that made sure raises it (nothing left this machine, or it cancelled
    the attempt)."""


class BadSignature(GatewayError):
    """A webhook's signature, timestamp or body did not verify: nothing in it may be trusted."""


# -- values -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    ok: bool
    message: str


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """A known client, as a gateway customer record needs them (never a walk-in): what a driver may
    send to the gateway, and no more of the POS's client (no consent flags)."""

    id: str
    name: str
    email: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class SavedMethod:
    """A card saved at the gateway for a customer."""

    ref: str  # Stripe pm_..., Cloud9 card token, simulator pm_sim_...
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    is_default: bool = False


@dataclass(frozen=True, slots=True)
class NewCard:
    """A card entered on the page, already turned into a gateway token by the gateway's own fields."""

    token: str
    brand: str = ""
    last4: str = ""


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    """One charge. ``amount`` goes to the balance, ``tip`` on top; the gateway charges their sum.

    Exactly one of ``method_ref`` (a saved card, or the card of an earlier payment) and ``new_card``.
    ``idempotency_key`` makes a retried request answer the first attempt instead of charging twice.
    """

    amount: Money
    tip: Money
    idempotency_key: str
    metadata: Mapping[str, str]
    method_ref: str | None = None
    new_card: NewCard | None = None
    customer_ref: str | None = None
    save_card: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if (self.method_ref is None) == (self.new_card is None):
            raise ValueError("a charge needs exactly one of a saved method or a new card")
        if self.amount.currency != self.tip.currency:
            raise ValueError("amount and tip currencies differ")
        if self.amount.is_negative() or self.tip.is_negative() or (self.amount + self.tip).is_zero():
            raise ValueError("a charge must be for a positive total")
        if self.save_card and self.customer_ref is None:
            raise ValueError("only a known client's card can be saved")

    @property
    def total(self) -> Money:
        return self.amount + self.tip

    def payment(self, ref: str, status: ChargeStatus, **details: Any) -> GatewayPayment:
        """The gateway's payment ``ref`` for this request: its amounts and metadata, and what the gateway said."""
        return GatewayPayment(ref, status, self.amount, self.tip, dict(self.metadata), **details)


@dataclass(frozen=True, slots=True)
class GatewayPayment:
    """The gateway's view of one payment: what :meth:`Gateway.charge` and :meth:`Gateway.lookup` answer
    and what a webhook carries. ``action`` tells the page what the client must do when
    ``status`` is ``REQUIRES_ACTION``; ``message`` says why it failed."""

    ref: str
    status: ChargeStatus
    amount: Money
    tip: Money
    metadata: Mapping[str, str] = field(default_factory=dict)
    card_brand: str = ""
    card_last4: str = ""
    method_ref: str = ""  # to charge a later tip to the same card
    saved_method: SavedMethod | None = None  # set when the client asked to save the card
    message: str = ""
    action: Mapping[str, Any] = field(default_factory=dict)


def payment_to_wire(payment: GatewayPayment) -> dict[str, Any]:
    """A gateway-neutral JSON form of a payment (what the companion stores with a webhook event)."""
    return {
        "id": payment.ref,
        "status": payment.status.value,
        "amount": payment.amount.minor,
        "tip": payment.tip.minor,
        "currency": payment.amount.currency,
        "card_brand": payment.card_brand,
        "card_last4": payment.card_last4,
        "method_ref": payment.method_ref,
        "metadata": dict(payment.metadata),
        "message": payment.message,
    }


def payment_from_wire(obj: Any) -> GatewayPayment:
    """Read :func:`payment_to_wire`'s form; ``ValueError`` names what is wrong."""
    if not isinstance(obj, Mapping):
        raise ValueError("a payment must be an object")
    metadata = obj.get("metadata") or {}
    if not isinstance(metadata, Mapping) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError("metadata must map names to strings")
    for name in ("amount", "tip"):
        if isinstance(obj.get(name), bool) or not isinstance(obj.get(name), int):
            raise ValueError(f"{name} must be an integer")
    currency = str(obj.get("currency"))
    return GatewayPayment(
        ref=str(obj["id"])[:100],
        status=ChargeStatus(obj["status"]),
        amount=Money(obj["amount"], currency),
        tip=Money(obj["tip"], currency),
        metadata=dict(metadata),
        card_brand=str(obj.get("card_brand", ""))[:20],
        card_last4=str(obj.get("card_last4", ""))[:4],
        method_ref=str(obj.get("method_ref", ""))[:100],
        message=str(obj.get("message", ""))[:500],
    )


@dataclass(frozen=True, slots=True)
class GatewayRefund:
    ref: str
    payment_ref: str
    amount: Money
    succeeded: bool
    refunded_total: Money | None = None  # all refunded of the payment after this one, when the gateway says


@dataclass(frozen=True, slots=True)
class RefundUpdate:
    """The gateway's refunded total of one payment (a refund made anywhere: the POS, the dashboard)."""

    payment_ref: str
    refunded_total: Money


@dataclass(frozen=True, slots=True)
class AttemptCancelled:
    """An attempt that will never take money (Stripe ``payment_intent.canceled``)."""

    payment_ref: str


@dataclass(frozen=True, slots=True)
class MethodSaved:
    """A card saved for a customer without a payment (Stripe ``setup_intent.succeeded``)."""

    setup_ref: str
    customer_ref: str
    method_ref: str
    metadata: Mapping[str, str]


def refund_to_wire(update: RefundUpdate) -> dict[str, Any]:
    return {
        "payment_ref": update.payment_ref,
        "refunded_total": update.refunded_total.minor,
        "currency": update.refunded_total.currency,
    }


def refund_from_wire(obj: Any) -> RefundUpdate:
    if not isinstance(obj, Mapping) or isinstance(obj.get("refunded_total"), bool):
        raise ValueError("a refund update must be an object")
    if not isinstance(obj.get("refunded_total"), int):
        raise ValueError("refunded_total must be an integer")
    return RefundUpdate(str(obj["payment_ref"])[:100], Money(obj["refunded_total"], str(obj.get("currency"))))


@dataclass(frozen=True, slots=True)
class GatewayEvent:
    """A verified webhook. ``event_id`` is the gateway's, unique per gateway.

    The driver reads what the event means into at most one typed variant: ``payment`` (a payment
    update), ``refund``, ``cancelled`` or ``method_saved``; an event with none of them is one the
    companion does not act on (stored and marked processed).
    """

    event_id: str
    type: str
    payment: GatewayPayment | None
    payload: Mapping[str, Any]
    refund: RefundUpdate | None = None
    cancelled: AttemptCancelled | None = None
    method_saved: MethodSaved | None = None
    verified_for: str | None = None  # the store whose secret verified it (None: a companion-wide secret)


@dataclass(frozen=True, slots=True)
class PageIntegration:
    """What the payment page needs to show this gateway's card fields.

    ``partial`` is a Jinja2 template name rendered inside the pay form (looked up in the companion's
    templates and in ``posdesk/gateways/<kind>/templates``); ``client_config`` is handed to the page's
    script as JSON; the origins are added to the page's Content-Security-Policy.
    """

    partial: str
    script_origins: tuple[str, ...] = ()
    frame_origins: tuple[str, ...] = ()
    connect_origins: tuple[str, ...] = ()
    client_config: Mapping[str, Any] = field(default_factory=dict)
    simulated: bool = False


class Gateway(Protocol):
    """One store's connection to one payment gateway. Drivers are built by
    :func:`posdesk.gateways.build_gateway`; every method may raise a :class:`GatewayError`."""

    kind: str

    def test_connection(self) -> ConnectionCheck: ...

    # customers and saved cards (never for walk-ins)
    def ensure_customer(self, client: ClientInfo, existing_ref: str | None = None) -> str: ...

    def list_methods(self, customer_ref: str) -> list[SavedMethod]: ...

    def add_method(self, customer_ref: str, card: NewCard) -> SavedMethod: ...

    def remove_method(self, customer_ref: str, method_ref: str) -> None: ...

    def set_default_method(self, customer_ref: str, method_ref: str) -> None: ...

    # the page's card fields
    def page_integration(self) -> PageIntegration: ...

    def read_new_card(self, fields: Mapping[str, str]) -> NewCard:
        """The card the page's fields carry, as a gateway token; raises :class:`Declined` when the
        fields are incomplete or invalid (the message says which)."""
        ...

    # money
    def charge(self, request: ChargeRequest) -> GatewayPayment: ...

    def confirm_action(self, payment_ref: str, fields: Mapping[str, str]) -> GatewayPayment:
        """After the client acted on the page (3-D Secure), the payment's new state."""
        ...

    def refund(self, payment_ref: str, amount: Money, idempotency_key: str) -> GatewayRefund: ...

    def lookup(self, payment_ref: str | None = None, *, metadata: Mapping[str, str] | None = None) -> GatewayPayment | None:
        """Find a payment by its reference, or by the metadata the companion attached (reconciliation
        after a crash between charge and commit)."""
        ...

    def find_attempt(self, keys: AttemptKeys) -> GatewayPayment | None:
        """Find an attempt by what the companion sent, without the gateway's id (a lost answer, a crash
        between the charge and the commit); None when the gateway has no record of it."""
        ...

    # webhooks
    def verify_and_parse_webhook(self, raw_body: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        """Verify the signature over the raw bytes and parse; raises :class:`BadSignature`."""
        ...


# -- capabilities a driver may declare (the companion tests them with isinstance) ----------------------
@dataclass(frozen=True, slots=True)
class PageAttempt:
    """An attempt the client confirms in the browser with the gateway's own script (a Stripe
    PaymentIntent): the gateway's status word, the secret the page confirms with, and the payment to
    apply (None while nobody confirmed it, or once it is cancelled)."""

    ref: str
    status: str
    amount_minor: int
    currency: str
    client_secret: str
    payment: GatewayPayment | None
    metadata: Mapping[str, str]
    confirmable: bool = False  # still waiting for the page: it may be re-priced or cancelled
    cancelled: bool = False
    saves_card: bool = False  # confirming it keeps the card for the customer


@runtime_checkable
class ConfirmsOnPage(Protocol):
    """A gateway whose card is confirmed in the browser: the companion prepares the attempt for the
    amount it computed, the page confirms it with the gateway, the companion asks the gateway (never
    the page) how it went."""

    kind: str

    def prepare_payment(self, request: ChargeRequest) -> PageAttempt: ...

    def reprice(self, payment_ref: str, total: Money) -> PageAttempt: ...

    def cancel(self, payment_ref: str) -> PageAttempt: ...

    def sync(self, payment_ref: str) -> PageAttempt:
        """The attempt as the gateway has it now, looked up by its own id."""
        ...


@runtime_checkable
class CancelsAttempts(Protocol):
    """A gateway that can cancel an attempt that has not taken money yet (one waiting for 3-D Secure or
    for the page), so nothing can complete it later."""

    def cancel_attempt(self, payment_ref: str) -> GatewayPayment | None:
        """None: cancelled (or never existed), no money will move. Otherwise the attempt could not be
        cancelled because it already moved, and this is where it stands now."""
        ...


@runtime_checkable
class FindsRefunds(Protocol):
    """A gateway that can say what became of a refund asked under an idempotency key (the worker that
    asked died before it recorded the answer)."""

    kind: str

    def find_refund(self, payment_ref: str, amount: Money, idempotency_key: str) -> GatewayRefund | None:
        """The refund made under ``idempotency_key`` (its ``refunded_total`` when the gateway says), or
        None when the gateway made no such refund. Never makes one."""
        ...


@runtime_checkable
class BoundsRefunds(Protocol):
    """A gateway that says how long one refund (or the look-up of one) can take at most, its retries and
    look-ups included: a refund's claim is kept at least that long from the moment the call starts, so a
    live worker still waiting on the gateway never loses it (``companion.payments.refund_claims``)."""

    kind: str

    def refund_time_bound(self) -> float:
        """Seconds."""
        ...


@runtime_checkable
class SavesCardsOnPage(Protocol):
    """A gateway that saves a card without a payment, confirmed in the browser (Stripe SetupIntent)."""

    kind: str

    def prepare_setup(self, customer_ref: str, metadata: Mapping[str, str], idempotency_key: str) -> tuple[str, str]: ...

    def setup_result(self, setup_ref: str) -> MethodSaved | None: ...

    def saved_method(self, customer_ref: str, method_ref: str) -> SavedMethod | None: ...


@runtime_checkable
class KeepsCardList(Protocol):
    """A gateway whose list of a customer's saved cards is the truth (cards may be attached or detached
    there by other software): the companion brings its own rows in line before showing them."""

    def lists_cards_at_gateway(self) -> bool: ...


@runtime_checkable
class ForgetsOnRestart(Protocol):
    """A gateway whose books live in the companion's memory (the Simulator): after a restart a payment
    it does not know never reached it, so no card was charged."""

    def forgets_on_restart(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class AttemptKeys:
    """Everything the companion knows about one attempt, to find it at the gateway without the
    gateway's id (a lost answer, a crash between the charge and the commit)."""

    payment_id: str
    idempotency_key: str
    invoice_id: str
    kind: str  # invoice | tip
    gateway_ref: str | None = None  # the gateway's id, when the companion recorded it


# -- what drivers do alike ----------------------------------------------------------------------------
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def checked_api_address(asked: str, gateway: str, domain: str, operator_variable: str) -> str:
    """``asked``, a store's setting for where ``gateway``'s API is, when it names ``domain`` (or a host
    under it) over https or this machine (a local stand-in); else :class:`Misconfigured`.

    A driver's credentials travel with every call, so a terminal must not be able to send them to
    another host; the operator may (``operator_variable``).
    """
    parts = urlsplit(asked)
    host = (parts.hostname or "").lower()
    if (parts.scheme == "https" and (host == domain or host.endswith("." + domain))) or (
        parts.scheme in ("http", "https") and host in LOOPBACK
    ):
        return asked
    raise Misconfigured(
        f"The {gateway} API address {asked!r} is not allowed: use {gateway}'s or one on this machine "
        f"({operator_variable} for others)"
    )


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A request header's value, whatever the case of its name (a plain mapping keeps the sender's)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value
