"""Stripe's objects read into the gateway's neutral values (pure functions, no API calls).

Stripe amounts are the charge's total in the currency's smallest unit *as Stripe counts it*, which is
not always the store's (COP 50,000 is ``amount=5000000``; :mod:`posdesk.core.currencies` has the
table): every amount field goes through :func:`stripe_amount` and :func:`money_from_stripe`. Stripe has
no tip field for online payments, so the companion writes the tip in the intent's ``metadata["tip"]``
(the store's minor units) and reads it back here to split the total into amount and tip.

An intent or charge without posdesk's metadata (``payment_id`` and ``invoice_id``) belongs to other
software on the same Stripe account: it reads as ``None`` so the companion never keeps it for retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from posdesk.core.currencies import STRIPE, UnchargeableAmount, from_gateway_minor, to_gateway_minor
from posdesk.core.money import Money
from posdesk.gateways.base import (
    ChargeStatus,
    GatewayError,
    GatewayPayment,
    MethodSaved,
    PageAttempt,
    RefundUpdate,
    SavedMethod,
)

NEXT_ACTION = "stripe_next_action"  # ``GatewayPayment.action["type"]``: the page runs handleNextAction
FAILED_MESSAGE = "The payment did not go through"
SAVE_FLAG = "save_card"  # metadata: the client asked to keep this card


IntentState = PageAttempt  # a PaymentIntent, as the companion's page-confirm flow needs it
RefundReport = RefundUpdate  # ``charge.refunded``: the refunded total of the payment behind ``payment_ref``
SetupReport = MethodSaved  # a card saved without paying (``setup_intent.succeeded``)
CONFIRMABLE = ("requires_payment_method", "requires_confirmation")


def _get(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` for Stripe objects and plain dicts alike (StripeObject is not a dict since v15)."""
    if obj is None:
        return default
    try:
        value = obj[key]
    except (KeyError, TypeError, IndexError):
        return default
    return default if value is None else value


def metadata_of(obj: Any) -> dict[str, str]:
    raw = _get(obj, "metadata", {})
    if hasattr(raw, "to_dict"):  # a StripeObject (not a dict since stripe-python 15)
        raw = raw.to_dict()
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): str(v) for k, v in raw.items()}


def is_ours(metadata: Mapping[str, str]) -> bool:
    return bool(metadata.get("payment_id")) and bool(metadata.get("invoice_id"))


def tip_of(metadata: Mapping[str, str]) -> int:
    text = metadata.get("tip", "0")
    return int(text) if text.isascii() and text.isdigit() else 0


def _id(value: Any) -> str:
    """An expandable field: the id, whether Stripe sent the id or the expanded object."""
    if isinstance(value, str):
        return value
    return str(_get(value, "id", ""))


def card_of_method(method: Any) -> tuple[str, str, int, int]:
    card = _get(method, "card", {})
    return (
        str(_get(card, "brand", "")),
        str(_get(card, "last4", "")),
        int(_get(card, "exp_month", 0)),
        int(_get(card, "exp_year", 0)),
    )


def saved_method_of(method: Any, default_ref: str | None = None) -> SavedMethod:
    brand, last4, month, year = card_of_method(method)
    ref = _id(method)
    return SavedMethod(ref, brand, last4, month, year, is_default=ref == default_ref)


def stripe_amount(amount: Money) -> int:
    """``amount`` in Stripe's unit for its currency; a :class:`GatewayError` when Stripe cannot take it."""
    try:
        return to_gateway_minor(amount, STRIPE)
    except UnchargeableAmount as exc:
        raise GatewayError(str(exc)) from None


def money_from_stripe(value: int, currency: str) -> Money:
    """A Stripe amount field as :class:`Money` in the store's minor units (refused, never rounded, when
    finer than the store's amounts)."""
    return from_gateway_minor(value, currency, STRIPE)


def _split(total: int, currency: str, metadata: Mapping[str, str]) -> tuple[Money, Money]:
    whole = money_from_stripe(total, currency)
    tip = min(tip_of(metadata), whole.minor)
    return Money(whole.minor - tip, currency), Money(tip, currency)


