"""$ Send Invoice: when the button exists, the amount rules, the link on the clipboard and in the QR code."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from posdesk.core.money import Money
from posdesk.core.ticket import Payment, PaymentMethod, TicketState
from posdesk.gui.qr import pixmap_png
from posdesk.gui.qt import (
    QApplication,
    QCheckBox,
    QDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    Qt,
    QWidget,
)
from posdesk.gui.send_invoice_dialog import OFFLINE_NOTE, SendInvoiceDialog
from posdesk.store import InvoiceRecordRepository, Outbox, TicketRepository
from tests.gui.conftest import BOB, COMPANION, GRACE, Pos, wait_idle
from tests.gui.test_new_ticket_view import add_from_catalog
from tests.plugins.qr import decode_qr_png


def ticket_for_bob(qtbot, pos: Pos, *items: str) -> None:
    pos.view.set_client(BOB)
    for item in items or ("Shampoo", "Haircut"):
        add_from_catalog(qtbot, pos, item)


def open_dialog(qtbot, pos: Pos) -> SendInvoiceDialog:
    button = pos.window.findChild(QPushButton, "sendInvoiceButton")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    [dialog] = [d for d in pos.window.findChildren(QDialog, "sendInvoiceDialog") if d.isVisible()]
    return dialog


def send_by_link(qtbot, pos: Pos, amount: str | None = None) -> str:
    """Send Invoice > Send via Shareable Link (a deposit link for ``amount`` when given), then the dialog
    closed; the ticket's id."""
    dialog = open_dialog(qtbot, pos)
    if amount is not None:
        dialog.findChild(QCheckBox, "customizeAmountCheckBox").click()
        dialog.findChild(QLineEdit, "amountEdit").setText(amount)
    qtbot.mouseClick(dialog.findChild(QPushButton, "sendViaLinkButton"), Qt.MouseButton.LeftButton)
    wait_idle(qtbot, pos.ctx)
    dialog.accept()
    return pos.view.ticket.id


def tab_chain(window: QWidget) -> list[str]:
    names, widget = [], window.findChild(QLineEdit, "clientSearchEdit")
    for _ in range(200):
        widget = widget.nextInFocusChain()
        names.append(widget.objectName())
    return names


def test_send_invoice_button_does_not_exist_while_the_feature_is_off(qtbot, make_pos) -> None:
    pos = make_pos(feature=False)
    ticket_for_bob(qtbot, pos)
    assert pos.window.findChild(QPushButton, "sendInvoiceButton") is None
    assert "sendInvoiceButton" not in tab_chain(pos.window)
    qtbot.keyClick(pos.window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)  # Ctrl+I does nothing
    assert pos.window.findChild(QDialog, "sendInvoiceDialog") is None


def test_send_invoice_is_disabled_for_a_walk_in_and_says_why(qtbot, pos: Pos) -> None:
    pos.view.set_walk_in()
    add_from_catalog(qtbot, pos, "Shampoo")
    button = pos.window.findChild(QPushButton, "sendInvoiceButton")
    assert button.isVisible() and not button.isEnabled()
    assert button.toolTip() == "Add a client to send an invoice"
    assert button.text() == "$ Send Invoice"
    pos.view.set_client(BOB)
    assert button.isEnabled()


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0", "The amount must be more than zero"),
        ("-5", "The amount must be more than zero"),
        ("70.01", "The amount cannot be more than the balance due ($62.64)"),
        ("ten", "Enter an amount such as 25.00"),
        ("", "Enter an amount"),
        ("12.345", "Enter an amount such as 25.00"),
    ],
)
def test_a_bad_custom_amount_is_refused_in_place(qtbot, pos: Pos, typed: str, message: str) -> None:
    ticket_for_bob(qtbot, pos)  # 18 + 40 + 8% tax = 62.64
    dialog = open_dialog(qtbot, pos)
    amount_edit = dialog.findChild(QLineEdit, "amountEdit")
    send = dialog.findChild(QPushButton, "sendViaLinkButton")
    assert dialog.findChild(QLabel, "amountToCharge").text() == "$62.64"
    assert not amount_edit.isEnabled()
    box = dialog.findChild(QCheckBox, "customizeAmountCheckBox")
    box.click()
    assert amount_edit.isEnabled()
    amount_edit.setText(typed)
    assert dialog.findChild(QLabel, "amountError").text() == message
    assert not send.isEnabled()
    amount_edit.setText("25")
    assert dialog.findChild(QLabel, "amountError").text() == ""
    assert send.isEnabled()
    assert dialog.findChild(QLabel, "amountToCharge").text() == "$25.00"


