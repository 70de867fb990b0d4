"""The Tickets list finds invoices awaiting online payment and expired links; a reminder opens the
Communicator with the link, and an expired link is re-issued for the balance in one click."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from posdesk.core.events import LinkStatus
from posdesk.gui.qt import QApplication, QComboBox, QDialog, QPlainTextEdit, QPushButton, Qt, QTableWidget
from posdesk.store import InvoiceRecordRepository, Outbox
from tests.gui.conftest import COMPANION, Pos, wait_idle
from tests.gui.test_send_invoice import open_dialog, ticket_for_bob


def send_link(qtbot, pos: Pos) -> str:
    ticket_for_bob(qtbot, pos)
    dialog = open_dialog(qtbot, pos)
    qtbot.mouseClick(dialog.findChild(QPushButton, "sendViaLinkButton"), Qt.MouseButton.LeftButton)
    wait_idle(qtbot, pos.ctx)
    dialog.accept()
    return pos.view.ticket.id


def show_filter(pos: Pos, caption: str) -> QTableWidget:
    pos.window.tabs.setCurrentWidget(pos.window.tickets_panel)
    combo = pos.window.findChild(QComboBox, "ticketStateFilter")
    combo.setCurrentIndex(combo.findText(caption))
    return pos.window.findChild(QTableWidget, "ticketsList")


def test_awaiting_online_payment_lists_the_link_and_remind_opens_the_communicator(qtbot, pos: Pos) -> None:
    ticket_id = send_link(qtbot, pos)
    table = show_filter(pos, "Awaiting online payment")
    assert table.rowCount() == 1 and table.item(0, 1).text() == "Bob Plain"
    assert show_filter(pos, "Link expired").rowCount() == 0
    table = show_filter(pos, "Awaiting online payment")
    remind = pos.window.findChild(QPushButton, "remindButton")
    assert remind.isVisible() and not remind.isEnabled()  # nothing selected yet
    table.selectRow(0)
    qtbot.mouseClick(remind, Qt.MouseButton.LeftButton)
    [dialog] = [d for d in pos.window.findChildren(QDialog, "communicatorDialog") if d.isVisible()]
    assert dialog.ticket_id == ticket_id
    text = dialog.findChild(QPlainTextEdit).toPlainText()
    assert "reminder" in text and f"{COMPANION}/pay/" in text


def test_an_expired_link_is_re_issued_for_the_balance_in_one_click(qtbot, pos: Pos) -> None:
    ticket_id = send_link(qtbot, pos)
    with pos.db.session() as session:
        records = InvoiceRecordRepository(session)
        old = records.get(ticket_id)
        records.save(replace(old, expires_at=datetime.now(UTC) - timedelta(minutes=1), link_status=LinkStatus.SENT))
    table = show_filter(pos, "Link expired")
    assert table.rowCount() == 1
    table.selectRow(0)
    qtbot.mouseClick(pos.window.findChild(QPushButton, "reissueLinkButton"), Qt.MouseButton.LeftButton)
    wait_idle(qtbot, pos.ctx)
    with pos.db.reading() as session:
        record = InvoiceRecordRepository(session).get(ticket_id)
        keys = [e.key for e in Outbox(session).due(limit=50)]
    assert record.version == old.version + 1 and record.expires_at > datetime.now(UTC)
    assert f"invoice:{old.invoice_id}:v{record.version}" in keys
    assert QApplication.clipboard().text().endswith(old.link_token)  # the same address, alive again
    assert show_filter(pos, "Link expired").rowCount() == 0
