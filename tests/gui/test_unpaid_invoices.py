"""The Tickets list finds invoices awaiting online payment and expired links; a reminder goes out in
one click (consent respected), and an expired link is re-issued for the balance in one click."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from posdesk.core.client import Client
from posdesk.core.events import LinkStatus
from posdesk.gui.qt import (
    QApplication,
    QComboBox,
    QDialog,
    QLabel,
    QPushButton,
    Qt,
    QTableWidget,
)
from posdesk.store import InvoiceRecordRepository, Outbox
from posdesk.store.client_messages import MESSAGES_PATH, MessageRepository
from tests.gui.conftest import ADA, BOB, COMPANION, Pos, wait_idle
from tests.gui.test_send_invoice import add_from_catalog, send_by_link, ticket_for_bob


def send_link(qtbot, pos: Pos) -> str:
    ticket_for_bob(qtbot, pos)
    return send_by_link(qtbot, pos)


def show_filter(pos: Pos, caption: str) -> QTableWidget:
    pos.window.tabs.setCurrentWidget(pos.window.tickets_panel)
    combo = pos.window.findChild(QComboBox, "ticketStateFilter")
    combo.setCurrentIndex(combo.findText(caption))
    return pos.window.findChild(QTableWidget, "ticketsList")


def send_link_to(qtbot, pos: Pos, client: Client) -> str:
    pos.view.set_client(client)
    add_from_catalog(qtbot, pos, "Blowout")  # $35.00 + 8% tax
    return send_by_link(qtbot, pos)


def queued_messages(pos: Pos) -> list[tuple[str, dict]]:
    with pos.db.reading() as session:
        return [
            (e.key, e.payload)
            for e in Outbox(session).due(limit=50)
            if e.payload.get("path") == MESSAGES_PATH
        ]


def remind_row(qtbot, pos: Pos, row: int) -> str:
    table = show_filter(pos, "Awaiting online payment")
    table.selectRow(row)
    qtbot.mouseClick(pos.window.findChild(QPushButton, "remindButton"), Qt.MouseButton.LeftButton)
    wait_idle(qtbot, pos.ctx)
    return pos.window.findChild(QLabel, "remindResultLabel").text()


def test_awaiting_online_payment_lists_the_link_and_remind_sends_the_reminder_in_one_click(
    qtbot, pos: Pos
) -> None:
    ticket_id = send_link_to(qtbot, pos, ADA)
    table = show_filter(pos, "Awaiting online payment")
    assert table.rowCount() == 1 and table.item(0, 1).text() == "Ada Lovelace"
    assert show_filter(pos, "Link expired").rowCount() == 0
    table = show_filter(pos, "Awaiting online payment")
    remind = pos.window.findChild(QPushButton, "remindButton")
    assert remind.isVisible() and not remind.isEnabled()  # nothing selected yet
    assert queued_messages(pos) == []

    result = remind_row(qtbot, pos, 0)

    assert result == "Reminder queued by SMS to Ada Lovelace (+15550100001)"
    assert not [d for d in pos.window.findChildren(QDialog, "communicatorDialog") if d.isVisible()]
    [(_key, payload)] = queued_messages(pos)
    body = payload["body"]
    assert (body["channel"], body["ticket_id"], body["client"]["id"]) == ("sms", ticket_id, ADA.id)
    assert "reminder" in body["text"] and "$37.80 is still due" in body["text"]
    assert f"{COMPANION}/pay/" in body["text"] and body["link"].startswith(f"{COMPANION}/pay/")


def test_remind_without_consent_says_why_and_sends_nothing(qtbot, pos: Pos) -> None:
    send_link(qtbot, pos)  # Bob: an email address, no consent to emails, no mobile number

    result = remind_row(qtbot, pos, 0)

    assert result == "Not sent: Bob has no mobile number on file; Bob has not agreed to receive emails."
    assert queued_messages(pos) == []
    with pos.db.reading() as session:
        assert MessageRepository(session).for_client(BOB.id) == []


def test_an_expired_link_is_re_issued_for_the_balance_in_one_click(qtbot, pos: Pos) -> None:
    ticket_for_bob(qtbot, pos)
    ticket_id = send_by_link(qtbot, pos, amount="10.00")  # a deposit link
    with pos.db.session() as session:
        records = InvoiceRecordRepository(session)
        old = records.get(ticket_id)
        records.save(
            replace(old, expires_at=datetime.now(UTC) - timedelta(minutes=1), link_status=LinkStatus.SENT)
        )
    table = show_filter(pos, "Link expired")
    assert table.rowCount() == 1
    table.selectRow(0)
    qtbot.mouseClick(pos.window.findChild(QPushButton, "reissueLinkButton"), Qt.MouseButton.LeftButton)
    wait_idle(qtbot, pos.ctx)
    with pos.db.reading() as session:
        record = InvoiceRecordRepository(session).get(ticket_id)
        entries = {e.key: e.payload for e in Outbox(session).due(limit=50)}
    assert record.version == old.version + 1 and record.expires_at > datetime.now(UTC)
    reissued = entries[f"invoice:{old.invoice_id}:v{record.version}"]
    assert entries[f"invoice:{old.invoice_id}:v{old.version}"]["amount_requested"] == 1000
    assert reissued["amount_requested"] is None  # the new link asks for the whole balance due
    assert QApplication.clipboard().text().endswith(old.link_token)  # the same address, alive again
    assert show_filter(pos, "Link expired").rowCount() == 0
