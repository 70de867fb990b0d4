"""The whole Send Invoice flow through the real programs: the POS window, a companion, a phone's browser.

Each test runs the companion app in uvicorn on loopback, starts the POS the way ``posdesk
--companion-url URL`` does (:func:`posdesk.gui.app.start_pos`, with its own SQLite file and its
:class:`~posdesk.sync.SyncService`), builds a ticket in the real New Ticket view, sends it with the
Send Invoice dialog, and pays the copied link in Chromium with the Simulator's test card. The POS is
never touched after sending: the ticket must close by itself, from the companion's event stream.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import keyring
import keyring.backend
import pytest

from posdesk.companion.app import create_app
from posdesk.companion.auth import new_pairing_code
from posdesk.core.ticket import PaymentMethod, TicketState
from posdesk.gui.app import PosApp, start_pos
from posdesk.gui.qr import pixmap_png
from posdesk.gui.qt import QApplication, QDialog, QLabel, QLineEdit, QPushButton, Qt
from posdesk.store import Database, Outbox
from posdesk.sync import pair
from tests.companion.conftest import add_store, demo_config
from tests.fakes.keyring import MemoryKeyring
from tests.fakes.serve import serve_app
from tests.gui.conftest import enable_feature, seed
from tests.plugins.qr import decode_qr_png
from tests.waiting import free_port

pytestmark = pytest.mark.e2e

WAIT_MS = 20_000
TEST_CARD = "4242 4242 4242 4242"




@dataclass
class Store:
    """The companion's side: the app, its address, and the store the terminals belong to."""

    app: Any
    url: str
    store_id: str

    def pairing_code(self) -> str:
        with self.app.state.db.write() as session:
            return new_pairing_code(session, self.store_id)


@contextlib.contextmanager
def companion_on(db_file: Path, port: int = 0) -> Iterator[tuple[Any, str]]:
    """The companion app on ``db_file``, served by uvicorn on ``127.0.0.1:port``."""
    app = create_app(demo_config(f"sqlite+pysqlite:///{db_file}"))
    try:
        with serve_app(app, port=port) as url:
            yield app, url
    finally:
        app.state.db.dispose()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with companion_on(tmp_path / "companion.db") as (app, url):
        yield Store(app, url, add_store(app).store_id)


