"""Applying the companion's events to this terminal's cache, one event per local transaction.

Each function here runs inside :meth:`posdesk.store.cursor.EventCursor.apply`, which moves the cursor in
the same transaction; so a crash half-way leaves neither the change nor the cursor, and receiving an
event twice is harmless.

A ticket another terminal of the store invoiced is materialized here from the invoice document an
``invoice.updated`` event carries (when the companion includes it), so every terminal sees it close.
Other events about tickets this terminal does not hold change nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from posdesk.core.client import Client
from posdesk.core.events import Event, EventType, LinkStatus
from posdesk.core.invoice import Invoice, InvoiceFormatError
from posdesk.core.money import Money
from posdesk.core.pricing import price_ticket, toward_balance
from posdesk.core.ticket import Payment, PaymentMethod, Ticket, TicketState, TicketStateError
from posdesk.store.client_messages import MESSAGES_PATH, apply_communicator_event, record_refused_message
from posdesk.store.clients import ClientRepository
from posdesk.store.invoices import InvoiceRecordRepository
from posdesk.store.outbox import OutboxEntry
from posdesk.store.terminal_settings import SettingsRepository
from posdesk.store.tickets import TicketRepository
from posdesk.sync.settings_reconciliation import OUTBOX_KIND as STORE_SETTINGS
from posdesk.sync.settings_reconciliation import remember_refusal

log = logging.getLogger(__name__)

LINK_STATUS_OF = {
    EventType.INVOICE_UPDATED: LinkStatus.SENT,
    EventType.INVOICE_OPENED: LinkStatus.OPENED,
    EventType.INVOICE_PARTIALLY_PAID: LinkStatus.PARTIALLY_PAID,
    EventType.INVOICE_PAID: LinkStatus.PAID,
    EventType.LINK_EXPIRED: LinkStatus.EXPIRED,
    EventType.LINK_REVOKED: LinkStatus.REVOKED,
}


def payment_from_event(raw: dict[str, Any], currency: str) -> Payment:
    """The ``payment`` object of a paid / tip event as a core Payment."""
    cur = raw.get("currency", currency)
    return Payment(
        id=str(raw["id"]),
        amount=Money(int(raw.get("amount", 0)), cur),
        tip=Money(int(raw.get("tip", 0)), cur),
        method=PaymentMethod(raw.get("method", PaymentMethod.ONLINE_CARD.value)),
        received_at=datetime.fromisoformat(raw["received_at"]),
        reference=str(raw.get("reference", "")),
        card_brand=str(raw.get("card_brand", "")),
        card_last4=str(raw.get("card_last4", "")),
    )


def _ticket_id_of(session: Session, event: Event) -> str | None:
    if event.ticket_id:
        return event.ticket_id
    if event.invoice_id:
        record = InvoiceRecordRepository(session).get_by_invoice_id(event.invoice_id)
        return record.ticket_id if record else None
    return None


def origin_note(number: int) -> str:
    """The note on a ticket held here because another terminal invoiced it (its number there)."""
    return f"From another terminal (ticket #{number} there)"


def materialize_ticket(session: Session, document: Invoice) -> bool:
    """Hold (or refresh) a ticket another terminal invoiced, from its invoice document.

    The ticket keeps its number when that number is free here; otherwise it takes this terminal's next
    number, and its note always names the number it has on the terminal that made it. Its client is
    added to this terminal's client list when missing. A ticket this terminal made itself (it has the
    link) or one already closed here is left alone. Returns True when something was written.
    """
    tickets = TicketRepository(session)
    held = tickets.get(document.ticket_id)
    if held is not None and (held.is_closed or InvoiceRecordRepository(session).get(held.id) is not None):
        return False
    client_id = None
    if document.client is not None:
        client_id = document.client.id
        clients = ClientRepository(session)
        if clients.get(client_id) is None:
            first, _, last = document.client.name.partition(" ")
            clients.create(
                Client(
                    id=client_id,
                    first_name=first or document.client.name,
                    last_name=last,
                    phone=document.client.phone,
                    email=document.client.email,
                    sms_consent=document.client.sms_consent,
                    email_consent=document.client.email_consent,
                )
            )
    if held is None:
        number = document.ticket_number
        if tickets.get_by_number(number) is not None:
            number = tickets.next_number()
        ticket = Ticket(id=document.ticket_id, number=number, currency=document.currency)
        base: int | None = None
    else:
        ticket, base = held, held.revision
    ticket.client_id = client_id
    ticket.client_name = document.client.name if document.client else ""
    ticket.lines = list(document.lines)
    ticket.promo_codes = list(document.promo_codes)
    ticket.payments = list(document.payments) or ticket.payments
    ticket.state = TicketState.AWAITING_PAYMENT
    ticket.note = origin_note(document.ticket_number)
    ticket.revision = (base or 0) + 1
    tickets.save(ticket, base_revision=base)
    return True


def _record_tender(session: Session, ticket: Ticket, raw: dict[str, Any]) -> None:
    """Money another terminal (or this one, echoed back) took at its counter; once by payment id."""
    payment = payment_from_event(raw, ticket.currency)
    if any(p.id == payment.id for p in ticket.payments):
        return
    settings = SettingsRepository(session).terminal()
    rate = settings.surcharge_rate
    due = price_ticket(
        ticket, promotions=settings.promotions_by_code(), surcharge_rate=rate, per_tender=True
    ).balance_due
    try:  # a counter card tender carries its surcharge: only the rest counts toward the balance
        ticket.record_payment(payment, due - toward_balance(payment, rate))
    except TicketStateError as exc:  # closed here meanwhile: keep the money on record, as for online
        log.warning("tender %s on ticket %s: %s", payment.id, ticket.number, exc)
        ticket.payments.append(payment)
        ticket.revision += 1


def _change_ticket(session: Session, ticket_id: str, change: Callable[[Ticket], None]) -> bool:
    tickets = TicketRepository(session)
    ticket = tickets.get(ticket_id)
    if ticket is None:
        return False
    base = ticket.revision
    change(ticket)
    if ticket.revision != base:
        tickets.save(ticket, base_revision=base)
    return True


def _split_tip(ticket: Ticket, data: dict[str, Any]) -> None:
    """A manager's tip split saved on another terminal (a payment this terminal lacks is left alone)."""
    raw = data.get("shares")
    shares = None if raw is None else tuple((str(k), Money(int(v), ticket.currency)) for k, v in raw.items())
    if any(p.id == data.get("payment_id") for p in ticket.payments):
        ticket.split_tip(str(data["payment_id"]), shares)


