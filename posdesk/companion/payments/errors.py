"""What the payment flows refuse, with a message fit for the person who asked."""

from __future__ import annotations

from typing import Any

from posdesk.companion.refusal import Refused


class PaymentRefused(Exception):
    """The request cannot be charged; ``message`` is for the client, ``status`` the HTTP status."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class VersionChanged(PaymentRefused):
    """The cashier sent a new version: the client must see the new total before paying."""

    status = 409


class AlreadyInProgress(PaymentRefused):
    """Another tab or phone is paying this invoice right now with different choices."""

    status = 409


class RefundRefused(Refused):
    """The refund cannot be made; ``message`` is for the manager."""


class MismatchError(ValueError):
    """A gateway reported an amount, currency, store or version the companion did not ask for.

    Whoever catches it keeps the report for review; ``store_id`` and ``payment`` say whose it is.
    """

    store_id: str | None = None
    payment: Any = None  # the Payment row, when there is one
