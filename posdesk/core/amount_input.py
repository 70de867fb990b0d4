"""Amounts typed by a client on the payment page, read by one grammar on both sides.

The page's script (``static/pay.js``, ``readAmount``) implements the same steps with the same
:class:`AmountRules`, which the page receives from the server; a test runs both on the same inputs in
Chromium. What one side reads, the other reads to the same minor units; what is ambiguous is refused by
both, so the page can say so before Pay instead of showing one amount and charging another.

The grammar, in the page's locale:

1. The currency's code and symbols are dropped; spaces (the ones listed in :data:`SPACES`) around the
   number are dropped.
2. An optional sign: the locale's minus, ``-`` or ``+``.
3. Where the locale groups with a space, any listed space between digits is its group symbol; any
   other space is refused.
4. Only ASCII digits, the group symbol and the decimal symbol remain, with at most one decimal symbol.
5. The whole part is plain digits, or groups of three after a first group of one to three digits
   ("1,234" in en-US, "1.234" in de-DE); "1.5" in de-DE or "2,50" in en-US are refused, not guessed.
6. A fraction has one digit up to the currency's display exponent; none at all for JPY.
7. At most 15 digits in all (the page computes in JavaScript numbers).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from posdesk.core.money import Money, MoneyFormatError, currency_exponent

SPACES = " \t\u00a0\u202f\u2009\u2007"
MAX_DIGITS = 15
MESSAGES: Mapping[str, str] = {
    "empty": "Enter an amount",
    "invalid": "This is not an amount",
    "decimals": "Too many decimal places for this currency",
    "large": "This amount is too large",
}


class AmountInputError(MoneyFormatError):
    """Typed text is not an amount under :class:`AmountRules`; ``reason`` names why, for translation."""

    def __init__(self, reason: str) -> None:
        super().__init__(MESSAGES[reason])
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AmountRules:
    """What the grammar needs of a currency and a locale; :meth:`to_json` is what the page gets."""

    currency: str
    exponent: int
    group: str
    decimal: str
    minus: str
    symbols: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "symbols": list(self.symbols), "spaces": SPACES, "maxDigits": MAX_DIGITS}


@functools.lru_cache(maxsize=256)
def amount_rules(currency: str, locale: str) -> AmountRules:
    """The rules for typing ``currency`` amounts in ``locale`` (``en_US``, ``de_DE``, ``ja_JP``)."""
    from babel import numbers as babel_numbers  # here: the first frame imports this module, types no amount

    # The locale's symbol and the common one ("￥" and "¥" on a ja-JP page).
    symbols = {currency, *(babel_numbers.get_currency_symbol(currency, locale=where) for where in (locale, "en"))}
    # Longest first, so "US$" goes before "$"; digits or separators are never taken as a symbol.
    kept = sorted((s for s in symbols if s and not any(c.isdigit() or c in ".,-+" for c in s)), key=lambda s: (-len(s), s))
    return AmountRules(
        currency=currency,
        exponent=currency_exponent(currency),
        group=babel_numbers.get_group_symbol(locale),
        decimal=babel_numbers.get_decimal_symbol(locale),
        minus=babel_numbers.get_minus_sign_symbol(locale),
        symbols=tuple(kept),
    )


def _strip_spaces(text: str) -> str:
    return text.strip(SPACES)


def _grouped(whole: str, group: str) -> bool:
    parts = whole.split(group)
    if len(parts) == 1:
        return parts[0].isascii() and parts[0].isdigit()
    first, rest = parts[0], parts[1:]
    return 1 <= len(first) <= 3 and first.isdigit() and all(len(p) == 3 and p.isdigit() for p in rest)


def read_amount(text: str, rules: AmountRules) -> Money:
    """The amount ``text`` means under ``rules`` (negative when typed so); :class:`AmountInputError`."""
    cleaned = text
    for symbol in rules.symbols:
        cleaned = cleaned.replace(symbol, "")
    cleaned = _strip_spaces(cleaned)
    if not cleaned:
        raise AmountInputError("empty")
    negative = False
    if cleaned[0] in ("-", rules.minus):
        negative, cleaned = True, cleaned[1:]
    elif cleaned[0] == "+":
        cleaned = cleaned[1:]
    if rules.group in SPACES:
        for space in SPACES:
            cleaned = cleaned.replace(space, rules.group)
    allowed = set("0123456789") | {rules.group, rules.decimal}
    if not cleaned or any(c not in allowed for c in cleaned) or cleaned.count(rules.decimal) > 1:
        raise AmountInputError("invalid")
    whole, _, fraction = cleaned.partition(rules.decimal)
    has_point = rules.decimal in cleaned
    if has_point and not fraction:
        raise AmountInputError("invalid")
    if not whole and not fraction:
        raise AmountInputError("invalid")
    if whole and not _grouped(whole, rules.group):
        raise AmountInputError("invalid")
    if rules.group in fraction:
        raise AmountInputError("invalid")
    if len(fraction) > rules.exponent:
        raise AmountInputError("decimals")
    digits = whole.replace(rules.group, "") + fraction.ljust(rules.exponent, "0")
    if len(digits.lstrip("0")) > MAX_DIGITS:
        raise AmountInputError("large")
    minor = int(digits or "0")
    return Money(-minor if negative else minor, rules.currency)
