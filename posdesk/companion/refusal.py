"""What the companion refuses: a message for whoever asked and the HTTP status to answer."""

from __future__ import annotations


class Refused(Exception):
    """Base of the refusals of a payment, a refund, a review, a tender or a tip split: the route answers
    ``status`` with ``message``. Each kind says its usual status in ``default_status``."""

    default_status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = self.default_status if status is None else status
