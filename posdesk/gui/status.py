"""The words the POS uses for where a ticket and its invoice link stand."""

from __future__ import annotations

from posdesk.core.events import LinkStatus
from posdesk.core.ticket import PaymentMethod, Ticket, TicketState
from posdesk.gui.backend import InvoiceInfo

_LINK_WORDS = {
    LinkStatus.EXPIRED: "link expired",
    LinkStatus.REVOKED: "link revoked",
}
# What the client's link adds to "Invoice sent · awaiting payment" (said once, not "· sent" again).
_WAITING_WORDS = {
    LinkStatus.PREPARING: "Invoice sent · link not uploaded yet",
    LinkStatus.OPENED: "Invoice opened by the client · awaiting payment",
    LinkStatus.PARTIALLY_PAID: "Invoice partly paid · balance still due",
}


def ticket_status(ticket: Ticket, invoice: InvoiceInfo | None, *, saved: bool = True) -> tuple[str, str]:
    """``(text, tone)`` for the status pill; tone is "", "waiting", "warning" or "done"."""
    state = ticket.state
    if state is TicketState.PAID:
        online = any(p.method is PaymentMethod.ONLINE_CARD for p in ticket.payments) or invoice is not None
        return ("Paid online · closed" if online else "Paid · closed", "done")
    if state is TicketState.VOIDED:
        return ("Voided", "")
    if invoice is not None and invoice.out_of_date:
        return ("Invoice out of date: send again", "warning")
    if state is TicketState.PARTIALLY_PAID:
        return ("Partially paid · balance still due", "waiting")
    if state is TicketState.AWAITING_PAYMENT and invoice is not None:
        if invoice.link_status in (LinkStatus.EXPIRED, LinkStatus.REVOKED):
            return (f"Invoice sent · {_LINK_WORDS[invoice.link_status]}: send again", "warning")
        return (_WAITING_WORDS.get(invoice.link_status, "Invoice sent · awaiting payment"), "waiting")
    if state is TicketState.AWAITING_PAYMENT:
        return ("Invoice sent · awaiting payment", "waiting")
    return ("Open" if saved else "New · not saved", "")
