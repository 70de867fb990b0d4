"""What a tip on this link's next payment is reckoned on: the part's share of the tip base and the cap left.

The page's buttons, the confirmation page's "add a tip" and the charge all ask :func:`tip_basis`, so
the suggestions and the charge are on the same base (the rule is :mod:`posdesk.core.tips`'s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from posdesk.core.money import Money, total
from posdesk.core.ticket import PaymentMethod
from posdesk.core.tips import TipPolicy, tip_cap_left, tip_share

if TYPE_CHECKING:
    from posdesk.companion.models import Payment
    from posdesk.companion.payments.balance import Balance


@dataclass(frozen=True, slots=True)
class TipBasis:
    """``share``: what a percent preset is a percent of; ``cap``: the most this tip may be."""

    share: Money
    cap: Money

    @property
    def can_tip(self) -> bool:
        return self.share.is_positive() and self.cap.is_positive()


def tips_before(balance: Balance) -> Money:
    """Tips already paid on this invoice: through the companion, and at the counter (listed on the ticket)."""
    at_counter = total(
        (p.tip for p in balance.invoice.payments if p.method is not PaymentMethod.ONLINE_CARD), balance.currency
    )
    return balance.tips_paid + at_counter


def tip_basis(balance: Balance, policy: TipPolicy, amount: Money, paid_before: Money | None = None) -> TipBasis:
    """The basis of a tip on a payment of ``amount`` off the balance (``due_toward`` for the next charge;
    a payment's own part for a tip added afterwards, with ``paid_before`` what was paid off before it).
    Card surcharges are left out of every figure: a tip is on the services, not on the surcharge."""
    before = balance.paid_toward if paid_before is None else paid_before
    share = tip_share(balance.tip_base, balance.total_toward, before, amount)
    return TipBasis(share=share, cap=tip_cap_left(policy, balance.tip_base, tips_before(balance)))


def payment_tip_basis(balance: Balance, policy: TipPolicy, payment: Payment) -> TipBasis:
    """The basis of a tip added after ``payment`` (the confirmation page): that payment's own share."""
    amount = balance.toward(payment)
    counted = payment.status in ("succeeded", "refunded")
    before = (balance.paid_toward - amount) if counted and payment.kind == "invoice" else balance.paid_toward
    return tip_basis(balance, policy, amount, paid_before=before.max(Money.zero(balance.currency)))
