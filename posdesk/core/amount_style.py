"""How one locale writes amounts of one currency, kept so the first screen shows amounts without Babel.

Babel formats an amount from the locale's CLDR data and its own global data (the currency's digits):
importing Babel and loading both cost the POS's first frame about 20 ms on this machine, every launch,
to show "$0.00". An :class:`AmountStyle` is what Babel's standard currency pattern uses for one (locale,
currency): the pattern's prefixes, suffixes, grouping and minimum digits, the locale's decimal and
group symbols, the currency's symbol and digits. It is read from Babel once (:func:`style_from_babel`),
kept in the data folder (:mod:`posdesk.pos.amount_styles`) and remembered at start (:func:`remember`);
:meth:`posdesk.core.money.Money.format` then writes amounts of that pair with :meth:`AmountStyle.format`,
which follows ``babel.numbers.NumberPattern.apply`` step by step and gives exactly its text
(``tests/unit/test_amount_style.py`` compares them over every locale Babel has). A pattern it does not
follow (significant digits, exponents, percent, a currency's long name) gets no style: Babel formats it.

``stamp`` names the Babel data a style was read from, so a style kept under another Babel is not used.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

QUOTED = r"'([^']*)'"  # Babel's own: quoted text in a pattern, '' for a quote (compiled when first met)


@dataclass(frozen=True, slots=True)
class AmountStyle:
    """How a locale writes an amount of a currency, kept from Babel so start-up can write amounts without it."""

    locale: str
    currency: str
    exponent: int  # the currency's display digits (Babel's currency precision)
    prefixes: tuple[str, str]  # the pattern's, positive then negative; ¤ stands for the symbol
    suffixes: tuple[str, str]
    grouping: tuple[int, int]  # first group, then every other (3, 2 in en_IN: 1,23,45,678)
    min_digits: int  # whole-part digits always shown
    decimal: str
    group: str
    symbol: str
    stamp: str

    def format(self, minor: int) -> str:
        """The amount of ``minor`` units as Babel's ``format_currency`` writes it for this pair."""
        digits = str(abs(minor)).rjust(self.exponent + 1, "0")
        whole = digits[: len(digits) - self.exponent].rjust(self.min_digits, "0")
        size, grouped = self.grouping[0], ""
        while len(whole) > size:
            grouped = self.group + whole[-size:] + grouped
            whole = whole[:-size]
            size = self.grouping[1]
        number = whole + grouped
        if self.exponent:
            number += self.decimal + digits[-self.exponent :]
        sign = int(minor < 0)
        text = self.prefixes[sign] + number + self.suffixes[sign]
        text = text.replace("¤¤", self.currency).replace("¤", self.symbol)
        return re.sub(QUOTED, lambda m: m.group(1) or "'", text) if "'" in text else text

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> AmountStyle:
        """Raises ``KeyError``, ``TypeError`` or ``ValueError`` on anything but what :meth:`to_json` wrote."""
        texts = {key: raw[key] for key in ("locale", "currency", "decimal", "group", "symbol", "stamp")}
        counts = {key: raw[key] for key in ("exponent", "min_digits")}
        pairs: dict[str, Any] = {key: tuple(raw[key]) for key in ("prefixes", "suffixes", "grouping")}
        if not all(isinstance(t, str) for t in (*texts.values(), *pairs["prefixes"], *pairs["suffixes"])):
            raise TypeError("an amount style's texts are strings")
        if any(len(pair) != 2 for pair in pairs.values()):
            raise ValueError("an amount style has two prefixes, two suffixes and two group sizes")
        numbers = (*counts.values(), *pairs["grouping"])
        if not all(type(n) is int and n >= 0 for n in numbers) or min(pairs["grouping"]) < 1:
            raise ValueError("an amount style's digits and group sizes are counts")
        return cls(**texts, **counts, **pairs)


def babel_stamp() -> str:
    """Which Babel data is installed, without importing Babel: its global data file's size and time
    (a new Babel writes a new one); "" when it cannot be told (then no kept style is used)."""
    from importlib.util import find_spec

    try:
        spec = find_spec("babel")
        folders = list(spec.submodule_search_locations or []) if spec else []
        found = os.stat(os.path.join(folders[0], "global.dat"))
    except (ImportError, OSError, IndexError, ValueError):
        return ""
    return f"{found.st_size}:{found.st_mtime_ns}"


def style_from_babel(locale: str, currency: str, stamp: str) -> AmountStyle | None:
    """The style Babel's standard currency pattern gives ``currency`` in ``locale``; None for a pattern
    :meth:`AmountStyle.format` does not follow. Loads Babel and the locale's data."""
    from babel import Locale
    from babel import numbers as babel_numbers

    pattern = Locale.parse(locale).currency_formats["standard"]
    affixes = "".join(pattern.prefix + pattern.suffix)
    if pattern.exp_prec or pattern.scale or "@" in pattern.pattern or not pattern.number_pattern:
        return None
    if "¤¤¤" in affixes or min(pattern.grouping) < 1:
        return None
    return AmountStyle(
        locale=locale,
        currency=currency,
        exponent=babel_numbers.get_currency_precision(currency),
        prefixes=(pattern.prefix[0], pattern.prefix[1]),
        suffixes=(pattern.suffix[0], pattern.suffix[1]),
        grouping=(pattern.grouping[0], pattern.grouping[1]),
        min_digits=pattern.int_prec[0],
        decimal=babel_numbers.get_decimal_symbol(locale),
        group=babel_numbers.get_group_symbol(locale),
        symbol=babel_numbers.get_currency_symbol(currency, locale),
        stamp=stamp,
    )


_REMEMBERED: dict[tuple[str, str], AmountStyle] = {}


def remember(styles: Iterable[AmountStyle]) -> None:
    """Use these styles for their (locale, currency) from now on (the caller checked their ``stamp``)."""
    for style in styles:
        _REMEMBERED[(style.locale, style.currency)] = style


def remembered(locale: str, currency: str) -> AmountStyle | None:
    return _REMEMBERED.get((locale, currency))


def remembered_exponent(currency: str) -> int | None:
    """The digits of a currency a remembered style has (Babel knows it, with these digits), else None."""
    return next((s.exponent for s in _REMEMBERED.values() if s.currency == currency), None)
