"""Tips: the store's presets, the client's choice, and the amount the companion will charge."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from posdesk.core.money import Money

_CUSTOM_MINOR = re.compile(r"-?[0-9]{1,12}")  # negative is read, then refused by tip_amount
_PRESET_INDEX = re.compile(r"[0-9]{1,3}")


class TipError(ValueError):
    """The tip asked for is not allowed; the message is fit to show to the client."""


@dataclass(frozen=True, slots=True)
class TipPreset:
    """A preset button: a percent of the tip base (``Decimal("0.20")``) or a fixed amount."""

    percent: Decimal | None = None
    amount: Money | None = None

    def __post_init__(self) -> None:
        if (self.percent is None) == (self.amount is None):
            raise ValueError("a tip preset is either a percent or an amount")
        if self.percent is not None and not Decimal(0) < self.percent <= Decimal(1):
            raise ValueError("a tip percent must be more than 0% and at most 100%")
        if self.amount is not None and not self.amount.is_positive():
            raise ValueError("a tip amount must be positive")

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
    """What the client picked: nothing, a preset (by index) or a custom amount in minor units."""

    preset_index: int | None = None
    custom_minor: int | None = None

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
        if not _PRESET_INDEX.fullmatch(preset):
            raise TipError("Unknown tip option")
        return cls(preset_index=int(preset))


def tip_amount(choice: TipChoice, base: Money, policy: TipPolicy) -> Money:
    """The tip the companion charges for ``choice``; refuses what the policy does not allow."""
    zero = Money.zero(base.currency)
    if choice.preset_index is None and choice.custom_minor is None:
        return zero
    if not policy.allowed:
        raise TipError("This business does not accept tips online")
    if choice.preset_index is not None:
        if not 0 <= choice.preset_index < len(policy.presets):
            raise TipError("Unknown tip option")
        amount = policy.presets[choice.preset_index].amount_for(base)
    else:
        assert choice.custom_minor is not None
        amount = Money(choice.custom_minor, base.currency)
    if amount.is_negative():
        raise TipError("A tip cannot be negative")
    cap = policy.cap(base)
    if amount > cap:
        raise TipError(f"A tip can be at most {cap.format()}")
    return amount
