"""The values the payment flows pass around, and the groups of payment states they test."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from posdesk.companion.models import PaymentStatus
from posdesk.core.money import Money
from posdesk.core.tips import TipChoice
from posdesk.gateways.base import ChargeStatus, ClientInfo

TIP_WINDOW = timedelta(minutes=30)  # "Add a tip" on the confirmation page
IN_FLIGHT = (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION, PaymentStatus.PROCESSING)
FAILED = (PaymentStatus.FAILED, PaymentStatus.CANCELED)
COUNTED = (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)
STATUS_OF_CHARGE = {
    ChargeStatus.SUCCEEDED: PaymentStatus.SUCCEEDED,
    ChargeStatus.REQUIRES_ACTION: PaymentStatus.REQUIRES_ACTION,
    ChargeStatus.PROCESSING: PaymentStatus.PROCESSING,
    ChargeStatus.FAILED: PaymentStatus.FAILED,
    ChargeStatus.CANCELED: PaymentStatus.CANCELED,
    ChargeStatus.REFUNDED: PaymentStatus.REFUNDED,
}
UNAVAILABLE_MESSAGE = "The payment service did not answer. You were not charged; please try again."


@dataclass(frozen=True, slots=True)
class PayRequest:
    """What the page sends. No amount: the server computes it."""

    version: int
    tip: TipChoice
    saved_card_id: str | None = None  # None: a new card from ``card_fields``
    card_fields: Mapping[str, str] | None = None
    save_card: bool = False


@dataclass(frozen=True, slots=True)
class PayOutcome:
    """What happened to a charge: the payment row's id and state as the page needs them."""

    payment_id: str
    status: PaymentStatus
    message: str = ""
    action: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """One charge the companion decided on: for which invoice version, how much, with what tip."""

    store_id: str
    store_name: str
    invoice_id: str
    client_id: str | None
    client: ClientInfo | None
    amount: Money
    tip: Money
    version: int


@dataclass(frozen=True, slots=True)
class PreparedPayment:
    """What the page needs to confirm in the browser: the companion's payment id and the gateway's
    client secret."""

    payment_id: str
    client_secret: str
    total: Money
    save_card: bool
    status: PaymentStatus


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    payment_id: str
    refund_ref: str
    amount: Money
    refunded_total: Money
