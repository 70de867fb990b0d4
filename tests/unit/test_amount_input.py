"""Typed amounts: one grammar for the payment page and the server (the page's copy is checked in Chromium
by ``tests/e2e/test_pay_tip_parsing.py`` against this one)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posdesk.core.amount_input import AmountInputError, amount_rules, read_amount
from posdesk.core.money import Money

LOCALES = ("en_US", "de_DE", "ja_JP", "fr_FR", "es_ES", "en_DE", "es_US")
CURRENCIES = ("USD", "EUR", "JPY", "KWD", "COP")


@pytest.mark.parametrize(
    ("text", "currency", "locale", "minor"),
    [
        ("2,500", "JPY", "ja_JP", 2500),  # the issue's ¥3 tip that charged ¥2,500
        ("¥2,500", "JPY", "ja_JP", 2500),
        ("1,234.50", "USD", "en_US", 123450),  # the issue's $1.23
        ("1.234,50", "EUR", "de_DE", 123450),  # the 1.23
        ("1 234,50", "EUR", "fr_FR", 123450),
        ("12", "USD", "en_US", 1200),
        ("$12.5", "USD", "en_US", 1250),
        (".50", "USD", "en_US", 50),
        ("1,234.567", "KWD", "en_US", 1234567),
        ("12.5", "KWD", "en_US", 12500),
        ("50.000", "COP", "es_ES", 50000),
        ("-20", "USD", "en_US", -2000),  # read as typed; a tip refuses it
    ],
)
def test_amounts_read_in_the_page_locale(text: str, currency: str, locale: str, minor: int) -> None:
    assert read_amount(text, amount_rules(currency, locale)) == Money(minor, currency)


@pytest.mark.parametrize(
    ("text", "currency", "locale", "reason"),
    [
        ("", "USD", "en_US", "empty"),
        ("  $ ", "USD", "en_US", "empty"),
        ("2,50", "USD", "en_US", "invalid"),  # a European comma on a US page: not guessed
        ("1.5", "EUR", "de_DE", "invalid"),  # 1.5 or 15? refused
        ("12.50", "EUR", "de_DE", "invalid"),
        ("1,23,456", "USD", "en_US", "invalid"),
        ("1.2.3", "USD", "en_US", "invalid"),
        ("12.", "USD", "en_US", "invalid"),
        ("1e3", "USD", "en_US", "invalid"),
        ("١٢", "USD", "en_US", "invalid"),  # non-ASCII digits
        ("２５００", "JPY", "ja_JP", "invalid"),
        ("2.5", "JPY", "ja_JP", "decimals"),
        ("1.234", "USD", "en_US", "decimals"),
        ("1.2345", "KWD", "en_US", "decimals"),
        ("1" * 16, "USD", "en_US", "large"),
    ],
)
def test_ambiguous_or_malformed_amounts_are_refused(text: str, currency: str, locale: str, reason: str) -> None:
    with pytest.raises(AmountInputError) as refused:
        read_amount(text, amount_rules(currency, locale))
    assert refused.value.reason == reason


@settings(deadline=None, max_examples=300)
@given(
    minor=st.integers(min_value=0, max_value=10**12),
    currency=st.sampled_from(CURRENCIES),
    locale=st.sampled_from(LOCALES),
)
def test_an_amount_as_the_page_shows_it_reads_back_to_itself(minor: int, currency: str, locale: str) -> None:
    money = Money(minor, currency)
    assert read_amount(money.format(locale), amount_rules(currency, locale)) == money
    assert read_amount(money.plain().replace(".", amount_rules(currency, locale).decimal), amount_rules(currency, locale)) == money


@settings(deadline=None, max_examples=300)
@given(text=st.text(alphabet="0123456789.,- \u00a0\u202f$€¥+e", max_size=14), locale=st.sampled_from(LOCALES))
def test_any_text_is_read_or_refused_never_crashes(text: str, locale: str) -> None:
    try:
        result = read_amount(text, amount_rules("USD", locale))
    except AmountInputError:
        return
    assert abs(result.minor) < 10**15 * 100