def apply_event(session: Session, event: Event) -> set[str]:
    """Apply one event; return the ids of the tickets it changed (for the GUI to refresh).

    Communicator events (message states, consent) add ``client:<id>`` keys for the clients they changed.
    """
    if event.type is EventType.UNKNOWN:
        log.info("event %s is of a type this version does not know; skipped", event.id)
        return set()
    if event.type in (EventType.MESSAGE_STATUS, EventType.CLIENT_CONSENT):
        return apply_communicator_event(session, event.type.value, event.data)
    if event.type is EventType.GIFT_CARD_CHANGED:
        from posdesk.store.gift_cards import GiftCardRepository

        GiftCardRepository(session).set_from_companion(event.data)
        return set()
    if event.type is EventType.INVOICE_UPDATED and isinstance(event.data.get("document"), dict):
        try:
            document = Invoice.from_wire(event.data["document"])
        except InvoiceFormatError as exc:
            log.warning("event %s: unreadable invoice document: %s", event.id, exc)
        else:
            if materialize_ticket(session, document):
                return {document.ticket_id}
    ticket_id = _ticket_id_of(session, event)
    if ticket_id is None:
        return set()
    invoices = InvoiceRecordRepository(session)
    changed = False
    data = event.data

    if event.type in (EventType.INVOICE_PAID, EventType.INVOICE_PARTIALLY_PAID):

        def pay(ticket: Ticket) -> None:
            payment = payment_from_event(data["payment"], ticket.currency)
            balance = Money(int(data.get("balance_due", 0)), ticket.currency)
            if event.type is EventType.INVOICE_PAID:
                balance = Money.zero(ticket.currency)
            try:
                ticket.record_payment(payment, balance)
            except TicketStateError as exc:
                # The companion took the money: never lose it. A ticket closed here by other means keeps
                # the payment on record; the manager sees it and refunds if needed.
                log.warning("payment %s on ticket %s: %s", payment.id, ticket.number, exc)
                if all(p.id != payment.id for p in ticket.payments):
                    ticket.payments.append(payment)
                    ticket.revision += 1

        changed = _change_ticket(session, ticket_id, pay)
    elif event.type is EventType.TENDER_RECORDED:
        changed = _change_ticket(session, ticket_id, lambda t: _record_tender(session, t, data["payment"]))
    elif event.type is EventType.TIP_ADDED:
        changed = _change_ticket(
            session, ticket_id, lambda t: t.record_tip(payment_from_event(data["payment"], t.currency))
        )
    elif event.type is EventType.PAYMENT_REFUNDED:

        def refund(ticket: Ticket) -> None:
            tip = data.get("refunded_tip_total")
            ticket.record_refund(
                str(data["payment_id"]),
                Money(int(data["refunded_total"]), ticket.currency),
                tip_total=None if tip is None else Money(int(tip), ticket.currency),
                # the day summary counts a refund on the day it was made
                at=event.created_at if event.created_at.tzinfo else event.created_at.replace(tzinfo=UTC),
            )

        changed = _change_ticket(session, ticket_id, refund)
    elif event.type is EventType.TIP_SPLIT:
        changed = _change_ticket(session, ticket_id, lambda t: _split_tip(t, data))
    elif event.type is EventType.TIP_REFUNDED:

        def tip_refunded(ticket: Ticket) -> None:
            if any(p.id == data.get("payment_id") for p in ticket.payments):
                tip = Money(int(data["refunded_tip_total"]), ticket.currency)
                ticket.note_refunded_tip(str(data["payment_id"]), tip)

        changed = _change_ticket(session, ticket_id, tip_refunded)
    elif event.type is EventType.INVOICE_REPRICED:
        document = Invoice.from_wire(data["document"])

        def reprice(ticket: Ticket) -> None:
            if list(document.promo_codes) != ticket.promo_codes and not ticket.is_closed:
                ticket.promo_codes = list(document.promo_codes)
                ticket.revision += 1

        changed = _change_ticket(session, ticket_id, reprice)
        record = invoices.get(ticket_id)
        if record is not None and document.version > record.version:
            from dataclasses import replace

            invoices.save(replace(record, version=document.version, fingerprint=document.fingerprint()))
            changed = True

    status = LINK_STATUS_OF.get(event.type)
    if status is not None and invoices.advance_link_status(ticket_id, status):
        changed = True
    if event.type in (EventType.PAYMENT_FAILED, EventType.PAYMENT_NEEDS_REVIEW, EventType.PAYMENT_REVIEW_SETTLED):
        # Nothing to store: the ticket shows these from the companion (failures from the event stream,
        # payments kept for review from its review list), refreshed now.
        changed = True
    return {ticket_id} if changed else set()


def record_rejection(session: Session, entry: OutboxEntry, status: int, detail: Any) -> None:
    """The companion refused queued work. For an invoice, flag it out of date so the cashier resends."""
    if entry.kind == "invoice.upsert" and status != 409:
        record = InvoiceRecordRepository(session).get_by_invoice_id(str(entry.payload.get("invoice_id")))
        if record is not None:
            InvoiceRecordRepository(session).mark_out_of_date(record.ticket_id)
    if entry.kind == "api.post" and entry.payload.get("path") == MESSAGES_PATH:
        record_refused_message(session, entry.payload, detail)
    if entry.kind == STORE_SETTINGS:
        remember_refusal(session, entry)
    log.warning("outbox entry %s refused (%s): %s", entry.key, status, detail)
