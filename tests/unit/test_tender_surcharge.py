"""The card surcharge per tender (MyTime's rule): on card amounts only, never cash, gift card or other."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from posdesk.core.catalog import ItemKind
from posdesk.core.money import Money
from posdesk.core.pricing import card_surcharge, price_lines, surcharge_within, toward_balance
from posdesk.core.ticket import Payment, PaymentMethod, TicketLine
from posdesk.pos.tenders import Tender, TenderError, plan_tender

RATE = Decimal("0.035")


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def paid(minor: int, method: PaymentMethod) -> Payment:
    return Payment(f"p{minor}{method.value}", usd(minor), usd(0), method, datetime.now(UTC))


# The worked example in docs/pricing.md: $104.99 + 8.25% tax ($8.66) = $113.65 before any surcharge.
LINES = [TicketLine("l1", "svc", ItemKind.APPOINTMENT, "Colour", usd(10499), tax_rate=Decimal("0.0825"))]


def test_a_card_tender_carries_the_surcharge_on_its_amount_cash_and_others_none() -> None:
    assert plan_tender(Tender(PaymentMethod.CARD, usd(6534)), usd(6534), RATE).surcharge == usd(229)
    assert plan_tender(Tender(PaymentMethod.CARD, usd(6534)), usd(6534), RATE).charged == usd(6763)
    for method, extra in ((PaymentMethod.CASH, {}), (PaymentMethod.OTHER, {}),
                          (PaymentMethod.GIFT_CARD, {"gift_card_code": "GC1"})):  # fmt: skip
        plan = plan_tender(Tender(method, usd(6534), **extra), usd(6534), RATE)
        assert plan.surcharge == usd(0) and plan.charged == usd(6534), method


def test_the_surcharge_is_not_counted_toward_the_card_limit() -> None:
    with pytest.raises(TenderError, match="At most the balance due"):
        plan_tender(Tender(PaymentMethod.CARD, usd(6535)), usd(6534), RATE)


@pytest.mark.parametrize("rate", ["0", "0.01", "0.03", "0.035", "0.0999"])
def test_the_surcharge_inside_a_card_payment_is_found_again_exactly(rate: str) -> None:
    r = Decimal(rate)
    for amount in (*range(1, 400), 6534, 10_000, 1_234_567):
        charged = usd(amount) + card_surcharge(usd(amount), r)
        assert surcharge_within(charged, r) == card_surcharge(usd(amount), r), (rate, amount)
        assert toward_balance(Payment("p", charged, usd(0), PaymentMethod.CARD, datetime.now(UTC)), r) == usd(
            amount
        )


def test_per_tender_pricing_surcharges_what_cards_paid_and_nothing_before() -> None:
    whole = price_lines(LINES, "USD", surcharge_rate=RATE)
    assert (whole.total, whole.surcharge) == (usd(11365 + 398), usd(398))  # the online invoice: all by card
    fresh = price_lines(LINES, "USD", surcharge_rate=RATE, per_tender=True)
    assert (fresh.surcharge, fresh.balance_due) == (usd(0), usd(11365))
    mixed = price_lines(LINES, "USD", surcharge_rate=RATE, per_tender=True,
                        payments=[paid(5000, PaymentMethod.CASH), paid(6365 + 223, PaymentMethod.CARD)])  # fmt: skip
    assert mixed.surcharge == usd(223) and mixed.balance_due == usd(0) and mixed.total == usd(11588)


def test_an_online_card_payment_also_counts_as_a_card_amount() -> None:
    priced = price_lines(LINES, "USD", surcharge_rate=RATE, per_tender=True,
                         payments=[paid(5000, PaymentMethod.ONLINE_CARD)])  # fmt: skip
    assert priced.surcharge == usd(169)  # $50.00 = $48.31 toward the balance + $1.69 surcharge
    assert priced.balance_due == usd(11365 - 4831)