def test_send_via_link_copies_the_link_and_shows_a_qr_code_of_it(qtbot, pos: Pos) -> None:
    ticket_for_bob(qtbot, pos)
    dialog = open_dialog(qtbot, pos)
    dialog.findChild(QCheckBox, "customizeAmountCheckBox").click()
    dialog.findChild(QLineEdit, "amountEdit").setText("20.00")
    qtbot.mouseClick(dialog.findChild(QPushButton, "sendViaLinkButton"), Qt.MouseButton.LeftButton)

    # At once, before the worker has written anything:
    url = QApplication.clipboard().text()
    assert url.startswith(f"{COMPANION}/pay/") and len(url.rsplit("/", 1)[1]) >= 22
    assert dialog.findChild(QLineEdit, "invoiceLinkEdit").text() == url
    assert dialog.findChild(QLineEdit, "invoiceLinkEdit").isReadOnly()
    assert "Link copied" in dialog.findChild(QLabel, "successMessage").text()
    assert not dialog.findChild(QLabel, "offlineNotice").isVisible()
    # The QR code is drawn right after, from the event loop: the link is never kept waiting for it.
    qr = dialog.findChild(QLabel, "qrCodeLabel")
    qtbot.waitUntil(lambda: not qr.pixmap().isNull())
    assert decode_qr_png(pixmap_png(qr.pixmap())) == url

    wait_idle(qtbot, pos.ctx)
    ticket_id = pos.view.ticket.id
    token = url.rsplit("/", 1)[1]
    with pos.db.reading() as session:
        record = InvoiceRecordRepository(session).get(ticket_id)
        entry = Outbox(session).get_by_key(f"invoice:{record.invoice_id}:v1")
        stored = TicketRepository(session).get(ticket_id)
    assert record.link_token == token and record.version == 1
    assert record.amount_requested == Money(2000, "USD")
    assert entry.kind == "invoice.upsert" and entry.payload["link_token"] == token
    assert entry.payload["amount_requested"] == 2000 and entry.payload["client"]["id"] == BOB.id
    assert stored.state is TicketState.AWAITING_PAYMENT
    assert pos.view.status_label.text() == "Invoice sent · link not uploaded yet"
    assert "Invoice saved" in dialog.findChild(QLabel, "sendProgressLabel").text()


def test_offline_the_link_still_exists_and_the_dialog_says_when_the_client_can_pay(qtbot, make_pos) -> None:
    pos = make_pos(online=False)
    ticket_for_bob(qtbot, pos)
    dialog = open_dialog(qtbot, pos)
    dialog.findChild(QPushButton, "sendViaLinkButton").click()
    assert QApplication.clipboard().text().startswith(f"{COMPANION}/pay/")
    notice = dialog.findChild(QLabel, "offlineNotice")
    assert notice.isVisible() and notice.text() == OFFLINE_NOTE
    wait_idle(qtbot, pos.ctx)
    with pos.db.reading() as session:
        assert Outbox(session).pending_count() == 1


def test_sending_again_keeps_the_link_and_an_edit_makes_version_two(qtbot, pos: Pos) -> None:
    ticket_for_bob(qtbot, pos)
    dialog = open_dialog(qtbot, pos)
    dialog.findChild(QPushButton, "sendViaLinkButton").click()
    wait_idle(qtbot, pos.ctx)
    first_url = QApplication.clipboard().text()
    dialog.accept()

    QApplication.clipboard().clear()
    dialog = open_dialog(qtbot, pos)
    dialog.findChild(QPushButton, "sendViaLinkButton").click()
    wait_idle(qtbot, pos.ctx)
    assert QApplication.clipboard().text() == first_url
    assert "same link" in dialog.findChild(QLabel, "sendProgressLabel").text()
    assert pos.view.invoice.version == 1
    dialog.accept()

    add_from_catalog(qtbot, pos, "Morning yoga")
    assert pos.view.status_label.text() == "Unsaved changes: the invoice will be out of date"
    pos.view.save()
    wait_idle(qtbot, pos.ctx)
    assert pos.view.status_label.text() == "Invoice out of date: send again"
    assert pos.view.status_label.property("tone") == "warning"

    dialog = open_dialog(qtbot, pos)
    assert dialog.findChild(QLabel, "amountToCharge").text() == "$89.64"
    dialog.findChild(QPushButton, "sendViaLinkButton").click()
    wait_idle(qtbot, pos.ctx)
    assert QApplication.clipboard().text() == first_url
    assert pos.view.invoice.version == 2 and not pos.view.invoice.out_of_date
    with pos.db.reading() as session:
        record = InvoiceRecordRepository(session).get(pos.view.ticket.id)
        v2 = Outbox(session).get_by_key(f"invoice:{record.invoice_id}:v2")
    assert (
        v2.payload["totals"]["balance_due"] == 8964
        and v2.payload["link_token"] == first_url.rsplit("/", 1)[1]
    )
    assert pos.view.status_label.text() == "Invoice sent · link not uploaded yet"


