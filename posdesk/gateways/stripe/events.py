"""Stripe's webhook events read into the gateway-neutral variants (the dispatch table).

Each Stripe event type posdesk acts on maps to a reader of the event's ``data.object`` that returns
the variant it means (:class:`~posdesk.gateways.base.GatewayEvent`'s ``payment``, ``refund``,
``cancelled`` or ``method_saved``); any other type is stored and passed over. Objects without
posdesk's metadata belong to other software on the same account and read as nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from posdesk.gateways.base import AttemptCancelled
from posdesk.gateways.stripe import objects

Reader = Callable[[Any], Mapping[str, Any]]


def _payment(obj: Any) -> Mapping[str, Any]:
    return {"payment": objects.payment_of_intent(obj)}


def _charge(obj: Any) -> Mapping[str, Any]:
    return {"payment": objects.payment_of_charge(obj)}


def _refund(obj: Any) -> Mapping[str, Any]:
    return {"refund": objects.refund_of_charge(obj)}


def _cancelled(obj: Any) -> Mapping[str, Any]:
    if not objects.is_ours(objects.metadata_of(obj)):
        return {}
    return {"cancelled": AttemptCancelled(str(objects._get(obj, "id", "")))}


def _setup(obj: Any) -> Mapping[str, Any]:
    return {"method_saved": objects.setup_of_intent(obj)}


DISPATCH: Mapping[str, Reader] = {
    "payment_intent.succeeded": _payment,
    "payment_intent.processing": _payment,
    "payment_intent.payment_failed": _payment,
    "payment_intent.requires_action": _payment,
    "charge.succeeded": _charge,  # the intent's own event names the card by id only
    "charge.refunded": _refund,
    "payment_intent.canceled": _cancelled,
    "setup_intent.succeeded": _setup,
}


def read(event_type: str, obj: Any) -> dict[str, Any]:
    """The variant fields an event of ``event_type`` about ``obj`` carries (empty: not acted on)."""
    reader = DISPATCH.get(event_type)
    if reader is None:
        return {}
    return {name: value for name, value in reader(obj).items() if value is not None}
