"""Two terminals of one store: a ticket invoiced on one closes on both when the client pays.

Each terminal is a whole POS (``start_pos`` with its own SQLite file, its own pairing and sync
service) on one companion in uvicorn; the client pays in Chromium. The second terminal holds the
ticket because it materializes it from the invoice document of the companion's ``invoice.updated``
event (:func:`posdesk.sync.applying.materialize_ticket`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from posdesk.core.catalog import ItemKind
from posdesk.core.events import Event, EventType
from posdesk.core.invoice import Invoice, InvoiceClient
from posdesk.core.money import Money
from posdesk.core.ticket import Ticket, TicketLine, TicketState
from posdesk.gui.qt import QLabel, QPushButton, Qt
from posdesk.store import ClientRepository, Database, TicketRepository
from posdesk.store.cursor import EventCursor
from posdesk.sync.applying import apply_event, origin_note
from tests.e2e.terminals import (
    WAIT_MS,
    assert_closed_by_payment,
    build_ticket_for_bob,
    pay_with_test_card,
    send_via_link,
    status_text,
)


def test_both_terminals_close_the_ticket_when_the_client_pays(
    qtbot, online_tills, phone_page
) -> None:
    till1, till2 = online_tills("Till 1", "Till 2")

    # Till 2 already has a ticket #1 of its own.
    build_ticket_for_bob(qtbot, till2)
    qtbot.mouseClick(till2.window.findChild(QPushButton, "saveTicketButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: till2.window.ticket_view.title_label.text() == "Ticket #1", timeout=WAIT_MS)
    own_ticket = till2.window.ticket_view.ticket.id

    build_ticket_for_bob(qtbot, till1)
    link, _dialog = send_via_link(qtbot, till1)
    ticket_id = till1.window.ticket_view.ticket.id
    qtbot.waitUntil(lambda: status_text(till1) == "Invoice sent · awaiting payment", timeout=WAIT_MS)

    # Till 2 now holds the invoiced ticket too, under its own next number, saying where it comes from.
    tickets = till2.window.tickets_panel
    till2.window.tabs.setCurrentWidget(tickets)  # shown, the list follows the other terminal live
    qtbot.waitUntil(lambda: tickets.table.rowCount() == 2, timeout=WAIT_MS)
    remote = till2.ctx.backend.load_ticket(ticket_id)
    assert remote.number == 2 and remote.note == origin_note(1)
    assert remote.state is TicketState.AWAITING_PAYMENT and remote.client_name == "Bob Plain"
    till2.window.open_ticket(ticket_id)
    view = till2.window.ticket_view
    assert view.title_label.text() == "Ticket #2"
    assert (
        view.origin_label.isVisible()
        and view.origin_label.text() == "From another terminal (ticket #1 there)"
    )
    assert till2.window.findChild(QLabel, "balanceDueLabel").text() == "$43.20"
    # Till 2 has no link for it: changing or sending it there would fork the ticket.
    send_there = till2.window.findChild(QPushButton, "sendInvoiceButton")
    assert not send_there.isEnabled() and send_there.toolTip().startswith("Sent from another terminal")
    assert not till2.window.findChild(QPushButton, "saveTicketButton").isEnabled()
    assert not view.catalog_browser.isEnabled()

    phone_page.goto(link)
    pay_with_test_card(phone_page)

    assert_closed_by_payment(qtbot, till1, ticket_id)
    assert_closed_by_payment(qtbot, till2, ticket_id)
    assert till2.ctx.backend.load_ticket(own_ticket).state is TicketState.OPEN


def test_a_materialized_ticket_keeps_its_number_when_free_and_replaying_is_harmless(tmp_path: Path) -> None:
    """The cache side alone: one ``invoice.updated`` event with its document, applied twice, then paid."""
    db = Database.open(tmp_path / "till2.db")
    try:
        ticket = Ticket.new(7, "USD")
        ticket.set_client("c-ana", "Ana María Díaz")
        ticket.add_line(
            TicketLine(
                id="l1",
                item_id="svc",
                kind=ItemKind.APPOINTMENT,
                name="Haircut",
                unit_price=Money(4000, "USD"),
            )
        )
        client = InvoiceClient(id="c-ana", name="Ana María Díaz", email="ana@example.com", email_consent=True)
        document = Invoice.from_ticket(
            ticket, invoice_id="inv-1", version=1, locale="en_US",
            expires_at=datetime.now(UTC) + timedelta(hours=72), client=client,
        )  # fmt: skip
        updated = Event(1, EventType.INVOICE_UPDATED, datetime.now(UTC), "inv-1", ticket.id,
                        {"version": 1, "status": "sent", "document": document.to_wire()})  # fmt: skip
        cursor = EventCursor(db, "store")
        changed: list[set[str]] = []
        for _ in range(2):
            cursor.apply(updated.id, lambda session: changed.append(apply_event(session, updated)))
        assert changed == [{ticket.id}]  # the replay was skipped by the cursor
        with db.reading() as session:
            held = TicketRepository(session).get(ticket.id)
            added = ClientRepository(session).get("c-ana")
        assert held is not None and held.number == 7 and held.note == origin_note(7)
        assert [line.name for line in held.lines] == ["Haircut"]
        assert added is not None and added.display_name == "Ana María Díaz" and added.email_consent

        paid = Event(2, EventType.INVOICE_PAID, datetime.now(UTC), "inv-1", ticket.id, {
            "version": 1, "balance_due": 0,
            "payment": {"id": "pay-1", "amount": 4000, "tip": 0, "currency": "USD",
                        "received_at": datetime.now(UTC).isoformat(), "card_last4": "4242"},
        })  # fmt: skip
        cursor.apply(paid.id, lambda session: apply_event(session, paid))
        with db.reading() as session:
            closed = TicketRepository(session).get(ticket.id)
            # A late copy of the update (another version's replay) never reopens a closed ticket.
            assert apply_event(session, updated) == set()
        assert closed is not None and closed.state is TicketState.PAID
    finally:
        db.close()
