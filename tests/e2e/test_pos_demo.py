"""Demo mode, as the README's first command runs it: an embedded companion, simulated payments.

The cashier opens an appointment, sends its invoice, and uses the dialog's "Open payment page" (the
system browser: here Qt's URL handler hands the address to Chromium); the test card pays it and the
ticket closes in the POS by itself.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from posdesk.companion.embedded import DATABASE_FILE
from posdesk.gui.app import DEMO_BANNER, PosApp, start_pos
from posdesk.gui.qt import QDesktopServices, QLabel, QObject, QPushButton, Qt, QUrl, Slot
from tests.e2e.terminals import WAIT_MS, pay_with_test_card, send_via_link, status_text


class SystemBrowser(QObject):
    """Stands where the desktop's browser would: it records what ``QDesktopServices.openUrl`` opens."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.opened.append(url.toString())


@pytest.fixture
def system_browser() -> Iterator[SystemBrowser]:
    browser = SystemBrowser()
    QDesktopServices.setUrlHandler("http", browser, "open")
    try:
        yield browser
    finally:
        QDesktopServices.unsetUrlHandler("http")


@pytest.fixture
def demo(qtbot, tmp_path: Path) -> Iterator[PosApp]:
    pos = start_pos(demo=True, data_dir=tmp_path / "demo")
    qtbot.addWidget(pos.window)
    pos.window.show()
    try:
        yield pos
    finally:
        pos.stop()


def test_demo_mode_pays_an_appointment_from_the_open_payment_page_button(
    qtbot, demo: PosApp, system_browser: SystemBrowser, phone_page
) -> None:
    window = demo.window
    banner = window.findChild(QLabel, "demoBanner")
    assert banner.isVisible() and banner.text() == DEMO_BANNER
    qtbot.waitUntil(lambda: demo.ctx.connection.online, timeout=WAIT_MS)

    panel = window.ticket_view.services_panel
    [row] = [panel.item(i) for i in range(panel.count()) if "Marcus Reed" in panel.item(i).text()]
    panel.scrollToItem(row)
    qtbot.mouseClick(panel.viewport(), Qt.MouseButton.LeftButton, pos=panel.visualItemRect(row).center())
    assert window.findChild(QLabel, "clientChip").text() == "Marcus Reed"
    balance = window.findChild(QLabel, "balanceDueLabel").text()
    assert balance.startswith("$") and balance != "$0.00"

    link, dialog = send_via_link(qtbot, demo)
    assert link.startswith(demo.ctx.connection.url + "/pay/")
    open_page = dialog.findChild(QPushButton, "openPaymentPageButton")
    assert open_page.isVisible() and "4242 4242 4242 4242" in open_page.toolTip()
    qtbot.waitUntil(lambda: status_text(demo) == "Invoice sent · awaiting payment", timeout=WAIT_MS)
    qtbot.mouseClick(open_page, Qt.MouseButton.LeftButton)
    assert system_browser.opened == [link]

    phone_page.goto(system_browser.opened[0])
    assert phone_page.get_by_test_id("simulated").is_visible()
    assert balance in phone_page.get_by_test_id("pay-button").inner_text()
    pay_with_test_card(phone_page)

    qtbot.waitUntil(lambda: status_text(demo) == "Paid online · closed", timeout=WAIT_MS)
    assert window.findChild(QLabel, "balanceDueLabel").text() == "$0.00"


def test_a_demo_companion_database_from_a_pre_release_build_is_explained_in_the_banner(
    qtbot, tmp_path: Path
) -> None:
    data_dir = tmp_path / "demo"
    (data_dir / "companion").mkdir(parents=True)
    with sqlite3.connect(data_dir / "companion" / DATABASE_FILE) as connection:  # as a pre-release demo left it
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        connection.execute("INSERT INTO alembic_version VALUES ('0005')")
    pos = start_pos(demo=True, data_dir=data_dir)
    qtbot.addWidget(pos.window)
    pos.window.show()
    try:
        banner = pos.window.findChild(QLabel, "demoBanner")
        qtbot.waitUntil(lambda: "working offline" in banner.text(), timeout=WAIT_MS)
        assert "pre-release build of posdesk (schema revision 0005)" in banner.text()
        assert "Start with a new database" in banner.text()
        assert not pos.ctx.connection.url  # the POS works on its own
        # The reason wraps in the banner: the window can still be as narrow as a small screen.
        assert pos.window.minimumSizeHint().width() <= 800
    finally:
        pos.stop()
