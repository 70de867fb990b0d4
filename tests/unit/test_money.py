"""Money: integer minor units, one currency, no float anywhere, no minor unit lost or invented."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posdesk.core.money import (
    CurrencyMismatchError,
    Money,
    MoneyFormatError,
    currency_exponent,
    round_half_up,
    total,
    validate_currency,
)

# Babel loads locale data on first use; that first call must not count against a deadline.
relaxed = settings(deadline=None, max_examples=200)

CURRENCIES = ("USD", "EUR", "JPY", "KWD")
minor_units = st.integers(min_value=-(10**12), max_value=10**12)
currencies = st.sampled_from(CURRENCIES)
money = st.builds(Money, minor_units, currencies)


# -- currencies -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("code", "exponent"), [("USD", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3)])
def test_currency_exponent(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent
    assert Money(1, code).exponent == exponent


@pytest.mark.parametrize("code", ["usd", "XYZ", "US", "USDD", "", "€"])
def test_unknown_currency_is_refused(code: str) -> None:
    with pytest.raises(ValueError, match="unknown currency"):
        validate_currency(code)
    with pytest.raises(ValueError, match="unknown currency"):
        Money(100, code)


# -- no floats --------------------------------------------------------------------------------------
@pytest.mark.parametrize("minor", [1.5, 1.0, Decimal("1"), "100", True, None])
def test_money_needs_integer_minor_units(minor: object) -> None:
    with pytest.raises(TypeError, match="integer minor units"):
        Money(minor, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize("rate", [0.0825, 1, "0.0825"])
def test_apply_rate_refuses_anything_but_decimal(rate: object) -> None:
    with pytest.raises(TypeError, match="never floats"):
        Money(1000, "USD").apply_rate(rate)  # type: ignore[arg-type]


@pytest.mark.parametrize("factor", [1.5, Decimal("2"), True])
def test_multiplication_is_by_whole_numbers_only(factor: object) -> None:
    with pytest.raises(TypeError):
        Money(1000, "USD") * factor  # type: ignore[operator]


@pytest.mark.parametrize("amount", [1.5, 0.1, True])
def test_from_decimal_refuses_floats(amount: object) -> None:
    with pytest.raises(TypeError, match="never floats"):
        Money.from_decimal(amount, "USD")  # type: ignore[arg-type]


# -- arithmetic ----------------------------------------------------------------------------------------
@given(a=minor_units, b=minor_units, currency=currencies)
def test_add_and_subtract_are_exact(a: int, b: int, currency: str) -> None:
    assert Money(a, currency) + Money(b, currency) == Money(a + b, currency)
    assert Money(a, currency) - Money(b, currency) == Money(a - b, currency)
    assert -Money(a, currency) == Money(-a, currency)
    assert abs(Money(a, currency)) == Money(abs(a), currency)
    assert 3 * Money(a, currency) == Money(3 * a, currency) == Money(a, currency) * 3


@given(a=money, b=money)
def test_mixing_currencies_raises(a: Money, b: Money) -> None:
    if a.currency == b.currency:
        assert (a + b).currency == a.currency
        return
    for combine in (
        lambda: a + b,
        lambda: a - b,
        lambda: a < b,
        lambda: a <= b,
        lambda: a > b,
        lambda: a >= b,
        lambda: a.min(b),
        lambda: a.max(b),
    ):
        with pytest.raises(CurrencyMismatchError):
            combine()


def test_total_refuses_a_foreign_amount_and_is_zero_when_empty() -> None:
    assert total([], "JPY") == Money(0, "JPY")
    assert total([Money(1, "USD"), Money(2, "USD")], "USD") == Money(3, "USD")
    with pytest.raises(CurrencyMismatchError):
        total([Money(1, "USD"), Money(2, "EUR")], "USD")


def test_combining_money_with_a_bare_number_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Money(1, "USD") + 1  # type: ignore[operator]


@given(minor=minor_units, rate=st.decimals(min_value=0, max_value=2, places=5))
def test_apply_rate_rounds_half_up_to_the_nearest_unit(minor: int, rate: Decimal) -> None:
    result = Money(minor, "USD").apply_rate(rate).minor
    exact = Fraction(minor) * Fraction(rate)
    assert abs(Fraction(result) - exact) <= Fraction(1, 2)
    if abs(Fraction(result) - exact) == Fraction(1, 2):  # a half goes away from zero
        assert abs(result) > abs(exact)


@pytest.mark.parametrize(
    ("value", "rounded"),
    [("0.5", 1), ("1.5", 2), ("2.5", 3), ("-0.5", -1), ("-2.5", -3), ("0.4999", 0), ("0.495", 0)],
)
def test_round_half_up_goes_away_from_zero_on_halves(value: str, rounded: int) -> None:
    assert round_half_up(Decimal(value)) == rounded


# -- allocate and split ---------------------------------------------------------------------------------
@relaxed
@given(
    minor=minor_units,
    currency=currencies,
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=30),
)
def test_allocate_never_loses_or_invents_a_minor_unit(minor: int, currency: str, weights: list[int]) -> None:
    parts = Money(minor, currency).allocate(weights)
    assert len(parts) == len(weights)
    assert sum(p.minor for p in parts) == minor
    assert all(p.currency == currency for p in parts)
    effective = weights if sum(weights) else [1] * len(weights)  # all-zero weights split evenly
    for part, weight in zip(parts, effective, strict=True):
        exact = Fraction(minor * weight, sum(effective))
        assert abs(Fraction(part.minor) - exact) < 1
        # Every part carries the sign of the whole: a refund never splits into a charge.
        assert part.minor == 0 or (part.minor > 0) == (minor > 0)


def test_allocate_examples() -> None:
    assert [p.minor for p in Money(100, "USD").allocate([1, 1, 1])] == [34, 33, 33]
    assert [p.minor for p in Money(-100, "USD").allocate([1, 1, 1])] == [-34, -33, -33]
    assert [p.minor for p in Money(5, "USD").allocate([0, 0])] == [3, 2]
    assert [p.minor for p in Money(10, "USD").allocate([0, 3, 7])] == [0, 3, 7]
    assert [p.minor for p in Money(7, "JPY").allocate([1, 0, 1])] == [4, 0, 3]


@pytest.mark.parametrize("weights", [[], [1, -1]])
def test_allocate_refuses_bad_weights(weights: list[int]) -> None:
    with pytest.raises(ValueError):
        Money(100, "USD").allocate(weights)


@given(minor=minor_units, parts=st.integers(min_value=1, max_value=50))
def test_split_gives_parts_within_one_unit_of_each_other(minor: int, parts: int) -> None:
    pieces = Money(minor, "USD").split(parts)
    assert len(pieces) == parts
    assert sum(p.minor for p in pieces) == minor
    assert max(p.minor for p in pieces) - min(p.minor for p in pieces) <= 1


def test_split_needs_a_part() -> None:
    with pytest.raises(ValueError):
        Money(100, "USD").split(0)


# -- from_decimal / to_decimal --------------------------------------------------------------------------
@given(minor=minor_units, currency=currencies)
def test_from_decimal_is_exact_both_ways(minor: int, currency: str) -> None:
    amount = Money(minor, currency)
    assert Money.from_decimal(amount.to_decimal(), currency) == amount
    assert Money.from_decimal(amount.plain(), currency) == amount


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("19.99", "USD", 1999),
        (Decimal("0.1"), "USD", 10),
        (7, "USD", 700),
        ("1200", "JPY", 1200),
        ("1.234", "KWD", 1234),
        ("-0.01", "USD", -1),
        ("12.500", "USD", 1250),  # trailing zeros are not extra precision
    ],
)
def test_from_decimal_examples(amount: Decimal | str | int, currency: str, minor: int) -> None:
    assert Money.from_decimal(amount, currency) == Money(minor, currency)


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("19.999", "USD"),
        ("0.5", "JPY"),
        ("1.2345", "KWD"),
        ("abc", "USD"),
        ("NaN", "USD"),
        ("Infinity", "USD"),
    ],
)
def test_from_decimal_refuses_inexact_or_non_numbers(amount: str, currency: str) -> None:
    with pytest.raises(MoneyFormatError):
        Money.from_decimal(amount, currency)


def test_plain_has_the_currency_digits() -> None:
    assert Money(1250, "USD").plain() == "12.50"
    assert Money(1250, "JPY").plain() == "1250"
    assert Money(1250, "KWD").plain() == "1.250"
    assert Money(-5, "USD").plain() == "-0.05"
    assert str(Money(1250, "USD")) == "12.50 USD"


# -- parse ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "currency", "locale", "minor"),
    [
        ("12.50", "USD", "en_US", 1250),
        ("12.5", "USD", "en_US", 1250),
        ("1,234.5", "USD", "en_US", 123450),
        ("$1,234.50", "USD", "en_US", 123450),
        ("  $ 7 ", "USD", "en_US", 700),
        ("12.50 USD", "USD", "en_US", 1250),
        (".5", "USD", "en_US", 50),
        ("12,50", "EUR", "fr_FR", 1250),
        ("1 234,50", "EUR", "fr_FR", 123450),  # an ordinary space, as a French user types it
        ("1\u00a0234,50 €", "EUR", "fr_FR", 123450),
        ("1\u202f234,50\u00a0€", "EUR", "fr_FR", 123450),  # exactly what format() prints
        ("1.234,50", "EUR", "de_DE", 123450),
        ("1234,5", "EUR", "de_DE", 123450),
        ("12,50 €", "EUR", "de_DE", 1250),
        ("¥1,200", "JPY", "en_US", 1200),
        ("1.234", "KWD", "en_US", 1234),
    ],
)
def test_parse_reads_what_users_type(text: str, currency: str, locale: str, minor: int) -> None:
    assert Money.parse(text, currency, locale) == Money(minor, currency)


@pytest.mark.parametrize(
    ("text", "currency", "locale", "message"),
    [
        ("", "USD", "en_US", "Enter an amount"),
        ("   ", "USD", "en_US", "Enter an amount"),
        ("$", "USD", "en_US", "Enter an amount"),
        ("12.505", "USD", "en_US", "at most 2 decimal places"),
        ("12,5", "JPY", "en_US", "is not an amount"),
        ("12.5", "JPY", "en_US", "at most 0 decimal places"),
        ("1.2345", "KWD", "en_US", "at most 3 decimal places"),
        ("12,505", "EUR", "fr_FR", "at most 2 decimal places"),
        ("12abc", "USD", "en_US", "is not an amount"),
        ("twelve", "USD", "en_US", "is not an amount"),
        ("1e3", "USD", "en_US", "is not an amount"),
        ("1_000", "USD", "en_US", "is not an amount"),
        ("NaN", "USD", "en_US", "is not an amount"),
        ("١٢", "USD", "en_US", "is not an amount"),
        ("12,50", "USD", "en_US", "is not an amount"),  # a French decimal comma in an American till
        ("1 234.50", "USD", "en_US", "is not an amount"),
        ("1,2,3", "USD", "en_US", "is not an amount"),
        ("12.50", "EUR", "de_DE", "is not an amount"),  # "." groups thousands in German
        ("5-", "USD", "en_US", "is not an amount"),
    ],
)
def test_parse_refuses_bad_input_with_a_message(text: str, currency: str, locale: str, message: str) -> None:
    with pytest.raises(MoneyFormatError, match=message):
        Money.parse(text, currency, locale)


@relaxed
@given(
    minor=st.integers(min_value=-(10**10), max_value=10**10),
    currency=currencies,
    locale=st.sampled_from(["en_US", "fr_FR", "de_DE"]),
)
def test_parse_reads_back_what_format_prints(minor: int, currency: str, locale: str) -> None:
    amount = Money(minor, currency)
    assert Money.parse(amount.format(locale), currency, locale) == amount
    assert (
        Money.parse(amount.plain().replace(".", "," if locale != "en_US" else "."), currency, locale)
        == amount
    )


# -- format -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("amount", "locale", "shown"),
    [
        (Money(123450, "USD"), "en_US", "$1,234.50"),
        (Money(5, "USD"), "en_US", "$0.05"),
        (Money(-550, "USD"), "en_US", "-$5.50"),
        (Money(123450, "EUR"), "fr_FR", "1\u202f234,50\u00a0€"),
        (Money(123450, "EUR"), "de_DE", "1.234,50\u00a0€"),
        (Money(123450, "USD"), "fr_FR", "1\u202f234,50\u00a0$US"),
        (Money(1234, "JPY"), "en_US", "¥1,234"),
        (Money(1234567, "KWD"), "en_US", "KWD1,234.567"),
        (Money(1000, "KWD"), "en_US", "KWD1.000"),
    ],
)
def test_format_follows_the_locale_and_currency_digits(amount: Money, locale: str, shown: str) -> None:
    assert amount.format(locale) == shown


def test_predicates_and_min_max() -> None:
    assert Money(0, "USD").is_zero() and not Money(0, "USD").is_positive()
    assert Money(1, "USD").is_positive() and Money(-1, "USD").is_negative()
    assert Money(1, "USD").min(Money(2, "USD")) == Money(1, "USD")
    assert Money(1, "USD").max(Money(2, "USD")) == Money(2, "USD")
    assert Money(1, "USD") < Money(2, "USD") <= Money(2, "USD")
    assert Money.zero("KWD") == Money(0, "KWD")
    assert Money(1, "USD") != Money(1, "EUR")


# -- precision: refused, never silently rounded ----------------------------------------------------
def test_a_29_digit_amount_is_exact_not_rounded_to_28_digits() -> None:
    big = Money(12345678901234567890123456789, "USD")
    # Exactly 1018518509351851850935185185.0925 minor units before rounding; the default context would
    # already have dropped the last digits.
    assert big.apply_rate(Decimal("0.0825")) == Money(1018518509351851850935185185, "USD")
    assert Money.from_decimal("123456789012345678901234567.89", "USD") == big
    assert big.to_decimal() == Decimal("123456789012345678901234567.89")
    assert big.format() == "$123,456,789,012,345,678,901,234,567.89"


@given(
    minor=st.integers(min_value=-(10**40), max_value=10**40),
    rate=st.decimals(min_value=0, max_value=1, places=6),
)
def test_apply_rate_is_the_exact_product_rounded_once(minor: int, rate: Decimal) -> None:
    exact = Fraction(minor) * Fraction(rate)
    result = Money(minor, "USD").apply_rate(rate).minor
    assert abs(Fraction(result) - exact) <= Fraction(1, 2)


def test_what_does_not_fit_is_refused() -> None:
    from posdesk.core.money import MoneyTooLargeError

    with pytest.raises(MoneyTooLargeError):
        Money(10**70 + 1, "USD").apply_rate(Decimal("0.0825"))
    with pytest.raises(MoneyTooLargeError):
        Money.from_decimal("1" * 70 + ".5", "USD")
    with pytest.raises(MoneyTooLargeError):
        Money(10**70 + 1, "USD").to_decimal()


def test_the_threads_decimal_context_is_left_as_it_was() -> None:
    import decimal

    before = decimal.getcontext().copy()
    Money(12345678901234567890123456789, "USD").apply_rate(Decimal("0.0825"))
    after = decimal.getcontext()
    assert (after.prec, after.rounding, after.traps) == (before.prec, before.rounding, before.traps)
