"""Refunds from the POS (a manager's action).

An online payment is refunded through the companion's refund API (the gateway gives the money back);
the answer's refunded total is recorded on the ticket at once, and the ``payment.refunded`` event tells
every terminal. Offline, the refund waits in the outbox with the refunded total the manager saw, so a
resend after a lost answer never refunds twice. A tender taken at the counter is refunded at the counter
(cash handed back, a refund on the counter terminal): recorded on the ticket, and at the companion
through the outbox.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from posdesk.core.client import Client
from posdesk.core.money import Money
from posdesk.core.text import MAX_NAME_IN_MESSAGE, single_line
from posdesk.core.ticket import Payment, PaymentMethod, Ticket

if TYPE_CHECKING:
    from posdesk.store import Database
    from posdesk.store.client_messages import ClientMessage

REFUND_SUBJECT = "Your refund from {business}: {amount}"
REFUND_EMAIL = (
    "Hi {first_name},\n\n{business} has refunded {amount} of your payment ({method}, {paid}) on ticket "
    "#{number}.\n{where}\n\nKeep this email as your refund receipt.\n\nThank you,\n{business}\n"
)


class RefundError(ValueError):
    """The refund cannot be made as entered; the message says why."""


def refunded(payment: Payment) -> Money:
    return payment.refunded_total


def refundable(payment: Payment) -> Money:
    """What is left to refund: the amount and the tip, less what was refunded already."""
    return payment.amount + payment.tip - refunded(payment)


def refundable_parts(payment: Payment) -> tuple[Money, Money]:
    """What is left to refund of the amount and of the tip. The payment keeps the two apart (a tip
    refunded alone leaves the whole amount refundable); a refund reported by the gateway without its
    parts counts against the amount first and the tip last (:meth:`Payment.with_refund`)."""
    return payment.amount - payment.refunded_of_amount, payment.tip - payment.refunded_of_tip


def refund_of(payment: Payment, amount: Money, tip: Money) -> Money:
    """One refund of ``amount`` off the payment and ``tip`` off its tip; the total to give back.
    Raises :class:`RefundError` when either part is negative or more than is left of it."""
    if amount.is_negative() or tip.is_negative():
        raise RefundError("A refund cannot be negative")
    amount_left, tip_left = refundable_parts(payment)
    if tip > tip_left:
        raise RefundError(f"The tip refund is at most {tip_left.format()} (what is left of the tip)")
    if amount > amount_left:
        raise RefundError(f"The refund of the amount is at most {amount_left.format()} (what is left of it)")
    whole = amount + tip
    check_refund(payment, whole)
    return whole


def check_refund(payment: Payment, amount: Money) -> None:
    left = refundable(payment)
    if not left.is_positive():
        raise RefundError("This payment is already refunded in full")
    if not amount.is_positive() or amount > left:
        raise RefundError(f"A refund is more than zero and at most {left.format()}")


def check_tip_part(payment: Payment, amount: Money, tip: Money) -> None:
    """The tip part of a refund of ``amount`` in all: not negative, within the refund and within what is
    left of the tip."""
    _amount_left, tip_left = refundable_parts(payment)
    if tip.is_negative():
        raise RefundError("The tip part of a refund cannot be negative")
    if tip > amount:
        raise RefundError(f"The tip part is at most the refund, {amount.format()}")
    if tip > tip_left:
        raise RefundError(f"The tip refund is at most {tip_left.format()} (what is left of the tip)")


def is_online(payment: Payment) -> bool:
    return payment.method is PaymentMethod.ONLINE_CARD


def record_refunded_total(
    db: Database, ticket_id: str, payment_id: str, total: Money, tip_total: Money | None = None
) -> Ticket:
    """Note a payment's refunded total (of which ``tip_total`` is tip) on the ticket; it only moves
    forward."""
    from posdesk.store import TicketRepository

    with db.session() as session:
        tickets = TicketRepository(session)
        ticket = tickets.require(ticket_id, RefundError("The ticket is not on this terminal"))
        payment = next((p for p in ticket.payments if p.id == payment_id), None)
        if payment is None:
            raise RefundError("The payment is not on this ticket")
        if total > refunded(payment):
            base = ticket.revision
            ticket.record_refund(payment_id, total, tip_total=tip_total)
            tickets.save(ticket, base_revision=base)
        return ticket


def refund_at_counter(
    db: Database, ticket_id: str, payment: Payment, amount: Money, tip: Money | None = None
) -> Ticket:
    """Refund a counter tender (``amount`` in all, ``tip`` of it off the tip): recorded on the ticket
    and sent to the companion through the outbox."""
    from posdesk.store import Outbox

    check_refund(payment, amount)
    if tip is not None:
        check_tip_part(payment, amount, tip)
    total = refunded(payment) + amount
    tip_total = payment.refunded_of_tip + (tip if tip is not None else Money.zero(amount.currency))
    ticket = record_refunded_total(db, ticket_id, payment.id, total, tip_total if tip is not None else None)
    recorded = next(p for p in ticket.payments if p.id == payment.id)
    with db.session() as session:
        if payment.method is PaymentMethod.GIFT_CARD:  # the value goes back onto the card
            from posdesk.store.gift_cards import GiftCardRepository

            cards = GiftCardRepository(session)
            if cards.get(payment.reference) is not None:
                cards.use(payment.reference, Money.zero(amount.currency) - amount, ticket_id)
        Outbox(session).enqueue(
            "api.post",
            f"tender-refund:{payment.id}:to{total.minor}",
            {
                "path": f"/tenders/{payment.id}/refund",
                "body": {"refunded_total": total.minor, "refunded_tip_total": recorded.refunded_of_tip.minor},
            },
        )
    return ticket


def queue_refunded_tip(db: Database, ticket_id: str, payment_id: str, tip_total: Money) -> None:
    """Tell the other terminals how much of the payment's refunds was tip (the refund itself travels as a
    total; without this they would count it off the amount first). Through the outbox, after the refund."""
    from posdesk.store import Outbox

    with db.session() as session:
        Outbox(session).enqueue(
            "api.post",
            f"tip-refunded:{payment_id}:to{tip_total.minor}",
            {
                "path": f"/tips/{payment_id}/refunded",
                "body": {"ticket_id": ticket_id, "refunded_tip_total": tip_total.minor},
            },
        )


def queue_online_refund(db: Database, payment: Payment, amount: Money) -> None:
    """Offline: the refund goes when the terminal reconnects, once (see the module's docstring)."""
    from posdesk.store import Outbox

    check_refund(payment, amount)
    before = refunded(payment)
    with db.session() as session:
        Outbox(session).enqueue(
            "api.post",
            f"refund:{payment.id}:to{(before + amount).minor}",
            {
                "path": f"/payments/{payment.id}/refund",
                "body": {"amount": amount.minor, "refunded_before": before.minor},
            },
        )


def refund_online(companion_url: str, credential: str, payment: Payment, amount: Money) -> Money:
    """Ask the companion to refund now (blocking: run it as a QueryOp); the payment's refunded total."""
    from posdesk.sync.client import BlockingCompanion

    check_refund(payment, amount)
    with BlockingCompanion(companion_url, credential) as companion:
        answer = companion.post(
            f"/payments/{payment.id}/refund",
            {"amount": amount.minor, "refunded_before": refunded(payment).minor},
            timeout=30,
        )
    return Money(int(answer["refunded_total"]), payment.amount.currency)


def refund_receipt(
    client: Client, ticket: Ticket, payment: Payment, amount: Money, business: str, method: str, locale: str
) -> tuple[str, str] | None:
    """The refund receipt's subject and text, or ``None`` when the client has not agreed to emails
    (or has no address): no receipt is sent then."""
    if not client.can_receive_email:
        return None
    if payment.method in (PaymentMethod.ONLINE_CARD, PaymentMethod.CARD):
        where = "It goes back to the card you paid with; banks take a few days to show it."
    elif payment.method is PaymentMethod.GIFT_CARD:
        where = f"It went back onto your gift card {payment.reference}."
    else:
        where = "It was handed back at the counter."
    values = {
        "first_name": client.first_name or "there",
        "business": business or "the store",
        "amount": amount.format(locale),
        "paid": (payment.amount + payment.tip).format(locale),
        "method": method,
        "number": str(ticket.number),
        "where": where,
    }
    # Here, not at the top: the templates' module loads the message store (SQLAlchemy), which the
    # ticket view's first frame, importing this module, does not need.
    from posdesk.pos.message_templates import fill_template

    # The client's and the store's names go in on one line, cut, never read as a template again.
    one_line = {
        k: single_line(v, MAX_NAME_IN_MESSAGE) if k in ("first_name", "business") else v
        for k, v in values.items()
    }
    return fill_template(REFUND_SUBJECT, values), REFUND_EMAIL.format(**one_line)


def queue_refund_receipt(
    db: Database, ticket_id: str, payment: Payment, amount: Money, business: str, method: str, locale: str
) -> ClientMessage | None:
    """Queue the refund receipt for the ticket's client when they agreed to emails (see the module)."""
    import hashlib  # with the database layer: the first frame imports this module, not receipts

    from posdesk.store import ClientRepository, TicketRepository
    from posdesk.store.client_messages import MessageChannel, MessageRepository, queue_message

    with db.session() as session:
        ticket = TicketRepository(session).get(ticket_id)
        if ticket is None or ticket.client_id is None:
            return None
        ticket_client = ClientRepository(session).get(ticket.client_id)
        if ticket_client is None:
            return None
        receipt = refund_receipt(ticket_client, ticket, payment, amount, business, method, locale)
        if receipt is None:
            return None
        key = f"{payment.id}\n{(refunded(payment) + amount).minor}"
        message_id = f"refund-{hashlib.sha256(key.encode()).hexdigest()[:32]}"
        if MessageRepository(session).get(message_id) is not None:
            return None
        subject, text = receipt
        return queue_message(
            session,
            client=ticket_client,
            channel=MessageChannel.EMAIL,
            subject=subject,
            text=text,
            ticket_id=ticket.id,
            message_id=message_id,
        )
