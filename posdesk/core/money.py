"""Money as integer minor units of one ISO 4217 currency.

Never a float: amounts are ``int`` minor units (cents for USD, yen for JPY, fils for KWD) and rates
are :class:`decimal.Decimal`. Every rounding is explicit and goes through :func:`round_half_up`
(or the ``rounding`` argument the caller passes), so the pricing rules in ``docs/pricing.md`` can be
read off the code.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import TYPE_CHECKING, Protocol

from posdesk.core.amount_style import remembered, remembered_exponent

if TYPE_CHECKING:
    from babel import Locale
    from babel.numbers import NumberPattern

# Babel is imported where it is used: an amount of the store's currency is written from its remembered
# style (posdesk.core.amount_style), so the first frame loads neither Babel nor its data.


class CurrencyMismatchError(ValueError):
    """Arithmetic was asked between two different currencies."""


class MoneyFormatError(ValueError):
    """Text could not be read as an amount of money; the message says why, for the user."""


class MoneyTooLargeError(ValueError):
    """An amount or a product of an amount and a rate has more digits than money arithmetic keeps."""


# Every Decimal operation on amounts runs in this context, not the thread's default (28 digits, which
# rounds a 29-digit product silently). 60 digits hold any amount times any rate posdesk reads (a
# trillion-minor-unit cap on the wire, rates of at most a few dozen digits); what does not fit raises
# instead of being rounded.
MONEY_DIGITS = 60
_MONEY_CONTEXT = Context(
    prec=MONEY_DIGITS,
    rounding=ROUND_HALF_UP,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact],
)


def money_context() -> Context:
    """A copy of the money context, for ``with localcontext(money_context()):`` blocks."""
    return _MONEY_CONTEXT.copy()


def _too_large(what: object) -> MoneyTooLargeError:
    return MoneyTooLargeError(f"{what} has more than {MONEY_DIGITS} digits; refused rather than rounded")


_SPACES = (" ", "\u00a0", "\u202f")
_ASCII_DIGITS = frozenset("0123456789")


@functools.cache
def _known_currencies() -> frozenset[str]:
    from babel import numbers as babel_numbers

    return frozenset(babel_numbers.list_currencies())


@functools.cache
def currency_exponent(code: str) -> int:
    """Number of minor-unit digits of an ISO 4217 currency (USD 2, JPY 0, KWD 3)."""
    validate_currency(code)
    remembered_digits = remembered_exponent(code)
    if remembered_digits is not None:
        return remembered_digits
    from babel import numbers as babel_numbers

    return int(babel_numbers.get_currency_precision(code))


def validate_currency(code: str) -> str:
    """Return ``code`` if it is a known ISO 4217 code, else raise ``ValueError``."""
    if not isinstance(code, str) or len(code) != 3 or not code.isupper():
        raise ValueError(f"unknown currency code: {code!r}")
    if remembered_exponent(code) is None and code not in _known_currencies():
        raise ValueError(f"unknown currency code: {code!r}")
    return code


@functools.lru_cache(maxsize=512)
def _currency_format(locale: str) -> tuple[Locale, NumberPattern]:
    """The parsed locale and its standard currency pattern, read once per locale.

    ``babel.numbers.format_currency`` parses the locale and looks its pattern up on every call, which
    was most of its cost on the payment page (about ten amounts per page). The result is the same.
    """
    from babel import Locale

    parsed = Locale.parse(locale)
    return parsed, parsed.currency_formats["standard"]


def round_half_up(value: Decimal) -> int:
    """Round a Decimal to the nearest integer, halves away from zero (the house default)."""
    with localcontext(_MONEY_CONTEXT):
        return int(value.to_integral_value(rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of one currency, in integer minor units.

    >>> Money(1999, "USD") + Money(1, "USD")
    Money(minor=2000, currency='USD')
    """

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise TypeError(f"Money needs integer minor units, got {type(self.minor).__name__}")
        validate_currency(self.currency)

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_decimal(cls, amount: Decimal | str | int, currency: str) -> Money:
        """Exact conversion from major units; refuses amounts with more digits than the currency has."""
        if isinstance(amount, bool | float):
            raise TypeError("amounts are Decimals, strings or integers, never floats")
        try:
            value = Decimal(amount)
        except (InvalidOperation, ValueError) as exc:
            raise MoneyFormatError(f"not a number: {amount!r}") from exc
        if not value.is_finite():
            raise MoneyFormatError("not a finite amount")
        try:
            with localcontext(_MONEY_CONTEXT):
                scaled = value.scaleb(currency_exponent(currency))
        except (Inexact, Overflow):
            raise _too_large(amount) from None
        if scaled != scaled.to_integral_value():
            raise MoneyFormatError(
                f"{currency} amounts have at most {currency_exponent(currency)} decimal places"
            )
        return cls(int(scaled), currency)

    @classmethod
    def parse(cls, text: str, currency: str, locale: str = "en_US") -> Money:
        """Read an amount typed by a user in ``locale`` ("12.50", "1,234.5", "12,50" in fr_FR).

        A currency symbol or code around the number is tolerated. Raises :class:`MoneyFormatError`
        with a message fit to show next to the field.
        """
        from babel import numbers as babel_numbers

        cleaned = text.strip()
        for token in (currency, babel_numbers.get_currency_symbol(currency, locale=locale)):
            cleaned = cleaned.replace(token, "")
        cleaned = cleaned.strip()
        if not cleaned:
            raise MoneyFormatError("Enter an amount")
        group = babel_numbers.get_group_symbol(locale)
        if group in _SPACES:
            # fr_FR groups with a narrow no-break space nobody can type: any space between digits
            # is read as that group separator.
            for space in _SPACES:
                cleaned = cleaned.replace(space, group)
        # Only digits, signs and the locale's separators: Decimal() alone would also take "1e3",
        # "1_000", "NaN" or non-ASCII digits.
        allowed = _ASCII_DIGITS | set(
            group
            + babel_numbers.get_decimal_symbol(locale)
            + babel_numbers.get_minus_sign_symbol(locale)
            + babel_numbers.get_plus_sign_symbol(locale)
            + "+-"
        )
        if not set(cleaned) <= allowed:
            raise MoneyFormatError(f"{text.strip()!r} is not an amount")
        try:
            value = babel_numbers.parse_decimal(cleaned, locale=locale, strict=True)
        except babel_numbers.NumberFormatError as exc:
            raise MoneyFormatError(f"{text.strip()!r} is not an amount") from exc
        return cls.from_decimal(value, currency)

    # -- reading ---------------------------------------------------------------------------------
    @property
    def exponent(self) -> int:
        return currency_exponent(self.currency)

    def to_decimal(self) -> Decimal:
        """The amount in major units, exactly (``Money(1999, "USD").to_decimal() == Decimal("19.99")``)."""
        try:
            with localcontext(_MONEY_CONTEXT):
                return Decimal(self.minor).scaleb(-self.exponent)
        except (Inexact, Overflow):
            raise _too_large(self.minor) from None

    def format(self, locale: str = "en_US") -> str:
        """Locale-aware display, e.g. ``$1,234.50`` (en_US) or ``1 234,50 €`` (fr_FR)."""
        style = remembered(locale, self.currency)
        if style is not None:  # the same text as below, without Babel's data
            return style.format(self.minor)
        parsed, pattern = _currency_format(locale)
        value = self.to_decimal()
        # Babel quantizes in the thread's context: give it the digits the amount has.
        with localcontext(_MONEY_CONTEXT) as context:
            context.traps[Inexact] = False
            return str(pattern.apply(value, parsed, currency=self.currency))

    def plain(self) -> str:
        """The amount as a plain decimal string for inputs and wire formats (``"12.50"``)."""
        return f"{self.to_decimal():.{self.exponent}f}"

    def is_zero(self) -> bool:
        return self.minor == 0

    def is_positive(self) -> bool:
        return self.minor > 0

    def is_negative(self) -> bool:
        return self.minor < 0

    # -- arithmetic ------------------------------------------------------------------------------
    def _check(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(f"cannot combine {self.currency} with {other.currency}")
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.minor + self._check(other).minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.minor - self._check(other).minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.minor), self.currency)

    def __mul__(self, factor: int) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int):
            raise TypeError("Money can only be multiplied by an integer; use apply_rate for rates")
        return Money(self.minor * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        return self.minor < self._check(other).minor

    def __le__(self, other: Money) -> bool:
        return self.minor <= self._check(other).minor

    def __gt__(self, other: Money) -> bool:
        return self.minor > self._check(other).minor

    def __ge__(self, other: Money) -> bool:
        return self.minor >= self._check(other).minor

    def apply_rate(self, rate: Decimal) -> Money:
        """``self * rate`` rounded half-up to a whole minor unit (tax, percent discounts, tips)."""
        if not isinstance(rate, Decimal):
            raise TypeError("rates are Decimals, never floats")
        try:
            with localcontext(_MONEY_CONTEXT):
                product = Decimal(self.minor) * rate
        except (Inexact, Overflow):
            raise _too_large(f"{self.minor} x {rate}") from None
        return Money(round_half_up(product), self.currency)

    def min(self, other: Money) -> Money:
        return self if self <= other else other

    def max(self, other: Money) -> Money:
        return self if self >= other else other

    def allocate(self, weights: Sequence[int]) -> list[Money]:
        """Split into parts proportional to non-negative integer ``weights``, losing no minor unit.

        Largest-remainder method: each part gets the floor of its share, then the leftover units go
        one each to the parts with the largest remainders (ties to the earlier part). The parts always
        sum to ``self``. All-zero weights split evenly.
        """
        if not weights:
            raise ValueError("allocate needs at least one weight")
        if any(w < 0 for w in weights):
            raise ValueError("weights must not be negative")
        total_weight = sum(weights)
        if total_weight == 0:
            weights = [1] * len(weights)
            total_weight = len(weights)
        sign = -1 if self.minor < 0 else 1
        amount = abs(self.minor)
        shares = [amount * w // total_weight for w in weights]
        remainders = [amount * w % total_weight for w in weights]
        leftover = amount - sum(shares)
        order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
        for i in order[:leftover]:
            shares[i] += 1
        return [Money(sign * s, self.currency) for s in shares]

    def split(self, parts: int) -> list[Money]:
        """Split evenly into ``parts`` amounts that differ by at most one minor unit."""
        if parts < 1:
            raise ValueError("split needs at least one part")
        return self.allocate([1] * parts)

    def __str__(self) -> str:
        return f"{self.plain()} {self.currency}"


def total(amounts: Iterable[Money], currency: str) -> Money:
    """Sum of ``amounts`` (all in ``currency``); the zero of that currency when empty."""
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result



class PercentOrAmount(Protocol):
    """A discount, a promotion or a tip preset: a percent or a fixed amount."""

    @property
    def percent(self) -> Decimal | None: ...

    @property
    def amount(self) -> Money | None: ...


def check_percent_or_amount(rate: PercentOrAmount, what: str, percent_name: str, amount_name: str) -> None:
    """Refuse a rate that is not exactly one of a percent (more than 0%, at most 100%) or a positive
    amount; the message names what is wrong (``what``, its percent, its amount)."""
    if (rate.percent is None) == (rate.amount is None):
        raise ValueError(f"{what} is either a percent or an amount")
    if rate.percent is not None and not Decimal(0) < rate.percent <= Decimal(1):
        raise ValueError(f"{percent_name} must be more than 0% and at most 100%")
    if rate.amount is not None and not rate.amount.is_positive():
        raise ValueError(f"{amount_name} must be positive")
