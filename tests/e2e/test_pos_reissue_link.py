"""An expired link re-issued in one click from the Tickets list works end to end: the companion expires
the link, the POS lists it under "Link expired", one click re-issues it for the balance, and the client
pays at the same address (real companion, Chromium, the Simulator gateway)."""

from __future__ import annotations

from datetime import timedelta

from posdesk.companion.invoices import expire_due_invoices
from posdesk.companion.models import Invoice, utcnow
from posdesk.core.ticket import TicketState
from posdesk.gui.qt import QApplication, QComboBox, QPushButton, Qt, QTableWidget
from tests.e2e.terminals import WAIT_MS, Store, build_ticket_for_bob, pay_with_test_card, send_via_link


def test_an_expired_link_re_issued_in_one_click_is_paid_at_the_same_address(
    qtbot, store: Store, online_tills, phone_page
) -> None:
    [till] = online_tills("till")
    window, view = till.window, till.window.ticket_view
    build_ticket_for_bob(qtbot, till)  # $43.20
    link, dialog = send_via_link(qtbot, till)
    dialog.findChild(QPushButton, "closeButton").click()
    ticket_id = view.ticket.id

    def uploaded() -> bool:  # the companion has the invoice (the link is "sent", no longer "preparing")
        info = till.ctx.backend.invoice_info(ticket_id)
        return info is not None and info.link_status.value == "sent"

    qtbot.waitUntil(uploaded, timeout=WAIT_MS)

    with store.app.state.db.write() as session:  # the link's time is up
        for invoice in session.query(Invoice).all():
            invoice.expires_at = utcnow() - timedelta(minutes=1)
    assert expire_due_invoices(store.app.state.db) == 1
    phone_page.goto(link)
    assert phone_page.get_by_test_id("pay-button").count() == 0

    window.tabs.setCurrentWidget(window.tickets_panel)
    combo = window.findChild(QComboBox, "ticketStateFilter")
    combo.setCurrentIndex(combo.findText("Link expired"))
    table = window.findChild(QTableWidget, "ticketsList")
    qtbot.waitUntil(lambda: (window.tickets_panel.reload(), table.rowCount())[1] == 1, timeout=WAIT_MS)
    table.selectRow(0)
    QApplication.clipboard().clear()
    qtbot.mouseClick(window.findChild(QPushButton, "reissueLinkButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: QApplication.clipboard().text() == link, timeout=WAIT_MS)  # the same address

    def payable() -> bool:
        phone_page.goto(link)
        return phone_page.get_by_test_id("pay-button").count() == 1

    qtbot.waitUntil(payable, timeout=WAIT_MS)
    assert "$43.20" in phone_page.content()
    pay_with_test_card(phone_page)
    qtbot.waitUntil(lambda: till.ctx.backend.load_ticket(ticket_id).state is TicketState.PAID, timeout=WAIT_MS)
