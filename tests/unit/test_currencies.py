"""Currency tables: display (CLDR), ISO 4217 and each gateway's unit, and the exact converter between."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posdesk.core.currencies import (
    CLOUD9,
    ISO_4217,
    SIMULATOR,
    STRIPE,
    UnchargeableAmount,
    check_gateway_currency,
    check_store_currency,
    from_gateway_minor,
    selectable_currencies,
    to_gateway_minor,
)
from posdesk.core.money import Money, currency_exponent

SELECTABLE = sorted(selectable_currencies())
GATEWAYS = (STRIPE, CLOUD9, SIMULATOR)
relaxed = settings(deadline=None, max_examples=300)


@pytest.mark.parametrize(
    ("money", "stripe_amount"),
    [
        (Money(50_000, "COP"), 5_000_000),  # COP 50.000 shown in whole pesos; Stripe counts centavos
        (Money(12_345, "HUF"), 1_234_500),
        (Money(150_000, "IDR"), 15_000_000),
        (Money(500, "ISK"), 50_000),  # zero-decimal in ISO, two-decimal at Stripe
        (Money(2_500, "JPY"), 2_500),
        (Money(10_000, "UGX"), 10_000),  # zero-decimal at Stripe
        (Money(1_230, "KWD"), 1_230),
        (Money(1_999, "USD"), 1_999),
        (Money(1_999, "TWD"), 1_999),
    ],
)
def test_stripe_amounts(money: Money, stripe_amount: int) -> None:
    assert to_gateway_minor(money, STRIPE) == stripe_amount
    assert from_gateway_minor(stripe_amount, money.currency, STRIPE) == money


def test_the_three_tables_differ_where_the_issue_says() -> None:
    for code in ("COP", "IDR", "HUF"):
        assert (currency_exponent(code), ISO_4217[code]) == (0, 2)
    assert (currency_exponent("IQD"), ISO_4217["IQD"]) == (0, 3)


def test_stripe_three_decimal_currencies_need_a_last_digit_of_zero() -> None:
    with pytest.raises(UnchargeableAmount, match="steps of"):
        to_gateway_minor(Money(1_235, "KWD"), STRIPE)
    with pytest.raises(UnchargeableAmount):
        from_gateway_minor(1_235, "KWD", STRIPE)


def test_an_amount_finer_than_the_display_is_refused_not_rounded() -> None:
    with pytest.raises(UnchargeableAmount, match="finer"):
        from_gateway_minor(1_234_567, "HUF", STRIPE)  # HUF 12,345.67: the store shows whole forints


def test_gateways_refuse_currencies_they_cannot_charge() -> None:
    check_gateway_currency("stripe", "COP")
    check_gateway_currency("cloud9", "USD")
    check_gateway_currency("simulator", "IQD")
    for kind, code in (("stripe", "IQD"), ("stripe", "IRR"), ("cloud9", "EUR"), ("cloud9", "JPY")):
        with pytest.raises(UnchargeableAmount, match="cannot charge"):
            check_gateway_currency(kind, code)
    with pytest.raises(UnchargeableAmount):
        to_gateway_minor(Money(100, "EUR"), CLOUD9)


def test_only_current_iso_currencies_are_selectable() -> None:
    assert {"USD", "EUR", "JPY", "KWD", "COP", "HUF", "IQD", "CLF"} <= set(SELECTABLE)
    for code in ("DEM", "XAU", "XDR", "XXX", "ADP"):
        with pytest.raises(ValueError, match="ISO 4217"):
            check_store_currency(code)


@relaxed
@given(
    currency=st.sampled_from(SELECTABLE),
    gateway=st.sampled_from(GATEWAYS),
    minor=st.integers(min_value=0, max_value=10**12),
)
def test_every_selectable_currency_round_trips_through_every_gateway_that_charges_it(
    currency: str, gateway: object, minor: int
) -> None:
    assert isinstance(gateway, type(STRIPE))
    money = Money(minor, currency)
    if not gateway.charges(currency):
        with pytest.raises(UnchargeableAmount):
            to_gateway_minor(money, gateway)
        return
    try:
        sent = to_gateway_minor(money, gateway)
    except UnchargeableAmount:
        # Only a gateway step may refuse a representable amount (Stripe's three-decimal currencies).
        assert gateway.step(currency) > 1 and minor % 10
        return
    # The gateway's number means the same amount: same value in major units, exactly.
    assert money.to_decimal() == type(money.to_decimal())(sent).scaleb(-gateway.exponent(currency))
    assert from_gateway_minor(sent, currency, gateway) == money


@pytest.mark.parametrize("currency", sorted(STRIPE.currencies))
def test_every_stripe_currency_is_selectable_and_never_finer_at_stripe_than_on_display(currency: str) -> None:
    assert currency in SELECTABLE
    assert STRIPE.exponent(currency) >= currency_exponent(currency)
