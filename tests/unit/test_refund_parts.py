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
        (0, 700, "tip refund is at most $6.48"),
        (2100, 648, "amount is at most $20.00"),
        (100, 100, "amount is at most $0.00"),  # $20.00 of it was refunded already
    ],
)
def test_a_refund_beyond_what_is_left_is_refused(amount: int, tip: int, message: str) -> None:
    payment = paid(2000) if message.endswith("$0.00") else paid()
    with pytest.raises(RefundError, match=message.replace("$", r"\$")):
        refund_of(payment, usd(amount), usd(tip))


DAY_1 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
DAY_2 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def test_after_a_tip_only_refund_the_whole_amount_is_still_refundable_and_no_tip() -> None:
    payment = paid().with_refund(usd(648), usd(648), DAY_1)  # the tip alone given back
    assert (payment.refunded_of_amount, payment.refunded_of_tip) == (usd(0), usd(648))
    assert refundable_parts(payment) == (usd(2000), usd(0))
    with pytest.raises(RefundError, match=r"tip refund is at most \$0.00"):
        refund_of(payment, usd(0), usd(1))
    assert refund_of(payment, usd(2000), usd(0)) == usd(2000)


def test_refunds_keep_their_day_and_parts_and_a_total_told_without_parts_comes_off_the_amount_first() -> None:
    payment = paid().with_refund(usd(300), usd(300), DAY_1)  # $3.00 of the tip
    payment = payment.with_refund(usd(2300), None, DAY_2)  # a gateway report: $20.00 more, no parts said
    assert [(r.at, r.amount, r.tip) for r in payment.refunds] == [
        (DAY_1, usd(0), usd(300)),
        (DAY_2, usd(2000), usd(0)),
    ]
    assert refundable_parts(payment) == (usd(0), usd(348))
    assert payment.with_refund(usd(2300), None, DAY_2) == payment  # the same total again changes nothing
    assert payment.with_refund(usd(1000), None, DAY_2) == payment  # nor does a lower one


def test_a_terminal_told_the_tip_part_later_moves_it_from_the_amount_to_the_tip() -> None:
    heard = paid().with_refund(usd(500), None, DAY_1).with_refund(usd(1148), None, DAY_2)  # amount first
    assert (heard.refunded_of_amount, heard.refunded_of_tip) == (usd(1148), usd(0))
    told = heard.with_refunded_tip(usd(648))  # the second refund was $5.00 of the amount and the tip
    assert (told.refunded_of_amount, told.refunded_of_tip) == (usd(500), usd(648))
    assert [(r.amount, r.tip) for r in told.refunds] == [(usd(500), usd(0)), (usd(0), usd(648))]
    assert refundable_parts(told) == (usd(1500), usd(0))
    assert told.with_refunded_tip(usd(100)) == told  # it only grows
    assert heard.with_refunded_tip(usd(9999)).refunded_of_tip == usd(648)  # never beyond the tip


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


@pytest.mark.parametrize(
    ("amount", "tip", "message"),
    [
        (200, 300, "The tip part is at most the refund, $2.00"),
        (2000, 700, "The tip refund is at most $6.48 (what is left of the tip)"),
        (500, -1, "The tip part of a refund cannot be negative"),
    ],
)
def test_a_counter_refund_whose_tip_part_is_above_the_refund_or_the_tip_left_is_refused(
    amount: int, tip: int, message: str
) -> None:
    from posdesk.pos.refunds import refund_at_counter

    with pytest.raises(RefundError) as refused:  # refused before anything is written (no database needed)
        refund_at_counter(None, "t1", paid(), usd(amount), usd(tip))  # type: ignore[arg-type]
    assert str(refused.value) == message
