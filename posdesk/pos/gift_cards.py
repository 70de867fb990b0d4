"""Checking a gift card's code at the counter: the companion's balance (every terminal's uses) when it
can be asked, else this terminal's records, and the words say which."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from posdesk.core.gift_cards import normalize_code
from posdesk.core.money import Money

COMPANION, TERMINAL = "companion", "terminal"


@dataclass(frozen=True, slots=True)
class GiftCardCheck:
    code: str
    balance: Money | None  # None: no card with this code was sold through the POS
    source: str  # COMPANION or TERMINAL

    def words(self, amount: Money | None, locale: str = "en_US") -> str:
        """What the tender dialog says under the code."""
        if not self.code:
            return "Enter the gift card's code"
        where = "the store's records" if self.source == COMPANION else (
            "this terminal's records: the companion cannot be reached"
        )
        if self.balance is None:
            return f"No gift card with this code was sold here ({where})"
        if not self.balance.is_positive():
            return f"{self.code} is used up: nothing is left on it ({where})"
        left = f"{self.code}: {self.balance.format(locale)} left ({where})"
        if amount is not None and amount > self.balance:
            return f"{left}. It cannot pay {amount.format(locale)}"
        return left

    @property
    def usable(self) -> bool:
        return self.balance is not None and self.balance.is_positive()


def check_at_companion(companion_url: str, credential: str, code: str) -> dict[str, Any] | None:
    """The companion's record of the card (None: it knows no such card). Blocking: run it as a QueryOp.
    Raises ``CompanionUnavailable`` when the companion cannot be reached."""
    from posdesk.sync.client import BlockingCompanion, CompanionRejected

    with BlockingCompanion(companion_url, credential) as companion:
        try:
            return companion.get(f"/gift-cards/{normalize_code(code)}")
        except CompanionRejected as exc:
            if exc.status in (404, 422):
                return None
            raise