def test_a_fully_prepaid_ticket_says_so_and_can_be_sent_for_a_tip(qtbot, pos: Pos) -> None:
    pos.view.set_client(GRACE)
    add_from_catalog(qtbot, pos, "Blowout")
    dialog = open_dialog(qtbot, pos)
    assert dialog.findChild(QLabel, "amountToCharge").text() == "$0.00"
    note = dialog.findChild(QLabel, "hint")
    assert "fully prepaid" in note.text() and "can still add a tip" in note.text()
    assert not dialog.findChild(QCheckBox, "customizeAmountCheckBox").isEnabled()
    assert dialog.findChild(QPushButton, "sendViaLinkButton").isEnabled()


def test_a_fully_prepaid_ticket_without_tips_has_nothing_to_send(qtbot, make_pos) -> None:
    from posdesk.core.tips import TipPolicy

    pos = make_pos(tip_policy=TipPolicy(allowed=False))
    pos.view.set_client(GRACE)
    add_from_catalog(qtbot, pos, "Blowout")
    dialog = open_dialog(qtbot, pos)
    assert "nothing to charge" in dialog.findChild(QLabel, "hint").text()
    assert not dialog.findChild(QPushButton, "sendViaLinkButton").isEnabled()


def test_paid_online_closes_the_open_ticket_live_and_makes_it_read_only(qtbot, pos: Pos) -> None:
    ticket_for_bob(qtbot, pos)
    ticket_id = send_by_link(qtbot, pos)

    # What the sync consumer does when invoice.paid arrives: record the payment in the local cache.
    with pos.db.session() as session:
        tickets = TicketRepository(session)
        ticket = tickets.get(ticket_id)
        base = ticket.revision
        payment = Payment(
            "pay_1", Money(6264, "USD"), Money(0, "USD"), PaymentMethod.ONLINE_CARD, datetime.now(UTC)
        )
        ticket.record_payment(payment, Money(0, "USD"))
        tickets.save(ticket, base_revision=base)
    pos.ctx.tickets_changed.emit({ticket_id})

    assert pos.view.status_label.text() == "Paid online · closed"
    assert pos.view.status_label.property("tone") == "done"
    assert pos.view.balance_due_label.text() == "$0.00"
    assert not pos.window.findChild(QPushButton, "saveTicketButton").isEnabled()
    assert not pos.window.findChild(QPushButton, "sendInvoiceButton").isEnabled()
    assert not pos.view.catalog_browser.isEnabled()
    assert not pos.view.lines_view.cellWidget(0, 1).isEnabled()
    pos.window.tabs.setCurrentWidget(pos.window.tickets_panel)  # the list is read when it is shown
    assert pos.window.tickets_panel.table.item(0, 2).text() == "Paid · closed"


def test_walk_in_on_an_invoiced_ticket_asks_first(qtbot, pos: Pos) -> None:
    from posdesk.gui.qt import QMessageBox

    ticket_for_bob(qtbot, pos)
    send_by_link(qtbot, pos)
    qtbot.waitUntil(lambda: pos.view.invoice is not None)
    walk_in = pos.window.findChild(QPushButton, "walkInButton")

    qtbot.mouseClick(walk_in, Qt.MouseButton.LeftButton)
    box = pos.window.findChild(QMessageBox, "walkInConfirmDialog")
    assert box is not None and box.isVisible() and "Bob Plain was sent an invoice" in box.text()
    assert pos.view.ticket.client_id == BOB.id  # nothing changed yet
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: not box.isVisible())
    assert pos.view.ticket.client_id == BOB.id

    qtbot.mouseClick(walk_in, Qt.MouseButton.LeftButton)
    box = next(b for b in pos.window.findChildren(QMessageBox, "walkInConfirmDialog") if b.isVisible())
    box.findChild(QPushButton, "confirmWalkInButton").click()
    qtbot.waitUntil(lambda: pos.view.ticket.client_id is None)


def test_walk_in_on_a_ticket_not_yet_invoiced_needs_no_question(qtbot, pos: Pos) -> None:
    from posdesk.gui.qt import QMessageBox

    ticket_for_bob(qtbot, pos)
    qtbot.mouseClick(pos.window.findChild(QPushButton, "walkInButton"), Qt.MouseButton.LeftButton)
    assert pos.view.ticket.client_id is None
    assert pos.window.findChild(QMessageBox, "walkInConfirmDialog") is None
