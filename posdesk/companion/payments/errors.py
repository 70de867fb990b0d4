"""What the payment flows refuse, with a message fit for the person who asked."""

from __future__ import annotations

from typing import Any

from posdesk.companion.refusal import Refused


class PaymentRefused(Refused):
    """The request cannot be charged; ``message`` is for the client."""


class VersionChanged(PaymentRefused):
    """The cashier sent a new version: the client must see the new total before paying."""

    default_status = 409


class AlreadyInProgress(PaymentRefused):
    """Another tab or phone is paying this invoice right now with different choices."""

    default_status = 409


class RefundRefused(Refused):
    """The refund cannot be made; ``message`` is for the manager."""

    def __init__(self, message: str, status: int | None = None, *, retry_after: int | None = None) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after  # seconds: another refund of the payment is under way


class ReviewRefused(Refused):
    """A manager's decision on a payment or a gateway report kept for review cannot be carried out;
    ``message`` is for the manager."""

    default_status = 409


class MismatchError(ValueError):
    """A gateway reported an amount, currency, store or version the companion did not ask for.

    Whoever catches it keeps the report for review; ``store_id`` and ``payment`` say whose it is.
    """

    store_id: str | None = None
    payment: Any = None  # the Payment row, when there is one
