"""Tips: the store's presets, the client's choice, and the amount the companion will charge.

**A tip on a part payment is on that part's share of the tip base** (:func:`tip_share`), the way
Square suggests tips on the amount being paid rather than the whole bill: paying $50 of a $108.25
invoice whose services come to $100 tips on $46.19, not on $100. Shares are taken cumulatively
(the tip base times the fraction of the total paid after this part, less the same before it, each
rounded half-up), so the shares of parts that pay the whole total add up to the tip base exactly.
**The cap holds for the invoice as a whole** (:func:`tip_cap_left`): the store's maximum rate of the
whole tip base, less the tips already paid on earlier parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from posdesk.core.money import Money, check_percent_or_amount

_CUSTOM_MINOR = re.compile(r"-?[0-9]{1,12}")  # negative is read, then refused by tip_amount
_PRESET_INDEX = re.compile(r"[0-9]{1,3}")
# A preset as the page showed it: "percent:0.15:1500" (15%, shown as 15.00) or "amount:500:500".
_PRESET_SEEN = re.compile(r"(percent|amount):([0-9]{1,3}(?:\.[0-9]{1,6})?|[0-9]{1,12}):([0-9]{1,12})")


class TipError(ValueError):
    """The tip asked for is not allowed; the message is fit to show to the client."""


class TipChoicesChanged(TipError):
    """The preset the client saw is no longer offered, or no longer comes to the amount shown."""

    def __init__(self) -> None:
        super().__init__("The tip choices have changed. Please check them and choose again.")


@dataclass(frozen=True, slots=True)
class TipPreset:
    """A preset button: a percent of the tip base (``Decimal("0.20")``) or a fixed amount."""

    percent: Decimal | None = None
    amount: Money | None = None

    def __post_init__(self) -> None:
        check_percent_or_amount(self, "a tip preset", "a tip percent", "a tip amount")

    def matches(self, percent: Decimal | None, amount_minor: int | None) -> bool:
        """Whether this is the preset a page showed as ``percent`` or ``amount_minor``."""
        if self.percent is not None:
            return percent is not None and self.percent == percent
        assert self.amount is not None
        return amount_minor is not None and self.amount.minor == amount_minor

    def form_value(self, base: Money) -> str:
        """What the page posts for this preset: what the client saw, never a position in a list."""
        figure = (
            str(self.percent) if self.percent is not None else str(self.amount.minor if self.amount else 0)
        )
        kind = "percent" if self.percent is not None else "amount"
        return f"{kind}:{figure}:{self.amount_for(base).minor}"

    def amount_for(self, base: Money) -> Money:
        if self.percent is not None:
            return base.apply_rate(self.percent)
        assert self.amount is not None
        return self.amount

    def label(self, locale: str = "en_US") -> str:
        if self.percent is not None:
            return f"{(self.percent * 100).normalize():f}%"
        assert self.amount is not None
        return self.amount.format(locale)


DEFAULT_PRESETS = (
    TipPreset(percent=Decimal("0.15")),
    TipPreset(percent=Decimal("0.18")),
    TipPreset(percent=Decimal("0.20")),
)


@dataclass(frozen=True, slots=True)
class TipPolicy:
    """What the store allows. A tip is capped at ``max_rate`` x the tip base (default 100%)."""

    allowed: bool = True
    presets: tuple[TipPreset, ...] = DEFAULT_PRESETS
    max_rate: Decimal = Decimal(1)

    def cap(self, base: Money) -> Money:
        return base.apply_rate(self.max_rate)


@dataclass(frozen=True, slots=True)
class TipChoice:
    """What the client picked: nothing, a preset or a custom amount in minor units.

    A preset is named by what the client saw (``seen_percent`` or ``seen_amount_minor``, and the
    ``shown_minor`` amount it came to); ``preset_index`` is the older form, read for API callers.
    """

    preset_index: int | None = None
    custom_minor: int | None = None
    seen_percent: Decimal | None = None
    seen_amount_minor: int | None = None
    shown_minor: int | None = None

    @property
    def is_seen_preset(self) -> bool:
        return self.seen_percent is not None or self.seen_amount_minor is not None

    @classmethod
    def none(cls) -> TipChoice:
        return cls()

    @classmethod
    def parse(cls, preset: str | None, custom: str | None) -> TipChoice:
        """From form fields: ``preset`` "0".."n" or "none"/"custom"; ``custom`` minor units as text."""
        if preset in (None, "", "none"):
            return cls()
        if preset == "custom":
            # ASCII digits only and a bounded length: str.isdigit() also takes "²" and int() refuses
            # it, and int() of thousands of digits raises instead of answering.
            if custom is None or not _CUSTOM_MINOR.fullmatch(custom.strip()):
                raise TipError("Enter a tip amount")
            return cls(custom_minor=int(custom.strip()))
        seen = _PRESET_SEEN.fullmatch(preset)
        if seen is not None:
            kind, figure, shown = seen.groups()
            if kind == "percent":
                return cls(seen_percent=Decimal(figure), shown_minor=int(shown))
            if not figure.isdigit():
                raise TipError("Unknown tip option")
            return cls(seen_amount_minor=int(figure), shown_minor=int(shown))
        if not _PRESET_INDEX.fullmatch(preset):
            raise TipError("Unknown tip option")
        return cls(preset_index=int(preset))


def read_tip_choice(preset: str, custom_text: str, currency: str, locale: str) -> TipChoice:
    """A tip choice from the page's form: ``preset`` as posted, a custom tip as typed in ``locale``.

    The custom text is read by :mod:`posdesk.core.amount_input`, the grammar the page's script uses
    too, so the amount the page showed is the amount charged, and what the page refused is refused.
    """
    # The page's grammar: the payment page reads custom tips, the POS's first frame never does.
    from posdesk.core.amount_input import AmountInputError, amount_rules, read_amount

    if preset != "custom":
        return TipChoice.parse(preset or "none", None)
    try:
        amount = read_amount(custom_text, amount_rules(currency, locale))
    except AmountInputError as exc:
        raise TipError("Enter a tip amount" if exc.reason == "empty" else str(exc)) from None
    return TipChoice(custom_minor=amount.minor)


def tip_amount(choice: TipChoice, base: Money, policy: TipPolicy, cap: Money | None = None) -> Money:
    """The tip the companion charges for ``choice`` on ``base``; refuses what the policy does not allow.

    ``cap`` is the most this tip may be (:func:`tip_cap_left` for a part payment); the policy's rate
    of ``base`` when not given.
    """
    zero = Money.zero(base.currency)
    if choice.preset_index is None and choice.custom_minor is None and not choice.is_seen_preset:
        return zero
    if not policy.allowed:
        raise TipError("This business does not accept tips online")
    if choice.is_seen_preset:
        preset = next(
            (p for p in policy.presets if p.matches(choice.seen_percent, choice.seen_amount_minor)), None
        )
        if preset is None:
            raise TipChoicesChanged()
        amount = preset.amount_for(base)
        if choice.shown_minor is not None and amount.minor != choice.shown_minor:
            raise TipChoicesChanged()
    elif choice.preset_index is not None:
        if not 0 <= choice.preset_index < len(policy.presets):
            raise TipError("Unknown tip option")
        amount = policy.presets[choice.preset_index].amount_for(base)
    else:
        assert choice.custom_minor is not None
        amount = Money(choice.custom_minor, base.currency)
    if amount.is_negative():
        raise TipError("A tip cannot be negative")
    cap = policy.cap(base) if cap is None else cap
    if amount > cap:
        raise TipError(f"A tip can be at most {cap.format()}")
    return amount


def _prorated(tip_base: Money, paid: Money, total: Money) -> Money:
    """``tip_base`` x ``paid`` / ``total``, rounded half-up, in integers (exact at any size)."""
    numerator = 2 * tip_base.minor * paid.minor + total.minor
    return Money(numerator // (2 * total.minor), tip_base.currency)


def tip_share(tip_base: Money, total: Money, paid_before: Money, amount: Money) -> Money:
    """The part of ``tip_base`` a payment of ``amount`` tips on, after ``paid_before`` of ``total``.

    A payment of the whole total tips on the whole base. A payment of nothing (a tip alone) tips on
    what is still unpaid. When nothing is owed (a fully prepaid visit) the whole base is tipped on.
    """
    zero = Money.zero(tip_base.currency)
    if not total.is_positive():
        return tip_base if not paid_before.is_positive() else zero
    start = paid_before.max(zero).min(total)
    end = total if not amount.is_positive() else (start + amount).min(total)
    return _prorated(tip_base, end, total) - _prorated(tip_base, start, total)


def tip_cap_left(policy: TipPolicy, tip_base: Money, tips_before: Money) -> Money:
    """What is left of the invoice's tip cap after ``tips_before`` (never below zero)."""
    return (policy.cap(tip_base) - tips_before).max(Money.zero(tip_base.currency))
