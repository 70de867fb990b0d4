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


class Decision(enum.StrEnum):
    COUNT = "count"
    REFUND = "refund"
    DISMISS = "dismiss"
    GIVEN_BACK = "given_back"  # money taken at the counter, handed back there (a counter refund)


DECISION_WORDS = {
    Decision.COUNT: "counted toward the invoice",
    Decision.REFUND: "refunded to the card",
    Decision.DISMISS: "dismissed as not charged",
    Decision.GIVEN_BACK: "given back at the counter",
}
ONLINE_DECISIONS = (Decision.COUNT, Decision.REFUND, Decision.DISMISS)
COUNTER_DECISIONS = (Decision.COUNT, Decision.GIVEN_BACK)  # no gateway to refund through or ask


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
    def decisions(self) -> tuple[Decision, ...]:
        """What a manager can do with it: money taken at the counter is counted or given back there."""
        return ONLINE_DECISIONS if self.method == "online_card" else COUNTER_DECISIONS

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


@dataclass(frozen=True)
class KeptReport:
    """A gateway report kept for review that names no payment the companion recorded (an unknown payment
    id with figures the invoice could not have asked for...): the manager checks the gateway's dashboard
    and marks it handled with a note."""

    report_id: str
    gateway: str
    reference: str
    status: str
    amount: Money
    reason: str
    ticket_id: str = ""
    received_at: str = ""

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> KeptReport:
        currency = str(raw.get("currency") or "USD")
        return cls(
            report_id=str(raw["report_id"]),
            gateway=str(raw.get("gateway", "")),
            reference=str(raw.get("reference", "")),
            status=str(raw.get("status", "")),
            amount=Money(int(raw.get("amount", 0)) + int(raw.get("tip", 0)), currency),
            reason=str(raw.get("reason", "")),
            ticket_id=str(raw.get("ticket_id", "")),
            received_at=str(raw.get("received_at", "")),
        )

    def describe(self, locale: str = "en_US") -> str:
        said = f"{self.gateway.capitalize()} reported {self.amount.format(locale)}"
        if self.status:
            said += f" {self.status}"
        return f"{said} for {self.reference or 'an unknown payment'}"


@dataclass(frozen=True)
class StoreReviews:
    """Everything of the store waiting for a manager's review."""

    payments: list[tuple[str, KeptPayment]]  # (ticket id, payment)
    reports: list[KeptReport]

    @property
    def count(self) -> int:
        return len(self.payments) + len(self.reports)


def store_reviews(companion_url: str, credential: str) -> StoreReviews:
    """The store's payments and gateway reports kept for review (blocking)."""
    from posdesk.sync.client import BlockingCompanion

    with BlockingCompanion(companion_url, credential) as companion:
        answer = companion.store_reviews()
    payments = [
        (str(raw.get("ticket_id", "")), KeptPayment.from_wire(raw))
        for raw in answer.get("payments", [])
        if isinstance(raw, dict)
    ]
    reports = [KeptReport.from_wire(raw) for raw in answer.get("reports", []) if isinstance(raw, dict)]
    return StoreReviews(payments, reports)


def handle_report(companion_url: str, credential: str, report_id: str, note: str) -> dict[str, Any]:
    """Mark a kept gateway report handled with the manager's ``note`` (blocking)."""
    from posdesk.sync.client import BlockingCompanion

    with BlockingCompanion(companion_url, credential) as companion:
        return companion.handle_report(report_id, note)


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
