"""A tip split across terminals with a real companion: a client tips online (Chromium, the Simulator) on
a haircut by Sam and a blowout by Ana; the manager on Till 1 changes the split; the store's day summary
on Till 2 shows the manager's tips by provider, and Till 2's copy of the payment has the split too."""

from __future__ import annotations

from posdesk.core.money import Money
from posdesk.core.ticket import TicketState
from posdesk.gui.qt import QLabel, QPushButton, Qt, QTableWidget, QTableWidgetItem
from tests.e2e.terminals import (
    WAIT_MS,
    enter_pin,
    haircut_and_blowout_for_bob,
    pay_with_test_card,
    send_via_link,
    tips_by_provider,
    visible,
)


def test_a_managers_tip_split_on_one_terminal_is_the_stores_tips_by_provider_on_another(
    qtbot, online_tills, phone_page
) -> None:
    till1, till2 = online_tills("till1", "till2")
    window, view = till1.window, till1.window.ticket_view
    haircut_and_blowout_for_bob(qtbot, till1)
    link, send = send_via_link(qtbot, till1)
    send.findChild(QPushButton, "closeButton").click()
    phone_page.goto(link)
    pay_with_test_card(phone_page)  # with the first tip preset
    qtbot.waitUntil(lambda: view.ticket.state is TicketState.PAID, timeout=WAIT_MS)
    [paid] = view.ticket.payments
    tip = paid.tip
    assert tip.is_positive()

    # The manager gives Ana $1.00 more than the default split.
    window.findChild(QTableWidget, "paymentsList").selectRow(0)
    qtbot.mouseClick(window.findChild(QPushButton, "splitTipButton"), Qt.MouseButton.LeftButton)
    enter_pin(qtbot, window)
    dialog = visible(window, "tipSplitDialog")
    table = dialog.findChild(QTableWidget, "tipSplitTable")
    default = {table.item(r, 0).text(): Money.parse(table.item(r, 2).text(), "USD") for r in range(table.rowCount())}
    assert set(default) == {"Sam", "Ana"} and default["Sam"] + default["Ana"] == tip
    split = {"Sam": default["Sam"] - Money(100, "USD"), "Ana": default["Ana"] + Money(100, "USD")}
    for row in range(table.rowCount()):
        table.setItem(row, 2, QTableWidgetItem(split[table.item(row, 0).text()].plain()))
    assert dialog.findChild(QLabel, "tipSplitDifferenceLabel").text() == f"The shares add up to the {tip.format()} tip."
    dialog.findChild(QPushButton, "saveTipSplitButton").click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)

    # Till 2 hears the split, and the store's day summary there (the companion's figures) uses it.
    def till2_split() -> tuple | None:
        ticket = till2.ctx.backend.load_ticket(view.ticket.id)
        return ticket.payments[0].tip_split if ticket.payments else None

    qtbot.waitUntil(lambda: till2_split() is not None, timeout=WAIT_MS)
    assert dict(till2_split()) == split
    tips = tips_by_provider(qtbot, till2.window)
    assert tips["Sam"] == split["Sam"].format() and tips["Ana"] == split["Ana"].format()
    assert tips["Total"] == tip.format()
