"""Uploading, reading and revoking invoices."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from sqlalchemy.exc import IntegrityError

from posdesk.companion.api.common import InvoiceIdPath, terminal_store
from posdesk.companion.deps import DbDep, TerminalDep
from posdesk.companion.invoices import (
    expire_if_due,
    invoice_view,
    is_due,
    revoke_invoice,
    store_invoice,
    upsert_invoice,
)
from posdesk.companion.payments import gateway_directory
from posdesk.companion.payments.supersede import cancel_open_attempts

router = APIRouter(tags=["invoices"])

INVOICE_EXAMPLE = {
    "invoice_id": "9f0c...",
    "ticket_id": "1b2c...",
    "version": 1,
    "link_token": "<the token in the link, made by the POS>",
    "currency": "USD",
    "totals": {"total": 8660, "balance_due": 8660, "...": 0},
}


@router.put("/invoices/{invoice_id}")
def put_invoice(
    request: Request,
    terminal: TerminalDep,
    db: DbDep,
    body: Annotated[dict[str, Any], Body(examples=[INVOICE_EXAMPLE])],
    invoice_id: str = InvoiceIdPath,
) -> dict[str, Any]:
    """Upload or update an invoice: ``Invoice.to_wire()`` plus ``link_token``.

    422 with ``difference`` when the totals differ from the companion's pricing, and 422 for the same
    version with other content (its idempotency key reused); 409 for an older version, a paid or
    revoked invoice, or a token in use.
    """
    for attempt in range(2):
        try:
            with db.write() as session:
                store = terminal_store(session, terminal)
                invoice = upsert_invoice(session, store, invoice_id, body)
                view = invoice_view(session, invoice)
                row_id = invoice.id
            # A new version: attempts still open for an older one are cancelled at the gateway first
            # (outside the transaction); a success that still arrives for one is refunded.
            if cancel_open_attempts(db, gateway_directory(request.app.state), row_id):
                with db.read() as session:
                    view = invoice_view(session, store_invoice(session, terminal.store_id, invoice_id))
            return view
        except IntegrityError:
            # Two first uploads of one invoice raced (PostgreSQL): the second now finds the first's row.
            if attempt:
                raise
    raise AssertionError("unreachable")


@router.get("/invoices/{invoice_id}")
def get_invoice(terminal: TerminalDep, db: DbDep, invoice_id: str = InvoiceIdPath) -> dict[str, Any]:
    """Status (sent, opened, partially_paid, paid, expired, revoked), version, amounts and payments."""
    with db.read() as session:
        invoice = store_invoice(session, terminal.store_id, invoice_id)
        view = invoice_view(session, invoice)
        due = is_due(invoice)
    if due:
        with db.write() as session:
            invoice = store_invoice(session, terminal.store_id, invoice_id)
            expire_if_due(session, invoice)
            view = invoice_view(session, invoice)
    return view


@router.post("/invoices/{invoice_id}/revoke")
def revoke(request: Request, terminal: TerminalDep, db: DbDep, invoice_id: str = InvoiceIdPath) -> dict[str, Any]:
    """Revoke the link: the ticket was voided or the link leaked. The page stops accepting payment, and
    attempts still open (a client at the 3-D Secure step) are cancelled at the gateway before the answer."""
    with db.write() as session:
        invoice = revoke_invoice(session, terminal.store_id, invoice_id)
        row_id = invoice.id
    cancel_open_attempts(db, gateway_directory(request.app.state), row_id)
    with db.read() as session:
        return invoice_view(session, store_invoice(session, terminal.store_id, invoice_id))
