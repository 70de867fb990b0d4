"""POS terminals against a real companion, for the end-to-end tests: the companion in uvicorn on loopback
(:func:`store`), terminals started the way ``posdesk --companion-url URL`` starts them
(:func:`start_terminal`, :func:`online_tills`), and what a cashier, a manager and a client do on them.

The fixtures are the e2e tests' own (tests/e2e/conftest.py); a test elsewhere imports the ones it uses.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import pytest

from posdesk.companion.app import create_app
from posdesk.companion.auth import new_pairing_code
from posdesk.core.ticket import PaymentMethod, TicketState
from posdesk.gui.app import PosApp, start_pos
from posdesk.gui.pin import hash_pin
from posdesk.gui.qt import QApplication, QDialog, QLabel, QLineEdit, QPushButton, Qt
from posdesk.store import Database, Outbox, SettingsRepository
from posdesk.sync import pair
from tests.companion.conftest import add_store, demo_config
from tests.fakes.keyring import MemoryKeyring
from tests.fakes.serve import serve_app
from tests.gui.conftest import BOB, set_up_terminal

WAIT_MS = 20_000
TEST_CARD = "4242 4242 4242 4242"
PIN = "4821"  # the manager PIN of the terminals online_tills starts


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
    set_up_terminal(data_dir, companion_url=url, business_name="Test Salon")
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


def haircut_and_blowout_for_bob(qtbot, pos: PosApp) -> None:
    """The cashier: Bob's haircut by Sam ($40.00) and blowout by Ana ($35.00) on the open ticket."""
    pos.window.ticket_view.set_client(BOB)
    add_from_catalog(qtbot, pos, "Haircut")
    add_from_catalog(qtbot, pos, "Blowout")


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


def with_pin(data_dir: Path) -> None:
    """The manager PIN (:data:`PIN`) set on the terminal in ``data_dir``."""
    db = Database.open(data_dir / "posdesk.db")
    try:
        with db.session() as session:
            settings = SettingsRepository(session)
            pin_hash = hash_pin(PIN, iterations=1000)
            settings.save_terminal(replace(settings.terminal(), manager_pin_hash=pin_hash))
    finally:
        db.close()


def visible(window, name: str) -> QDialog:
    [dialog] = [d for d in window.findChildren(QDialog, name) if d.isVisible()]
    return dialog


def enter_pin(qtbot, window) -> None:
    qtbot.waitUntil(lambda: any(d.isVisible() for d in window.findChildren(QDialog, "managerPinDialog")))
    gate = visible(window, "managerPinDialog")
    gate.findChild(QLineEdit, "pinEdit").setText(PIN)
    gate.findChild(QPushButton, "pinOkButton").click()


def tips_by_provider(qtbot, window) -> dict[str, str]:
    """The store's tips by provider in the day summary (the companion's figures), behind the manager PIN."""
    window.open_day_summary()
    enter_pin(qtbot, window)
    dialog = visible(window, "daySummaryDialog")
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=WAIT_MS)
    assert dialog.summary.source == "companion"
    figures = {who: dialog.figure("Tips", who) for who in ("Sam", "Ana", "Unassigned", "Total")}
    dialog.close()
    return figures


@pytest.fixture
def online_tills(
    qtbot, tmp_path: Path, store: Store, memory_keyring: MemoryKeyring, start_terminal: Callable[..., PosApp]
) -> Callable[..., list[PosApp]]:
    """``online_tills("till1", "till2")``: terminals paired with :func:`store` under those names (each in
    ``tmp_path / name``, with the manager PIN), started and online. ``also(data_dir)`` is whatever else
    the manager set on each terminal before it started."""

    def start(*names: str, also: Callable[[Path], None] | None = None) -> list[PosApp]:
        for name in names:
            data_dir = tmp_path / name
            prepare_terminal(data_dir, store.url, pair(store.url, store.pairing_code(), name).credential)
            with_pin(data_dir)
            if also is not None:
                also(data_dir)
        tills = [start_terminal(tmp_path / name, store.url) for name in names]
        for till in tills:
            qtbot.waitUntil(lambda till=till: till.ctx.connection.online, timeout=WAIT_MS)
        return tills

    return start
