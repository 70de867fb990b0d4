"""The local record of a ticket's invoice: its link, version and what the companion said about it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.sqlite import insert

from posdesk.core.attributes import field_values, from_attributes
from posdesk.core.events import LinkStatus, link_status_advances
from posdesk.core.money import Money
from posdesk.store.models import InvoiceRow
from posdesk.store.repository import Repository


@dataclass(frozen=True, slots=True)
class InvoiceRecord:
    """What this terminal knows of a ticket's invoice.

    ``link_token`` is kept here (and only on terminals) so the cashier can show the link and its QR
    code again; ``amount_requested`` is None when the invoice asks for the whole balance due.
    """

    ticket_id: str
    invoice_id: str
    version: int
    link_token: str
    fingerprint: str
    expires_at: datetime
    amount_requested: Money | None
    link_status: LinkStatus
    currency: str
    sent_at: datetime | None = None
    out_of_date: bool = False


class InvoiceRecordRepository(Repository):
    """Invoice records, one per ticket."""

    def get(self, ticket_id: str) -> InvoiceRecord | None:
        return self._get(InvoiceRow, ticket_id, _record_of)

    def get_by_invoice_id(self, invoice_id: str) -> InvoiceRecord | None:
        row = self.session.scalar(
            select(InvoiceRow)
            .where(InvoiceRow.invoice_id == invoice_id)
            .execution_options(populate_existing=True)
        )
        return None if row is None else _record_of(row)

    def save(self, record: InvoiceRecord) -> None:
        """Create or replace the ticket's invoice record (a new version keeps the same invoice id)."""
        requested = record.amount_requested
        values = field_values(
            record,
            leaving=("ticket_id", "amount_requested"),
            amount_requested_minor=None if requested is None else requested.minor,
            link_status=record.link_status.value,
        )
        self.session.execute(
            insert(InvoiceRow)
            .values(ticket_id=record.ticket_id, **values)
            .on_conflict_do_update(index_elements=[InvoiceRow.ticket_id], set_=values)
        )

    def mark_out_of_date(self, ticket_id: str, out_of_date: bool = True) -> None:
        """The ticket changed after its invoice was sent (or the new version went out: pass False)."""
        self.session.execute(
            update(InvoiceRow)
            .where(InvoiceRow.ticket_id == ticket_id)
            .values(out_of_date=out_of_date)
            .execution_options(synchronize_session=False)
        )

    def advance_link_status(self, ticket_id: str, status: LinkStatus) -> bool:
        """Move the link status forward (a late 'opened' never undoes 'paid'); True if it changed."""
        current = self.session.scalar(select(InvoiceRow.link_status).where(InvoiceRow.ticket_id == ticket_id))
        if current is None or not link_status_advances(LinkStatus(current), status):
            return False
        self.session.execute(
            update(InvoiceRow)
            .where(InvoiceRow.ticket_id == ticket_id)
            .values(link_status=status.value)
            .execution_options(synchronize_session=False)
        )
        return True


def _record_of(row: InvoiceRow) -> InvoiceRecord:
    requested = row.amount_requested_minor
    return from_attributes(
        InvoiceRecord,
        row,
        amount_requested=None if requested is None else Money(requested, row.currency),
        link_status=LinkStatus(row.link_status),
    )
