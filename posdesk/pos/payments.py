"""How the POS names and sums a ticket's payments: method, status, tips."""

from __future__ import annotations

from posdesk.core.money import Money
from posdesk.core.ticket import Payment, PaymentMethod, Ticket

METHOD_LABELS = {
    PaymentMethod.ONLINE_CARD: "Online card",
    PaymentMethod.CARD: "Card (counter terminal)",
    PaymentMethod.CASH: "Cash",
    PaymentMethod.GIFT_CARD: "Gift card",
}


def method_label(payment: Payment) -> str:
    label = METHOD_LABELS.get(payment.method, payment.method.value.replace("_", " ").capitalize())
    if payment.card_last4:
        label += f" {payment.card_brand} ···{payment.card_last4}".rstrip()
    elif payment.reference and payment.method is not PaymentMethod.ONLINE_CARD:
        label += f" · {payment.reference}"
    if payment.amount.is_zero() and payment.tip.is_positive():
        label += " (tip)"
    return label


def payment_status(payment: Payment) -> str:
    """paid, refunded, partly refunded."""
    refunded = payment.refunded
    if refunded is None or refunded.is_zero():
        return "Paid"
    if refunded >= payment.amount + payment.tip:
        return "Refunded"
    return f"Partly refunded ({refunded.format()})"


def tips_of(ticket: Ticket) -> Money:
    total = Money.zero(ticket.currency)
    for payment in ticket.payments:
        total = total + payment.tip
    return total
