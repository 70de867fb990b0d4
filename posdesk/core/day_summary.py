"""A day's takings, in one shape whether the companion computed them (every terminal of the store) or
one terminal did from its own cache: totals by tender, tips (and by provider), refunds, open balances
and links awaiting payment. Both programs build it; the POS shows it and exports it as CSV.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from posdesk.core.attributes import from_attributes
from posdesk.core.money import Money

TENDERS = (
    ("online_card", "Online card"),
    ("cash", "Cash"),
    ("card", "Counter card"),
    ("gift_card", "Gift card"),
    ("other", "Other"),
)


@dataclass(frozen=True, slots=True)
class DaySummary:
    """``source`` says where the figures come from: "companion" or "terminal"."""

    day: date
    currency: str
    source: str
    tenders: dict[str, Money] = field(default_factory=dict)  # amounts toward balances, by method
    tips: Money | None = None
    tips_by_provider: dict[str, Money] = field(default_factory=dict)
    refunds: Money | None = None
    open_balance: Money | None = None
    open_tickets: int = 0
    links_awaiting: int = 0
    links_awaiting_amount: Money | None = None
    links_expired: int = 0

    def tender(self, method: str) -> Money:
        return self.tenders.get(method, Money.zero(self.currency))

    @property
    def taken(self) -> Money:
        total = Money.zero(self.currency)
        for amount in self.tenders.values():
            total = total + amount
        return total

    def _money(self, value: Money | None) -> Money:
        return value if value is not None else Money.zero(self.currency)

    def to_wire(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "currency": self.currency,
            "source": self.source,
            "tenders": {k: v.minor for k, v in self.tenders.items()},
            "tips": self._money(self.tips).minor,
            "tips_by_provider": {k: v.minor for k, v in self.tips_by_provider.items()},
            "refunds": self._money(self.refunds).minor,
            "open_balance": self._money(self.open_balance).minor,
            "open_tickets": self.open_tickets,
            "links_awaiting": self.links_awaiting,
            "links_awaiting_amount": self._money(self.links_awaiting_amount).minor,
            "links_expired": self.links_expired,
        }

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> DaySummary:
        cur = str(raw["currency"])

        def m(value: Any) -> Money:
            return Money(int(value or 0), cur)

        return cls(
            day=date.fromisoformat(str(raw["day"])),
            currency=cur,
            source=str(raw.get("source", "companion")),
            tenders={str(k): m(v) for k, v in dict(raw.get("tenders", {})).items()},
            tips=m(raw.get("tips")),
            tips_by_provider={str(k): m(v) for k, v in dict(raw.get("tips_by_provider", {})).items()},
            refunds=m(raw.get("refunds")),
            open_balance=m(raw.get("open_balance")),
            open_tickets=int(raw.get("open_tickets", 0)),
            links_awaiting=int(raw.get("links_awaiting", 0)),
            links_awaiting_amount=m(raw.get("links_awaiting_amount")),
            links_expired=int(raw.get("links_expired", 0)),
        )

    def rows(self, locale: str = "en_US") -> list[tuple[str, str, str]]:
        """(section, item, amount) rows: what the dialog lists and the CSV holds."""

        def fmt(money: Money) -> str:
            return money.format(locale)

        rows = [("Takings", label, fmt(self.tender(key))) for key, label in TENDERS]
        rows.append(("Takings", "Total", fmt(self.taken)))
        rows.append(("Tips", "Total", fmt(self._money(self.tips))))
        rows += [("Tips", who, fmt(amount)) for who, amount in sorted(self.tips_by_provider.items())]
        rows.append(("Refunds", "Total", fmt(self._money(self.refunds))))
        rows.append(
            ("Open", f"{self.open_tickets} tickets with a balance", fmt(self._money(self.open_balance)))
        )
        rows.append(
            ("Links", f"{self.links_awaiting} awaiting payment", fmt(self._money(self.links_awaiting_amount)))
        )
        rows.append(("Links", f"{self.links_expired} expired", ""))
        return rows


def day_bounds(day: date, timezone: tzinfo) -> tuple[datetime, datetime]:
    """From the day's first midnight to the next one, in the store's time zone."""
    start = datetime.combine(day, time(0), timezone)
    return start, datetime.combine(day + timedelta(days=1), time(0), timezone)


@dataclass(slots=True)
class DayCount:
    """A day summary's figures while they are counted: the companion counts its records and a terminal
    its cache, each payment, tip share, refund and invoice link the same way."""

    day: date
    currency: str
    tenders: dict[str, Money] = field(default_factory=dict)
    tips: Money = field(init=False)
    tips_by_provider: dict[str, Money] = field(default_factory=dict)
    refunds: Money = field(init=False)
    open_balance: Money = field(init=False)
    open_tickets: int = 0
    links_awaiting: int = 0
    links_awaiting_amount: Money = field(init=False)
    links_expired: int = 0

    def __post_init__(self) -> None:
        self.tips = self.refunds = self.open_balance = self.links_awaiting_amount = Money.zero(self.currency)

    def take(self, method: str, amount: Money, tip: Money) -> None:
        """A payment taken on the day: its amount toward the balances under its tender, and its tip."""
        self.tenders[method] = self.tenders.get(method, Money.zero(self.currency)) + amount
        self.tips = self.tips + tip

    def share_tip(self, shares: Mapping[str, Money]) -> None:
        """A tip's shares by provider (net of what of it was refunded)."""
        for name, share in shares.items():
            self.tips_by_provider[name] = self.tips_by_provider.get(name, Money.zero(self.currency)) + share

    def awaiting_link(self, balance_due: Money) -> None:
        """An invoice link still awaiting payment of ``balance_due``."""
        self.links_awaiting += 1
        self.links_awaiting_amount = self.links_awaiting_amount + balance_due

    def summary(self, source: str) -> DaySummary:
        return from_attributes(DaySummary, self, source=source)
