"""The whole Send Invoice flow through the real programs: the POS window, a companion, a phone's browser.

Each test runs the companion app in uvicorn on loopback, starts the POS the way ``posdesk
--companion-url URL`` does (:func:`posdesk.gui.app.start_pos`, with its own SQLite file and its
:class:`~posdesk.sync.SyncService`), builds a ticket in the real New Ticket view, sends it with the
Send Invoice dialog, and pays the copied link in Chromium with the Simulator's test card. The POS is
never touched after sending: the ticket must close by itself, from the companion's event stream.
"""

from __future__ import annotations

from pathlib import Path

from posdesk.gui.qr import pixmap_png
from posdesk.gui.qt import QLabel, QPushButton, Qt
from posdesk.sync import pair
from tests.companion.conftest import add_store
from tests.e2e.terminals import (
    WAIT_MS,
    Store,
    add_from_catalog,
    assert_closed_by_payment,
    build_ticket_for_bob,
    companion_on,
    pay_with_test_card,
    pending_uploads,
    prepare_terminal,
    send_via_link,
    status_text,
)
from tests.fakes.keyring import MemoryKeyring
from tests.plugins.qr import decode_qr_png
from tests.waiting import free_port


# -- (a) online ----------------------------------------------------------------------------------------
def test_paying_the_copied_link_closes_the_ticket_without_a_click(
    qtbot, store: Store, online_tills, phone_page
) -> None:
    [pos] = online_tills("Front desk")
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
    qtbot, online_tills, phone_page
) -> None:
    [pos] = online_tills("Front desk")
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