def payment_of_intent(intent: Any) -> GatewayPayment | None:
    """What a PaymentIntent means for the companion, or None (not posdesk's, not confirmed, canceled).

    ``payment_method`` may be expanded (card brand and last 4, and the card to remember when the
    client asked to save it) or just an id (webhook payloads).
    """
    metadata = metadata_of(intent)
    if not is_ours(metadata):
        return None
    status = str(_get(intent, "status", ""))
    currency = str(_get(intent, "currency", "")).upper()
    error = _get(intent, "last_payment_error")
    if status == "succeeded":
        charge_status = ChargeStatus.SUCCEEDED
    elif status == "processing":
        charge_status = ChargeStatus.PROCESSING
    elif status == "requires_action":
        charge_status = ChargeStatus.REQUIRES_ACTION
    elif status == "requires_payment_method" and error:
        charge_status = ChargeStatus.FAILED
    else:
        return None  # created and not confirmed yet, or canceled: no money moved
    total = (
        int(_get(intent, "amount_received", 0)) if status == "succeeded" else int(_get(intent, "amount", 0))
    )
    total = total or int(_get(intent, "amount", 0))
    amount, tip = _split(total, currency, metadata)
    method = _get(intent, "payment_method")
    brand, last4, _, _ = card_of_method(method)
    if not last4 and error:
        brand, last4, _, _ = card_of_method(_get(error, "payment_method"))
    customer = _id(_get(intent, "customer", ""))
    # A card is reusable (a tip afterwards) only when it is attached to the client's customer: the
    # intent saved it, or it was a saved card. A one-off card cannot be charged again at Stripe.
    reusable = bool(customer) and charge_status is ChargeStatus.SUCCEEDED
    saved = None
    if reusable and _get(intent, "setup_future_usage") and not isinstance(method, str) and method is not None:
        saved = saved_method_of(method)
    return GatewayPayment(
        ref=str(_get(intent, "id", "")),
        status=charge_status,
        amount=amount,
        tip=tip,
        metadata=metadata,
        card_brand=brand,
        card_last4=last4,
        method_ref=_id(method) if reusable else "",
        saved_method=saved,
        message=str(_get(error, "message", FAILED_MESSAGE)) if charge_status is ChargeStatus.FAILED else "",
        action={"type": NEXT_ACTION, "payment_ref": str(_get(intent, "id", ""))}
        if charge_status is ChargeStatus.REQUIRES_ACTION
        else {},
    )


def payment_of_charge(charge: Any) -> GatewayPayment | None:
    """A successful Charge (``charge.succeeded``) as its PaymentIntent's success, with the card's
    details, which the intent's own event does not carry."""
    metadata = metadata_of(charge)
    if not is_ours(metadata) or _get(charge, "status") != "succeeded" or not _get(charge, "payment_intent"):
        return None
    currency = str(_get(charge, "currency", "")).upper()
    amount, tip = _split(int(_get(charge, "amount", 0)), currency, metadata)
    details = _get(_get(charge, "payment_method_details", {}), "card", {})
    brand, last4 = str(_get(details, "brand", "")), str(_get(details, "last4", ""))
    method_ref = _id(_get(charge, "payment_method", ""))
    customer = _id(_get(charge, "customer", ""))
    saved = None
    if customer and metadata.get(SAVE_FLAG) == "1" and method_ref:
        saved = SavedMethod(
            method_ref, brand, last4, int(_get(details, "exp_month", 0)), int(_get(details, "exp_year", 0))
        )
    return GatewayPayment(
        ref=_id(_get(charge, "payment_intent")),
        status=ChargeStatus.SUCCEEDED,
        amount=amount,
        tip=tip,
        metadata=metadata,
        card_brand=brand,
        card_last4=last4,
        method_ref=method_ref if customer else "",
        saved_method=saved,
    )


def intent_state(intent: Any) -> PageAttempt:
    status = str(_get(intent, "status", ""))
    payment = payment_of_intent(intent)
    return PageAttempt(
        ref=str(_get(intent, "id", "")),
        status=status,
        amount_minor=money_from_stripe(int(_get(intent, "amount", 0)), str(_get(intent, "currency", "")).upper()).minor,
        currency=str(_get(intent, "currency", "")).upper(),
        client_secret=str(_get(intent, "client_secret", "")),
        payment=payment,
        metadata=metadata_of(intent),
        confirmable=status in CONFIRMABLE and (payment is None or payment.status is not ChargeStatus.FAILED),
        cancelled=status == "canceled",
        saves_card=bool(_get(intent, "setup_future_usage")),
    )


def refund_of_charge(charge: Any) -> RefundReport | None:
    metadata = metadata_of(charge)
    if not is_ours(metadata) or not _get(charge, "payment_intent"):
        return None
    currency = str(_get(charge, "currency", "")).upper()
    return RefundReport(
        _id(_get(charge, "payment_intent")), money_from_stripe(int(_get(charge, "amount_refunded", 0)), currency)
    )


def setup_of_intent(setup: Any) -> SetupReport | None:
    metadata = metadata_of(setup)
    customer = _id(_get(setup, "customer", ""))
    method = _id(_get(setup, "payment_method", ""))
    if _get(setup, "status") != "succeeded" or not customer or not method or not metadata.get("client_id"):
        return None
    return SetupReport(str(_get(setup, "id", "")), customer, method, metadata)
