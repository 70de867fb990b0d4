"""Send Invoice on the terminal: make (or reuse) the link, snapshot the ticket, queue the upload.

Everything here is local and fast: no network. The link token is made on the terminal the first time a
ticket is sent, so the link exists (clipboard, QR) the instant the cashier clicks, even offline; later
sends reuse the same token and invoice id, and only a priced change (or a different requested amount)
makes a new version. The upload to the companion goes through the outbox, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from posdesk.core.attributes import from_attributes
from posdesk.core.client import Client
from posdesk.core.events import LinkStatus
from posdesk.core.invoice import Invoice, InvoiceClient
from posdesk.core.links import new_link_token, pay_url
from posdesk.core.money import Money
from posdesk.core.ticket import Ticket, new_id
from posdesk.store.clients import ClientRepository
from posdesk.store.database import Database
from posdesk.store.invoices import InvoiceRecord, InvoiceRecordRepository
from posdesk.store.outbox import Outbox
from posdesk.store.terminal_settings import TerminalSettings
from posdesk.store.tickets import TicketRepository

OUTBOX_KIND = "invoice.upsert"
# A new version is needed after the old link stopped working, even when nothing priced changed.
_DEAD_LINK = (LinkStatus.EXPIRED, LinkStatus.REVOKED)


class SendInvoiceError(ValueError):
    """The ticket cannot be invoiced now; the message says why, for the cashier."""


@dataclass(frozen=True, slots=True)
class SentLink:
    """What the cashier shares: the link, and which invoice version it now shows."""

    url: str
    token: str
    invoice_id: str
    version: int
    is_new_version: bool


def invoice_client(client: Client) -> InvoiceClient:
    return from_attributes(InvoiceClient, client, name=client.display_name)


def _snapshot(
    ticket: Ticket,
    client: InvoiceClient | None,
    settings: TerminalSettings,
    *,
    invoice_id: str,
    version: int,
    expires_at: datetime,
    amount_requested: Money | None,
) -> Invoice:
    return Invoice.from_ticket(
        ticket,
        invoice_id=invoice_id,
        version=version,
        locale=settings.locale,
        expires_at=expires_at,
        client=client,
        promotions=settings.promotions_by_code(),
        surcharge_rate=settings.surcharge_rate,
        amount_requested=amount_requested,
    )


def send_invoice(
    db: Database,
    ticket_id: str,
    *,
    amount_requested: Money | None,
    companion_url: str,
    settings: TerminalSettings,
    now: datetime | None = None,
    token: str | None = None,
    invoice_id: str | None = None,
) -> SentLink:
    """Make or update the ticket's invoice and queue its upload, in one transaction.

    ``token`` and ``invoice_id`` may be made by the caller beforehand (the dialog puts the link on the
    clipboard before this runs); they are used only for a ticket's first invoice; later sends keep the
    link the ticket already has. Raises :class:`SendInvoiceError` for a walk-in, closed or unknown ticket
    and for a requested amount that is not > 0 and <= the balance due.
    """
    now = now or datetime.now(UTC)
    with db.session() as session:
        tickets = TicketRepository(session)
        ticket = tickets.require(ticket_id, SendInvoiceError("Save the ticket before sending its invoice"))
        if ticket.is_closed:
            raise SendInvoiceError(f"Ticket {ticket.number} is {ticket.state.label.lower()}")
        if ticket.client_id is None:
            raise SendInvoiceError("Add a client to send an invoice")
        client = ClientRepository(session).get(ticket.client_id)
        if client is None:
            raise SendInvoiceError("The ticket's client is not in this terminal's client list")
        records = InvoiceRecordRepository(session)
        record = records.get(ticket_id)
        base_revision = ticket.revision

        if record is not None:
            token, invoice_id = record.link_token, record.invoice_id
        else:
            token, invoice_id = token or new_link_token(), invoice_id or new_id()
        expires_at = now + timedelta(hours=settings.link_expiry_hours)
        try:
            invoice = _snapshot(
                ticket,
                invoice_client(client),
                settings,
                invoice_id=invoice_id,
                version=record.version if record else 1,
                expires_at=record.expires_at if record else expires_at,
                amount_requested=amount_requested,
            )
        except ValueError as exc:  # the requested amount is out of range
            raise SendInvoiceError(str(exc)) from None
        fingerprint = invoice.fingerprint()
        is_new = record is None or fingerprint != record.fingerprint or record.link_status in _DEAD_LINK
        if record is not None and is_new:
            invoice = _snapshot(
                ticket,
                invoice.client,
                settings,
                invoice_id=invoice_id,
                version=record.version + 1,
                expires_at=expires_at,
                amount_requested=amount_requested,
            )

        ticket.mark_invoice_sent()
        if ticket.revision != base_revision:
            tickets.save(ticket, base_revision=base_revision)
        records.save(
            InvoiceRecord(
                ticket_id=ticket.id,
                invoice_id=invoice_id,
                version=invoice.version,
                link_token=token,
                fingerprint=fingerprint,
                expires_at=invoice.expires_at,
                amount_requested=amount_requested,
                link_status=LinkStatus.PREPARING if is_new else record.link_status,  # type: ignore[union-attr]
                currency=ticket.currency,
                sent_at=now,
                out_of_date=False,
            )
        )
        Outbox(session).enqueue(
            OUTBOX_KIND,
            f"invoice:{invoice_id}:v{invoice.version}",
            invoice.to_wire() | {"link_token": token},
            now=now,
        )
    return SentLink(
        url=pay_url(companion_url, token),
        token=token,
        invoice_id=invoice_id,
        version=invoice.version,
        is_new_version=is_new,
    )


def invoice_is_out_of_date(
    session: Session, ticket: Ticket, settings: TerminalSettings, record: InvoiceRecord | None = None
) -> bool:
    """True when ``ticket`` no longer matches the invoice last sent for it (so it must be sent again)."""
    record = record or InvoiceRecordRepository(session).get(ticket.id)
    if record is None or ticket.is_closed:
        return False
    client = ClientRepository(session).get(ticket.client_id) if ticket.client_id else None
    try:
        current = _snapshot(
            ticket,
            invoice_client(client) if client else None,
            settings,
            invoice_id=record.invoice_id,
            version=record.version,
            expires_at=record.expires_at,
            amount_requested=record.amount_requested,
        )
    except ValueError:  # the requested amount is now above the balance due
        return True
    return current.fingerprint() != record.fingerprint


def mark_out_of_date(session: Session, ticket: Ticket, settings: TerminalSettings) -> bool:
    """After a ticket is saved: flag (or clear) its invoice as out of date; return the flag.

    Call inside the transaction that saved the ticket, so the flag and the ticket never disagree.
    """
    records = InvoiceRecordRepository(session)
    record = records.get(ticket.id)
    if record is None:
        return False
    stale = invoice_is_out_of_date(session, ticket, settings, record)
    if stale != record.out_of_date:
        records.mark_out_of_date(ticket.id, stale)
    return stale
