"""posdesk.sync.invoice_links on a real SQLite file: one link per ticket, versions only for priced changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from posdesk.core.invoice import Invoice
from posdesk.core.money import Money
from posdesk.core.ticket import Ticket, TicketLine, TicketState
from posdesk.store import (
    CatalogRepository,
    Database,
    InvoiceRecordRepository,
    Outbox,
    SettingsRepository,
    TicketRepository,
)
from posdesk.sync.invoice_links import SendInvoiceError, SentLink, mark_out_of_date, send_invoice
from tests.gui.conftest import BOB

URL = "https://pay.example.com"
NOW = datetime(2025, 3, 1, 15, 0, tzinfo=UTC)


def save_ticket(db: Database, *items: str, client: bool = True) -> Ticket:
    with db.session() as session:
        catalog = CatalogRepository(session)
        tickets = TicketRepository(session)
        ticket = Ticket.new(tickets.next_number(), "USD")
        if client:
            ticket.set_client(BOB.id, BOB.display_name)
        for item in items:
            ticket.add_line(TicketLine.from_item(catalog.get(item)))
        tickets.save(ticket, base_revision=None)
    return ticket


def settings(db: Database):
    with db.reading() as session:
        return SettingsRepository(session).terminal()


def send(db: Database, ticket_id: str, amount: Money | None = None, **options: Any) -> SentLink:
    """``send_invoice`` as the Send Invoice dialog calls it: this store's companion and saved settings."""
    return send_invoice(db, ticket_id, amount_requested=amount, companion_url=URL, settings=settings(db), **options)


def test_first_send_makes_the_link_and_queues_version_one(db: Database) -> None:
    ticket = save_ticket(db, "svc_cut", "prd_shampoo")
    sent = send(db, ticket.id, now=NOW)
    assert sent.url == f"{URL}/pay/{sent.token}" and sent.version == 1 and sent.is_new_version
    with db.reading() as session:
        record = InvoiceRecordRepository(session).get(ticket.id)
        entry = Outbox(session).get_by_key(f"invoice:{sent.invoice_id}:v1")
        stored = TicketRepository(session).get(ticket.id)
    assert record.link_token == sent.token and record.expires_at == NOW + timedelta(hours=72)
    assert stored.state is TicketState.AWAITING_PAYMENT
    invoice = Invoice.from_wire(entry.payload)
    assert entry.payload["link_token"] == sent.token
    assert (invoice.version, invoice.client.id, invoice.totals["balance_due"]) == (1, BOB.id, 6264)


def test_same_ticket_same_link_and_version_until_it_changes(db: Database) -> None:
    ticket = save_ticket(db, "svc_cut")
    first = send(db, ticket.id, now=NOW)
    again = send(db, ticket.id, now=NOW)
    assert (again.token, again.invoice_id, again.version, again.is_new_version) == (
        first.token, first.invoice_id, 1, False,
    )  # fmt: skip
    deposit = send(db, ticket.id, Money(1000, "USD"), now=NOW)
    assert deposit.version == 2 and deposit.token == first.token

    with db.session() as session:
        tickets = TicketRepository(session)
        stored = tickets.get(ticket.id)
        base = stored.revision
        stored.add_line(TicketLine.from_item(CatalogRepository(session).get("prd_shampoo")))
        tickets.save(stored, base_revision=base)
        assert mark_out_of_date(session, stored, settings(db)) is True
    with db.reading() as session:
        assert InvoiceRecordRepository(session).get(ticket.id).out_of_date
        assert Outbox(session).pending_count() == 2

    third = send(db, ticket.id, now=NOW)
    assert (third.version, third.url, third.is_new_version) == (3, first.url, True)
    with db.reading() as session:
        record = InvoiceRecordRepository(session).get(ticket.id)
        assert not record.out_of_date and record.version == 3
        assert Outbox(session).pending_count() == 3


def test_walk_ins_closed_tickets_and_bad_amounts_are_refused_without_writing(db: Database) -> None:
    walk_in = save_ticket(db, "svc_cut", client=False)
    with pytest.raises(SendInvoiceError, match="Add a client"):
        send(db, walk_in.id)
    ticket = save_ticket(db, "svc_cut")
    with pytest.raises(SendInvoiceError, match="more than the balance due"):
        send(db, ticket.id, Money(99_999, "USD"))
    with pytest.raises(SendInvoiceError, match="Save the ticket"):
        send(db, "nope")
    with db.reading() as session:
        assert Outbox(session).pending_count() == 0
        assert InvoiceRecordRepository(session).get(ticket.id) is None
        assert TicketRepository(session).get(ticket.id).state is TicketState.OPEN


def test_a_premade_token_is_used_for_the_first_send_only(db: Database) -> None:
    ticket = save_ticket(db, "svc_cut")
    sent = send(db, ticket.id, token="t" * 32, invoice_id="inv1")
    assert (sent.token, sent.invoice_id) == ("t" * 32, "inv1")
    later = send(db, ticket.id, token="other", invoice_id="x")
    assert (later.token, later.invoice_id) == ("t" * 32, "inv1")