def prepare_terminal(data_dir: Path, url: str, credential: str) -> None:
    """What a manager did once on this terminal: the feature on, the companion set, pairing done.

    The credential goes where the POS keeps it: the OS keyring (here the test's in-memory one).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database.open(data_dir / "posdesk.db")
    try:
        seed(db, datetime.now(ZoneInfo("America/New_York")).date())
        enable_feature(db, True, companion_url=url, business_name="Test Salon")
    finally:
        db.close()
    keyring.set_password("posdesk", url, credential)


@pytest.fixture
def start_terminal(qtbot) -> Iterator[Callable[[Path, str], PosApp]]:
    """``start_terminal(data_dir, url)``: the POS as ``posdesk --companion-url URL`` starts it."""
    started: list[PosApp] = []

    def start(data_dir: Path, url: str) -> PosApp:
        pos = start_pos(companion_url=url, data_dir=data_dir)
        qtbot.addWidget(pos.window)
        pos.window.show()
        started.append(pos)
        return pos

    yield start
    for pos in started:
        pos.stop()


def add_from_catalog(qtbot, pos: PosApp, item_name: str) -> None:
    tree = pos.window.ticket_view.catalog_browser
    [row] = [
        tree.topLevelItem(g).child(c)
        for g in range(tree.topLevelItemCount())
        for c in range(tree.topLevelItem(g).childCount())
        if tree.topLevelItem(g).child(c).text(0) == item_name
    ]
    tree.setCurrentItem(row)
    qtbot.mouseClick(pos.window.findChild(QPushButton, "addItemButton"), Qt.MouseButton.LeftButton)


def build_ticket_for_bob(qtbot, pos: PosApp) -> None:
    """The cashier: find Bob by typing, pick him, add a haircut from the catalog."""
    window = pos.window
    search = window.findChild(QLineEdit, "clientSearchEdit")
    qtbot.keyClicks(search, "Bob")
    qtbot.keyClick(search, Qt.Key.Key_Return)
    assert window.findChild(QLabel, "clientChip").text() == "Bob Plain"
    add_from_catalog(qtbot, pos, "Haircut")
    assert window.findChild(QLabel, "balanceDueLabel").text() == "$43.20"  # 40.00 + 8% tax


def send_via_link(qtbot, pos: PosApp) -> tuple[str, QDialog]:
    """Click $ Send Invoice, then Send via Shareable Link; return the URL the clipboard holds."""
    qtbot.mouseClick(pos.window.findChild(QPushButton, "sendInvoiceButton"), Qt.MouseButton.LeftButton)
    [dialog] = [d for d in pos.window.findChildren(QDialog, "sendInvoiceDialog") if d.isVisible()]
    qtbot.mouseClick(dialog.findChild(QPushButton, "sendViaLinkButton"), Qt.MouseButton.LeftButton)
    url = QApplication.clipboard().text()
    qr = dialog.findChild(QLabel, "qrCodeLabel")
    qtbot.waitUntil(lambda: not qr.pixmap().isNull())  # drawn just after the link is copied
    return url, dialog


def status_text(pos: PosApp) -> str:
    return pos.window.findChild(QLabel, "ticketStatusLabel").text()


def pay_with_test_card(page: Any) -> str:
    """The client: a tip preset, the Simulator's card form, Pay; returns the confirmation's amount."""
    page.get_by_test_id("tip-option").first.click()
    page.fill("#sim_number", TEST_CARD)
    page.fill("#sim_exp", "12 / 34")
    page.fill("#sim_cvc", "123")
    page.get_by_test_id("pay-button").click()
    page.get_by_test_id("confirmation").wait_for(timeout=WAIT_MS)
    return page.get_by_test_id("paid-amount").inner_text()


def assert_closed_by_payment(qtbot, pos: PosApp, ticket_id: str) -> None:
    """The POS shows the ticket paid online and closed, $0 due, with the card payment on it."""
    view = pos.window.ticket_view
    qtbot.waitUntil(lambda: status_text(pos) == "Paid online · closed", timeout=WAIT_MS)
    assert view.ticket.id == ticket_id
    assert pos.window.findChild(QLabel, "balanceDueLabel").text() == "$0.00"
    stored = pos.ctx.backend.load_ticket(ticket_id)
    assert stored.state is TicketState.PAID
    [payment] = stored.payments
    assert payment.method is PaymentMethod.ONLINE_CARD
    assert payment.card_last4 == "4242"
    assert payment.amount.minor == 4320 and payment.tip.is_positive()
    assert not pos.window.findChild(QPushButton, "sendInvoiceButton").isEnabled()


def pending_uploads(pos: PosApp) -> int:
    with pos.db.reading() as session:
        return Outbox(session).pending_count()


# -- (a) online ----------------------------------------------------------------------------------------
def test_paying_the_copied_link_closes_the_ticket_without_a_click(
    qtbot, tmp_path: Path, store: Store, memory_keyring: MemoryKeyring, start_terminal, phone_page
) -> None:
    credential = pair(store.url, store.pairing_code(), "Front desk").credential
    prepare_terminal(tmp_path / "till", store.url, credential)
    pos = start_terminal(tmp_path / "till", store.url)
    qtbot.waitUntil(lambda: pos.ctx.connection.online, timeout=WAIT_MS)
    assert "Online" in pos.window.findChild(QLabel, "connectionIndicator").text()

    build_ticket_for_bob(qtbot, pos)
    url, dialog = send_via_link(qtbot, pos)
    assert url.startswith(store.url + "/pay/")
    assert decode_qr_png(pixmap_png(dialog.findChild(QLabel, "qrCodeLabel").pixmap())) == url
    assert not dialog.findChild(QPushButton, "openPaymentPageButton").isVisible()  # demo mode only
    ticket_id = pos.window.ticket_view.ticket.id
    # The upload landed when the companion's event says the link is sent.
    qtbot.waitUntil(lambda: status_text(pos) == "Invoice sent · awaiting payment", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: pending_uploads(pos) == 0, timeout=WAIT_MS)
    dialog.findChild(QPushButton, "closeButton").click()

    phone_page.goto(url)
    assert "$43.20" in phone_page.get_by_test_id("pay-button").inner_text()
    assert "Bob Plain" in phone_page.content()
    paid = pay_with_test_card(phone_page)
    assert paid.startswith("$") and paid != "$43.20"  # the amount plus the tip

    assert_closed_by_payment(qtbot, pos, ticket_id)
    tickets = pos.window.tickets_panel
    tickets.reload()
    assert [tickets.table.item(r, 2).text() for r in range(tickets.table.rowCount())] == ["Paid · closed"]


def test_sending_again_after_an_edit_updates_the_open_page_before_the_old_total_can_be_paid(
    qtbot, tmp_path: Path, store: Store, memory_keyring: MemoryKeyring, start_terminal, phone_page
) -> None:
    credential = pair(store.url, store.pairing_code(), "Front desk").credential
    prepare_terminal(tmp_path / "till", store.url, credential)
    pos = start_terminal(tmp_path / "till", store.url)
    build_ticket_for_bob(qtbot, pos)
    url, dialog = send_via_link(qtbot, pos)
    ticket_id = pos.window.ticket_view.ticket.id
    qtbot.waitUntil(lambda: status_text(pos) == "Invoice sent · awaiting payment", timeout=WAIT_MS)
    dialog.findChild(QPushButton, "closeButton").click()
    phone_page.goto(url)
    assert "$43.20" in phone_page.get_by_test_id("pay-button").inner_text()

    # The client adds a shampoo at the counter: the cashier edits, saves, and sends again.
    add_from_catalog(qtbot, pos, "Shampoo")
    qtbot.mouseClick(pos.window.findChild(QPushButton, "saveTicketButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: status_text(pos) == "Invoice out of date: send again", timeout=WAIT_MS)
    again, dialog = send_via_link(qtbot, pos)
    assert (
        dialog.findChild(QLabel, "resendNote").text().startswith("The ticket changed since its link was sent")
    )
    assert again == url, "the same link, now showing the new version"
    qtbot.waitUntil(lambda: "Invoice updated" in dialog.findChild(QLabel, "sendProgressLabel").text())

    # The open page notices the new version by itself and will not take the old amount.
    phone_page.locator("#version-banner").wait_for(state="visible", timeout=WAIT_MS)
    assert "$62.64" in phone_page.locator("#version-banner").inner_text()  # 43.20 + 18.00 + 8%
    assert phone_page.get_by_test_id("pay-button").is_disabled()
    phone_page.locator("#version-banner a").click()
    assert "$62.64" in phone_page.get_by_test_id("pay-button").inner_text()
    pay_with_test_card(phone_page)

    qtbot.waitUntil(lambda: status_text(pos) == "Paid online · closed", timeout=WAIT_MS)
    [payment] = pos.ctx.backend.load_ticket(ticket_id).payments
    assert payment.amount.minor == 6264


# -- (b) offline when sending --------------------------------------------------------------------------
def test_a_link_sent_offline_is_payable_once_uploaded_and_still_closes(
    qtbot, tmp_path: Path, memory_keyring: MemoryKeyring, start_terminal, phone_page
) -> None:
    port, db_file = free_port(), tmp_path / "companion.db"
    with companion_on(db_file, port) as (app, url):
        store = Store(app, url, add_store(app).store_id)
        credential = pair(url, store.pairing_code(), "Front desk").credential
    # The companion is down from here on: the cashier works and sends anyway.
    prepare_terminal(tmp_path / "till", url, credential)
    pos = start_terminal(tmp_path / "till", url)
    assert "Offline" in pos.window.findChild(QLabel, "connectionIndicator").text()

    build_ticket_for_bob(qtbot, pos)
    link, dialog = send_via_link(qtbot, pos)
    assert link.startswith(url + "/pay/")
    assert decode_qr_png(pixmap_png(dialog.findChild(QLabel, "qrCodeLabel").pixmap())) == link
    offline_notice = dialog.findChild(QLabel, "offlineNotice")
    assert offline_notice.isVisible() and "once this terminal reconnects" in offline_notice.text()
    ticket_id = pos.window.ticket_view.ticket.id
    qtbot.waitUntil(lambda: "link not uploaded yet" in status_text(pos), timeout=WAIT_MS)
    assert pending_uploads(pos) == 1

    # Hold the upload back: the companion returns before this terminal's outbox drains.
    pos.sync.stop()
    with companion_on(db_file, port) as (_app, _url):
        phone_page.goto(link)
        # Not uploaded yet: the companion cannot tell this token from an expired one (no probing), so the
        # page says the invoice is being prepared or no longer active, and checks by itself.
        waiting = phone_page.get_by_test_id("link-inactive")
        assert "being prepared" in waiting.inner_text()
        assert "$43.20" not in phone_page.content() and "Bob" not in phone_page.content()

        pos.sync.start()  # the terminal reconnects: the upload lands and the open page becomes payable
        qtbot.waitUntil(lambda: pending_uploads(pos) == 0, timeout=WAIT_MS)
        phone_page.get_by_test_id("pay-button").wait_for(timeout=WAIT_MS)  # no reload by the client
        assert "$43.20" in phone_page.get_by_test_id("pay-button").inner_text()
        pay_with_test_card(phone_page)

        assert_closed_by_payment(qtbot, pos, ticket_id)
        qtbot.waitUntil(lambda: pos.ctx.connection.online, timeout=WAIT_MS)
