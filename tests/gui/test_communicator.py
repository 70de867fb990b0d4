"""The Communicator window: consent decides the channels, templates, plain text, and the whole flow
Send Invoice -> Send via Communicator -> Send -> "Delivered", against a real companion on loopback that
texts through a fake Twilio API (signed callbacks), with the POS's SyncService running."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from posdesk.core.client import Client
from posdesk.core.money import Money
from posdesk.gui.app import SyncBridge
from posdesk.gui.backend import PosBackend
from posdesk.gui.communicator_dialog import CommunicatorDialog, InvoiceToSend, fill_template
from posdesk.gui.context import Connection, PosContext
from posdesk.gui.main_window import MainWindow
from posdesk.gui.qt import QComboBox, QDialog, QLabel, QListWidget, QPlainTextEdit, QPushButton, Qt
from posdesk.gui.send_invoice_dialog import SendInvoiceDialog
from posdesk.gui.worker import Worker
from posdesk.store import ClientRepository, Database, Outbox
from posdesk.store.client_messages import MessageRepository, MessageState
from posdesk.sync import SyncService
from tests.companion.test_messages import CommunicatorCompanion, communicator_companion
from tests.gui.conftest import ADA, BOB, GRACE, TZ, Pos, enable_feature, wait_idle
from tests.gui.test_new_ticket_view import add_from_catalog
from tests.plugins.smtp import SmtpTestServer

LINK = "http://127.0.0.1:8765/pay/tok"


def communicator(qtbot, pos: Pos, client: Client, **kwargs) -> CommunicatorDialog:
    dialog = CommunicatorDialog(pos.ctx, client, **kwargs)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def channels(dialog: CommunicatorDialog) -> list[str]:
    combo = dialog.findChild(QComboBox, "channelCombo")
    return [combo.itemData(i) for i in range(combo.count())]


# -- consent and channels ---------------------------------------------------------------------------


def test_only_consented_channels_with_an_address_are_offered(qtbot, pos: Pos) -> None:
    ada = communicator(qtbot, pos, ADA)  # phone + SMS consent; email without consent
    assert channels(ada) == ["sms"]
    assert ada.findChild(QLabel, "channelHint").text() == "Ada has not agreed to receive emails."

    both = replace(ADA, email_consent=True)
    assert channels(communicator(qtbot, pos, both)) == ["sms", "email"]


@pytest.mark.parametrize(
    ("client", "reason"),
    [
        (BOB, "Bob has no mobile number on file; Bob has not agreed to receive emails."),
        (GRACE, "Grace has not agreed to receive text messages; Grace has no email address on file."),
    ],
)
def test_no_consent_refuses_before_sending_and_says_why(qtbot, pos: Pos, client: Client, reason: str) -> None:
    dialog = communicator(qtbot, pos, client, invoice=InvoiceToSend(LINK, Money(4200, "USD")), template="Invoice")
    hint = dialog.findChild(QLabel, "channelHint")
    assert hint.isVisible() and hint.text().startswith(reason)
    assert "Record their consent" in hint.text()
    assert not dialog.findChild(QComboBox, "channelCombo").isEnabled()
    send = dialog.findChild(QPushButton, "sendMessageButton")
    assert not send.isEnabled()
    dialog.send()  # even if forced, nothing is queued
    assert dialog.findChild(QLabel, "communicatorMessage").text().startswith(reason)
    with pos.db.reading() as session:
        assert Outbox(session).pending_count() == 0


def test_every_control_has_an_object_name_and_an_accessible_name(qtbot, pos: Pos) -> None:
    dialog = communicator(qtbot, pos, ADA, invoice=InvoiceToSend(LINK))
    for kind in (QPushButton, QComboBox, QPlainTextEdit, QListWidget):
        for widget in dialog.findChildren(kind):
            if widget.parent() is dialog or widget.isVisible():
                assert widget.objectName() and widget.accessibleName(), widget


# -- templates and plain text -------------------------------------------------------------------------


def test_the_invoice_template_fills_name_business_amount_and_link(qtbot, make_pos) -> None:
    pos = make_pos(business_name="Salon Élan")
    dialog = communicator(qtbot, pos, replace(ADA, email_consent=True), invoice=InvoiceToSend(LINK, Money(8660, "USD")), template="Invoice")
    text = dialog.findChild(QPlainTextEdit, "composeEdit").toPlainText()
    assert text == f"Hi Ada, your invoice from Salon Élan for $86.60 is ready. Pay securely here: {LINK}"
    combo = dialog.findChild(QComboBox, "channelCombo")
    combo.setCurrentIndex(combo.findData("email"))
    assert dialog.subject_edit.isVisible() and dialog.subject_edit.text() == "Your invoice from Salon Élan: $86.60"
    assert LINK in dialog.compose.toPlainText() and dialog.compose.toPlainText().startswith("Hi Ada,\n")


def test_placeholders_in_a_client_name_stay_text() -> None:
    values = {"first_name": "{link}", "business": "B", "amount": "$1.00", "link": "https://x/pay/t"}
    assert fill_template("Hi {first_name} {link}", values) == "Hi {link} https://x/pay/t"


def test_a_hostile_name_and_message_show_as_plain_text(qtbot, pos: Pos) -> None:
    tricky = Client("c_tricky2", "<b>x</b>", phone="+15550100009", sms_consent=True)
    with pos.db.session() as session:
        ClientRepository(session).create(tricky)
    dialog = communicator(qtbot, pos, tricky)
    assert dialog.findChild(QLabel, "communicatorTitle").textFormat() == Qt.TextFormat.PlainText
    assert dialog.findChild(QLabel, "communicatorTitle").text() == "Conversation with <b>x</b>"
    dialog.compose.setPlainText("<img src=x onerror=alert(1)>")
    qtbot.mouseClick(dialog.send_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, pos.ctx)
    item = dialog.findChild(QListWidget, "conversationList").item(0)
    assert "<img src=x onerror=alert(1)>" in item.text()  # list items never render rich text


def test_a_message_is_queued_in_the_outbox_and_shown_queued_offline(qtbot, make_pos) -> None:
    pos = make_pos(online=False)
    dialog = communicator(qtbot, pos, ADA)
    dialog.compose.setPlainText("See you at 10!")
    qtbot.mouseClick(dialog.send_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, pos.ctx)
    assert "goes out when this terminal reconnects" in dialog.findChild(QLabel, "communicatorMessage").text()
    item = dialog.conversation.item(0)
    assert item.text().endswith("Queued (sent when this terminal reconnects)")
    with pos.db.reading() as session:
        [entry] = Outbox(session).due()
    assert entry.payload["path"] == "/messages"
    assert entry.payload["body"]["client"]["sms_consent"] is True
    assert entry.payload["body"]["text"] == "See you at 10!"


# -- the whole flow against a real companion -----------------------------------------------------------


@dataclass
class LivePos(Pos):
    sync: SyncService
    comm: CommunicatorCompanion


@pytest.fixture
def live_pos(
    qtbot, db: Database, tmp_path: Path, smtp_server: SmtpTestServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], LivePos]]:
    with communicator_companion(tmp_path / "companion.db", smtp_server, monkeypatch) as comm:
        made: list[LivePos] = []

        def make() -> LivePos:
            enable_feature(db, True, business_name="Salon Élan", companion_url=comm.url)
            worker = Worker()
            ctx = PosContext(
                PosBackend(db), worker, connection=Connection(url=comm.url, state="offline"), timezone=TZ
            )
            bridge = SyncBridge()
            bridge.state.connect(ctx.set_connection_state)
            bridge.tickets.connect(ctx.tickets_changed.emit)
            sync = SyncService(
                db,
                comm.url,
                comm.terminal.credential,
                on_state=bridge.on_state,
                on_tickets_changed=bridge.on_tickets_changed,
                store_key=comm.terminal.store_id,
            )
            ctx.wake_sync = sync.wake
            window = MainWindow(ctx)
            qtbot.addWidget(window)
            window.show()
            sync.start()
            live = LivePos(window, ctx, db, sync, comm)
            live.bridge = bridge  # type: ignore[attr-defined]  # keep it alive with the window
            made.append(live)
            return live

        try:
            yield make
        finally:
            for live in made:
                live.sync.stop()
                live.ctx.worker.shutdown()


def test_send_invoice_via_communicator_shows_delivered_in_the_thread_and_on_the_ticket(qtbot, live_pos) -> None:
    pos = live_pos()
    qtbot.waitUntil(lambda: pos.ctx.connection.online, timeout=10_000)
    pos.view.set_client(ADA)
    add_from_catalog(qtbot, pos, "Shampoo")
    qtbot.mouseClick(pos.window.findChild(QPushButton, "sendInvoiceButton"), Qt.MouseButton.LeftButton)
    [send_dialog] = [d for d in pos.window.findChildren(SendInvoiceDialog) if d.isVisible()]

    qtbot.mouseClick(send_dialog.findChild(QPushButton, "sendViaCommunicatorButton"), Qt.MouseButton.LeftButton)
    link = send_dialog.findChild(type(send_dialog.link_edit), "invoiceLinkEdit").text()
    assert link.startswith(pos.comm.url + "/pay/")  # the same link the shareable link shows
    dialog = send_dialog.communicator
    assert dialog is not None and dialog.isVisible()
    compose = dialog.findChild(QPlainTextEdit, "composeEdit").toPlainText()
    assert compose.startswith("Hi Ada, your invoice from Salon Élan for $19.44 is ready. Pay securely here: ") and compose.endswith(link)
    assert [dialog.channel_combo.itemData(i) for i in range(dialog.channel_combo.count())] == ["sms"]

    qtbot.mouseClick(dialog.findChild(QPushButton, "sendMessageButton"), Qt.MouseButton.LeftButton)
    conversation = dialog.findChild(QListWidget, "conversationList")
    qtbot.waitUntil(lambda: conversation.count() == 1 and conversation.item(0).text().endswith("Delivered"), timeout=15_000)
    assert compose.splitlines()[0] in conversation.item(0).text()
    [sent] = [r for r in pos.comm.twilio.requests if r.method == "POST"]
    assert sent.form["To"] == ADA.phone and sent.form["Body"] == compose

    label = pos.window.findChild(QLabel, "messageStatusLabel")
    qtbot.waitUntil(lambda: label.isVisible() and label.text() == "Last message: SMS delivered", timeout=5_000)
    with pos.db.reading() as session:
        [message] = MessageRepository(session).for_client(ADA.id)
    assert message.state is MessageState.DELIVERED and message.ticket_id == pos.view.ticket.id


def test_a_failed_sms_shows_the_reason_and_can_be_retried(qtbot, live_pos) -> None:
    from tests.fakes.twilio_api import FAILED_NUMBER

    pos = live_pos()
    qtbot.waitUntil(lambda: pos.ctx.connection.online, timeout=10_000)
    landline = Client("c_landline", "Lee", phone=FAILED_NUMBER, sms_consent=True)
    with pos.db.session() as session:
        ClientRepository(session).create(landline)
    dialog = communicator(qtbot, pos, landline)
    dialog.compose.setPlainText("Your order is ready")
    qtbot.mouseClick(dialog.send_button, Qt.MouseButton.LeftButton)
    conversation = dialog.conversation
    qtbot.waitUntil(lambda: conversation.count() == 1 and "Failed: " in conversation.item(0).text(), timeout=15_000)
    assert "cannot receive text messages" in conversation.item(0).text()

    retry = dialog.findChild(QPushButton, "retryMessageButton")
    conversation.setCurrentRow(0)
    assert retry.isVisible() and retry.isEnabled()
    qtbot.mouseClick(retry, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: conversation.count() == 2, timeout=5_000)
    assert conversation.item(1).text().splitlines()[1] == "Your order is ready"
    qtbot.waitUntil(lambda: "Failed: " in conversation.item(1).text(), timeout=15_000)
    assert len([r for r in pos.comm.twilio.requests if r.method == "POST"]) == 2


def test_a_stop_reply_withdraws_consent_on_the_pos_live(qtbot, live_pos) -> None:
    pos = live_pos()
    qtbot.waitUntil(lambda: pos.ctx.connection.online, timeout=10_000)
    dialog = communicator(qtbot, pos, ADA)
    dialog.compose.setPlainText("Hello!")
    qtbot.mouseClick(dialog.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.conversation.count() == 1 and dialog.conversation.item(0).text().endswith("Delivered"), timeout=15_000)

    assert pos.comm.twilio.send_inbound("STOP", ADA.phone).ok
    hint = dialog.findChild(QLabel, "channelHint")
    qtbot.waitUntil(lambda: "Ada has not agreed to receive text messages" in hint.text(), timeout=10_000)
    assert channels(dialog) == [] and not dialog.send_button.isEnabled()
    assert pos.ctx.backend.client(ADA.id).sms_consent is False


def test_send_via_communicator_exists_only_with_a_client(qtbot, pos: Pos) -> None:
    add_from_catalog(qtbot, pos, "Shampoo")
    pos.view.set_walk_in()
    walk_in = SendInvoiceDialog(pos.ctx, pos.view.ticket, pos.view.priced, invoice=None, base_revision=None)
    qtbot.addWidget(walk_in)
    assert walk_in.findChild(QPushButton, "sendViaCommunicatorButton") is None
    pos.view.set_client(BOB)
    with_client = SendInvoiceDialog(pos.ctx, pos.view.ticket, pos.view.priced, invoice=None, base_revision=None)
    qtbot.addWidget(with_client)
    button = with_client.findChild(QPushButton, "sendViaCommunicatorButton")
    assert button is not None and button.isEnabled() and button.accessibleName()
    assert isinstance(with_client, QDialog)


def test_phone_numbers_read_as_in_the_stores_country_and_send_stands_apart_from_close(qtbot, pos: Pos) -> None:
    from posdesk.gui.qt import QPushButton

    abroad = replace(ADA, id="c_abroad", phone="+442079460958")
    dialog = communicator(qtbot, pos, ADA)
    combo = dialog.findChild(QComboBox, "channelCombo")
    assert combo.itemText(0) == "SMS · (555) 010-0001"  # a US store: national form, not "+15550100001"
    assert "(555) 010-0001" in dialog.contact_label.text()
    assert communicator(qtbot, pos, abroad).findChild(QComboBox, "channelCombo").itemText(0) == "SMS · +44 20 7946 0958"
    send = dialog.findChild(QPushButton, "sendMessageButton")
    close = dialog.findChild(QPushButton, "closeCommunicatorButton")
    assert send.isDefault() and not close.isDefault()
    from posdesk.gui.app import style_sheet

    dialog.setStyleSheet(style_sheet())
    dialog.compose.setPlainText("Hello")  # Send enabled: filled in the primary colour, Close stays white

    def fill(button: QPushButton) -> str:  # a pixel beside the text
        return button.grab().toImage().pixelColor(6, button.height() // 2).name()

    assert fill(close) == "#ffffff" and fill(send) != "#ffffff"
