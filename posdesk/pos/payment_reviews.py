"""Online payments the companion kept for a manager's review, as a ticket shows them, and the manager's
decision on one (count it toward the invoice, refund it, or dismiss it as not charged).

The companion decides what the gateway's answer allows (``posdesk.companion.payments.review``); the POS
asks it through the one companion client, off the UI thread (run these in a ``QueryOp``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from posdesk.core.money import Money

NEEDS_REVIEW = "Needs review"


class Decision(enum.StrEnum):
    COUNT = "count"
    REFUND = "refund"
    DISMISS = "dismiss"


DECISION_WORDS = {
    Decision.COUNT: "counted toward the invoice",
    Decision.REFUND: "refunded to the card",
    Decision.DISMISS: "dismissed as not charged",
}


@dataclass(frozen=True)
class KeptPayment:
    """One online payment of a ticket waiting for a manager's decision."""

    payment_id: str
    amount: Money
    tip: Money
    status: str  # where the payment stands at the companion (often still "processing")
    reason: str
    reference: str = ""
    method: str = "online_card"
    ticket_payment_id: str = ""  # the id of the ticket's payment it is (a counter tender), else its own

    @property
    def on_ticket_as(self) -> str:
        return self.ticket_payment_id or self.payment_id

    @property
    def method_words(self) -> str:
        return "Online card" if self.method == "online_card" else self.method.replace("_", " ").capitalize()

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> KeptPayment:
        currency = str(raw["currency"])
        return cls(
            payment_id=str(raw["payment_id"]),
            amount=Money(int(raw["amount"]), currency),
            tip=Money(int(raw.get("tip", 0)), currency),
            status=str(raw.get("status", "")),
            reason=str(raw.get("reason", "")),
            reference=str(raw.get("reference", "")),
            method=str(raw.get("method", "online_card")),
            ticket_payment_id=str(raw.get("ticket_payment_id", "")),
        )


def kept_for_ticket(companion_url: str, credential: str, ticket_id: str) -> list[KeptPayment]:
    """The ticket's payments kept for review (blocking)."""
    from posdesk.sync.client import BlockingCompanion

    with BlockingCompanion(companion_url, credential) as companion:
        return [KeptPayment.from_wire(raw) for raw in companion.payments_for_review(ticket_id)]


def settle(companion_url: str, credential: str, payment_id: str, decision: Decision) -> dict[str, Any]:
    """A manager's decision on one kept payment (blocking); the payment as the companion settled it.
    Raises the client's ``CompanionRejected`` (its ``detail`` says why) when the gateway's answer does not
    allow the decision."""
    from posdesk.sync.client import BlockingCompanion

    with BlockingCompanion(companion_url, credential) as companion:
        return companion.settle_review(payment_id, decision.value)


def notice(kept: list[KeptPayment], locale: str = "en_US") -> str:
    """The ticket's notice about its kept payments ("" when none)."""
    if not kept:
        return ""
    first = kept[0]
    what = f"A payment of {(first.amount + first.tip).format(locale)} needs a manager's review"
    more = f" (and {len(kept) - 1} more)" if len(kept) > 1 else ""
    return f"{what}{more}: {first.reason.rstrip('.')}. Select it and choose Review… (manager PIN)."
