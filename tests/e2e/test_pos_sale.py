"""A whole sale with a real companion: a ticket paid part online (Chromium, the Simulator gateway) and
the rest in cash at the counter, part of the online payment refunded from the POS through the
companion's refund API, and the day summary on a second terminal showing the same figures."""

from __future__ import annotations

from posdesk.core.ticket import PaymentMethod, TicketState
from posdesk.gui.qt import QCheckBox, QComboBox, QLabel, QLineEdit, QPushButton, Qt, QTableWidget
from tests.e2e.terminals import (
    WAIT_MS,
    build_ticket_for_bob,
    enter_pin,
    pay_with_test_card,
    pending_uploads,
    status_text,
    visible,
)


def day_figures(qtbot, window) -> dict[tuple[str, str], str]:
    window.open_day_summary()
    enter_pin(qtbot, window)
    dialog = visible(window, "daySummaryDialog")
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=WAIT_MS)
    figures = {
        (section, item): dialog.figure(section, item)
        for section, item in (("Takings", "Online card"), ("Takings", "Cash"), ("Takings", "Total"),
                              ("Tips", "Total"), ("Refunds", "Total"))
    }  # fmt: skip
    source = dialog.findChild(QLabel, "daySummarySourceLabel").text()
    dialog.close()
    return figures | {("source", ""): source}


def test_part_online_part_cash_a_partial_refund_and_the_same_day_on_another_terminal(
    qtbot, online_tills, phone_page
) -> None:
    till1, till2 = online_tills("till1", "till2")
    window, view = till1.window, till1.window.ticket_view

    # A deposit of $20.00 by link, paid on the phone with a tip.
    build_ticket_for_bob(qtbot, till1)  # $43.20
    qtbot.mouseClick(window.findChild(QPushButton, "sendInvoiceButton"), Qt.MouseButton.LeftButton)
    send = visible(window, "sendInvoiceDialog")
    send.findChild(QCheckBox, "customizeAmountCheckBox").click()
    send.findChild(QLineEdit, "amountEdit").setText("20.00")
    qtbot.mouseClick(send.findChild(QPushButton, "sendViaLinkButton"), Qt.MouseButton.LeftButton)
    link = send.findChild(QLineEdit, "invoiceLinkEdit").text()
    qtbot.waitUntil(lambda: status_text(till1) == "Invoice sent · awaiting payment", timeout=WAIT_MS)
    send.findChild(QPushButton, "closeButton").click()
    phone_page.goto(link)
    pay_with_test_card(phone_page)
    qtbot.waitUntil(lambda: view.ticket.state is TicketState.PARTIALLY_PAID, timeout=WAIT_MS)
    [online] = view.ticket.payments
    assert online.amount.minor == 2000 and online.tip.is_positive()

    # The rest in cash at the counter: $30.00 handed over for $23.20, the link revoked, the ticket closed.
    qtbot.mouseClick(window.findChild(QPushButton, "takePaymentButton"), Qt.MouseButton.LeftButton)
    tender = visible(window, "tenderDialog")
    assert tender.findChild(QLineEdit, "tenderAmountEdit").text() == "23.20"
    combo = tender.findChild(QComboBox, "tenderMethodCombo")
    combo.setCurrentIndex(combo.findText("Cash"))
    tender.findChild(QLineEdit, "tenderAmountEdit").setText("30")
    assert tender.findChild(QLabel, "changeDueLabel").text() == "Change due: $6.80"
    qtbot.mouseClick(tender.findChild(QPushButton, "recordTenderButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.ticket.state is TicketState.PAID, timeout=WAIT_MS)
    assert [p.method for p in view.ticket.payments] == [PaymentMethod.ONLINE_CARD, PaymentMethod.CASH]
    phone_page.goto(link)
    assert phone_page.get_by_test_id("pay-button").count() == 0  # the client cannot pay twice

    # A manager refunds $5.00 of the online payment from the POS: through the companion and the gateway.
    table = window.findChild(QTableWidget, "paymentsList")
    table.selectRow(0)
    qtbot.mouseClick(window.findChild(QPushButton, "refundButton"), Qt.MouseButton.LeftButton)
    enter_pin(qtbot, window)
    refund = visible(window, "refundDialog")
    refund.findChild(QLineEdit, "refundAmountEdit").setText("5")
    refund.findChild(QLineEdit, "refundTipEdit").setText("0")  # the tip stays with the provider
    refund.findChild(QPushButton, "confirmRefundButton").click()
    qtbot.waitUntil(lambda: view.ticket.payments[0].refunded is not None, timeout=WAIT_MS)
    assert view.ticket.payments[0].refunded.minor == 500
    assert table.item(0, 4).text() == "Partly refunded ($5.00)"

    # Till 2's day summary (the companion's records, every terminal) says what Till 1's own cache says,
    # once Till 1's uploads (the cash tender) are done.
    qtbot.waitUntil(lambda: pending_uploads(till1) == 0, timeout=WAIT_MS)
    there = day_figures(qtbot, till2.window)
    ctx = till1.ctx
    local = ctx.backend.day_summary(ctx.today(), ctx.timezone, ctx.settings)
    assert local.source == "terminal"
    here = {(section, item): amount for section, item, amount in local.rows()}
    assert there[("source", "")].startswith("Figures from the companion")
    tip = online.tip.format()
    assert there[("Takings", "Online card")] == "$20.00" and there[("Takings", "Cash")] == "$23.20"
    assert there[("Takings", "Total")] == "$43.20"
    assert there[("Tips", "Total")] == tip and there[("Refunds", "Total")] == "$5.00"
    assert all(here[key] == there[key] for key in there if key[0] != "source")
