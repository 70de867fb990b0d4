"""A payment's amount and tip are refunded separately: what is left of each, and one refund of both."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from posdesk.core.money import Money
from posdesk.core.ticket import Payment, PaymentMethod
from posdesk.pos.refunds import RefundError, refund_of, refundable_parts


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def paid(refunded: int | None = None) -> Payment:
    return Payment(
        "pay_1", usd(2000), usd(648), PaymentMethod.ONLINE_CARD, datetime.now(UTC),
        refunded=None if refunded is None else usd(refunded),
    )  # fmt: skip


def test_nothing_refunded_leaves_the_whole_amount_and_the_whole_tip() -> None:
    assert refundable_parts(paid()) == (usd(2000), usd(648))


def test_a_past_refund_counts_against_the_amount_first_then_the_tip() -> None:
    assert refundable_parts(paid(500)) == (usd(1500), usd(648))
    assert refundable_parts(paid(2300)) == (usd(0), usd(348))
    assert refundable_parts(paid(2648)) == (usd(0), usd(0))


def test_one_refund_gives_back_the_amount_and_the_tip_entered() -> None:
    assert refund_of(paid(), usd(500), usd(0)) == usd(500)
    assert refund_of(paid(), usd(0), usd(648)) == usd(648)
    assert refund_of(paid(), usd(2000), usd(648)) == usd(2648)


@pytest.mark.parametrize(
    ("amount", "tip", "message"),
    [
        (0, 0, "more than zero"),
        (-100, 200, "cannot be negative"),
        (0, 700, "at most the tip, $6.48"),
        (2100, 648, "at most $26.48"),
        (2000, 100, "at most $6.48"),  # $20.00 of it was refunded already
    ],
)
def test_a_refund_beyond_what_is_left_is_refused(amount: int, tip: int, message: str) -> None:
    payment = paid(2000) if message == "at most $6.48" else paid()
    with pytest.raises(RefundError, match=message.replace("$", r"\$")):
        refund_of(payment, usd(amount), usd(tip))


def test_the_refund_receipt_goes_only_to_a_client_who_agreed_to_emails() -> None:
    from posdesk.core.client import Client
    from posdesk.core.ticket import Ticket
    from posdesk.pos.refunds import refund_receipt

    ticket = Ticket.new(12, "USD")
    agreed = Client("c_eve", "Eve", "Mail", email="eve@example.com", email_consent=True)
    silent = Client("c_bob", "Bob", "Plain", email="bob@example.com")
    assert refund_receipt(silent, ticket, paid(), usd(500), "Salon", "Online card", "en_US") is None
    receipt = refund_receipt(agreed, ticket, paid(), usd(500), "Salon", "Online card", "en_US")
    assert receipt is not None
    subject, text = receipt
    assert subject == "Your refund from Salon: $5.00"
    assert "Salon has refunded $5.00 of your payment (Online card, $26.48)" in text
    assert "on ticket #12" in text and "back to the card you paid with" in text
