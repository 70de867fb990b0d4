"""The cashier's own saves and the companion's events never make an edit look "changed elsewhere".

Each test puts a worker result or an event exactly between two steps of the cashier, with no timing
luck: ``worker.call`` lets the worker finish its queue while the UI thread has not yet seen the result,
and the companion's events are applied to the cache as the sync thread does, then announced.
"""

from __future__ import annotations

from datetime import UTC, datetime

from posdesk.core.events import Event, EventType, LinkStatus
from posdesk.core.ticket import TicketState
from posdesk.gui.qt import QApplication, QDialog, QLabel, QPushButton, Qt
from posdesk.store import InvoiceRecordRepository, TicketRepository
from posdesk.sync.applying import apply_event
from tests.gui.conftest import BOB, Pos, wait_idle
from tests.gui.test_new_ticket_view import add_from_catalog

EVENT_IDS = iter(range(1, 1_000))


def send_from_dialog(qtbot, pos: Pos) -> QDialog:
    """Click $ Send Invoice, then Send via Shareable Link, and wait for the invoice to be saved."""
    qtbot.mouseClick(pos.window.findChild(QPushButton, "sendInvoiceButton"), Qt.MouseButton.LeftButton)
    wait_idle(qtbot, pos.ctx)  # the dialog opens once a save still running is back
    [dialog] = [d for d in pos.window.findChildren(QDialog, "sendInvoiceDialog") if d.isVisible()]
    dialog.findChild(QPushButton, "sendViaLinkButton").click()
    wait_idle(qtbot, pos.ctx)
    return dialog


def sent_ticket_for_bob(qtbot, pos: Pos) -> str:
    pos.view.set_client(BOB)
    add_from_catalog(qtbot, pos, "Haircut")
    send_from_dialog(qtbot, pos).accept()
    return pos.view.ticket.id


def companion_event(pos: Pos, ticket_id: str, kind: EventType, **data: object) -> None:
    """What the sync thread does with one event: apply it to the cache, then tell the GUI."""
    with pos.db.reading() as session:
        record = InvoiceRecordRepository(session).get(ticket_id)
    event = Event(next(EVENT_IDS), kind, datetime.now(UTC), invoice_id=record.invoice_id, data=dict(data))
    with pos.db.session() as session:
        changed = apply_event(session, event)
    pos.ctx.tickets_changed.emit(changed)


def save_result_not_back_yet(pos: Pos) -> None:
    """Let the worker run the queued save to its commit; its result waits in the UI thread's queue."""
    pos.ctx.worker.call(lambda: None)


def stored(pos: Pos, ticket_id: str):
    with pos.db.reading() as session:
        return TicketRepository(session).get(ticket_id)


def test_the_page_opened_while_the_edit_saves_then_sending_again_updates_the_link(qtbot, pos: Pos) -> None:
    ticket_id = sent_ticket_for_bob(qtbot, pos)
    link = QApplication.clipboard().text()

    add_from_catalog(qtbot, pos, "Shampoo")
    pos.view.save()
    save_result_not_back_yet(pos)
    # The client opens the page: the link's status moves while the save is committed but not yet back.
    companion_event(pos, ticket_id, EventType.INVOICE_OPENED)
    assert pos.view.status_label.text() != "Invoice out of date: send again"  # not before the save is back

    dialog = send_from_dialog(qtbot, pos)
    assert dialog.findChild(QLabel, "amountError").text() == ""
    assert dialog.findChild(QLabel, "sendProgressLabel").text().startswith("Invoice updated")
    assert QApplication.clipboard().text() == link
    assert pos.view.invoice.version == 2 and not pos.view.dirty
    assert [line.name for line in stored(pos, ticket_id).lines] == ["Haircut", "Shampoo"]


def test_send_invoice_clicked_before_the_save_is_back_sends_the_saved_ticket(qtbot, pos: Pos) -> None:
    pos.view.set_client(BOB)
    add_from_catalog(qtbot, pos, "Haircut")
    pos.view.save()  # Ctrl+S, then at once $ Send Invoice
    dialog = send_from_dialog(qtbot, pos)
    assert dialog.findChild(QLabel, "amountError").text() == ""
    assert dialog.findChild(QLabel, "sendProgressLabel").text().startswith("Invoice saved")
    assert pos.view.ticket.number == 1 and pos.view.ticket.state is TicketState.AWAITING_PAYMENT
    assert pos.view.ticket_error.text() == ""


def test_saving_twice_before_the_first_save_is_back_keeps_both_edits(qtbot, pos: Pos) -> None:
    pos.view.set_client(BOB)
    add_from_catalog(qtbot, pos, "Haircut")
    pos.view.save()
    add_from_catalog(qtbot, pos, "Shampoo")
    pos.view.save()
    wait_idle(qtbot, pos.ctx)
    assert pos.view.ticket_error.text() == ""
    assert not pos.view.dirty
    assert [line.name for line in stored(pos, pos.view.ticket.id).lines] == ["Haircut", "Shampoo"]


def test_the_invoice_sent_event_during_an_edit_does_not_refuse_the_save(qtbot, pos: Pos) -> None:
    ticket_id = sent_ticket_for_bob(qtbot, pos)
    add_from_catalog(qtbot, pos, "Shampoo")  # an unsaved edit
    companion_event(pos, ticket_id, EventType.INVOICE_UPDATED)  # the upload landed: link "sent"
    assert pos.view.invoice.link_status is LinkStatus.SENT
    pos.view.save()
    wait_idle(qtbot, pos.ctx)
    assert pos.view.ticket_error.text() == ""
    assert pos.view.status_label.text() == "Invoice out of date: send again"


def test_a_partial_payment_during_an_edit_is_kept_and_the_edit_saves(qtbot, pos: Pos) -> None:
    ticket_id = sent_ticket_for_bob(qtbot, pos)
    add_from_catalog(qtbot, pos, "Shampoo")  # an unsaved edit
    payment = {"id": "pay_1", "amount": 2000, "tip": 0, "received_at": datetime.now(UTC).isoformat()}
    companion_event(pos, ticket_id, EventType.INVOICE_PARTIALLY_PAID, payment=payment, balance_due=2320)
    assert pos.view.ticket.state is TicketState.PARTIALLY_PAID and pos.view.dirty

    pos.view.save()
    wait_idle(qtbot, pos.ctx)
    assert pos.view.ticket_error.text() == ""
    kept = stored(pos, ticket_id)
    assert [line.name for line in kept.lines] == ["Haircut", "Shampoo"]
    assert [p.id for p in kept.payments] == ["pay_1"] and kept.state is TicketState.PARTIALLY_PAID
    assert pos.view.balance_due_label.text() == "$42.64"  # 43.20 + 19.44 - 20.00


def test_a_change_of_the_ticket_itself_elsewhere_still_refuses_the_edit(qtbot, pos: Pos) -> None:
    ticket_id = sent_ticket_for_bob(qtbot, pos)
    add_from_catalog(qtbot, pos, "Shampoo")  # an unsaved edit
    with pos.db.session() as session:  # meanwhile the ticket's content changes in the store
        tickets = TicketRepository(session)
        other = tickets.get(ticket_id)
        base = other.revision
        other.add_promo_code("WELCOME")
        tickets.save(other, base_revision=base)
    pos.ctx.tickets_changed.emit({ticket_id})

    pos.view.save()
    wait_idle(qtbot, pos.ctx)
    assert "changed elsewhere" in pos.view.ticket_error.text()
    kept = stored(pos, ticket_id)
    assert kept.promo_codes == ["WELCOME"] and [line.name for line in kept.lines] == ["Haircut"]
