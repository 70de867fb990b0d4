"""A tip taken at the counter with a real companion: a card tender with a tip on Till 1 (a ticket never
invoiced) reaches the companion with the tender, and the store's day summary on Till 2 shares it among
the ticket's providers like an online tip; a tip refunded in part lowers their tips in proportion."""

from __future__ import annotations

from posdesk.core.ticket import TicketState
from posdesk.gui.app import PosApp
from posdesk.gui.qt import QComboBox, QLineEdit, QPushButton, Qt, QTableWidget
from tests.e2e.terminals import (
    WAIT_MS,
    enter_pin,
    haircut_and_blowout_for_bob,
    pending_uploads,
    tips_by_provider,
    visible,
)


def tips_once_sent(qtbot, till1: PosApp, till2: PosApp) -> dict[str, str]:
    """Till 2's tips by provider (the companion's figures) once Till 1 has sent all it recorded."""
    qtbot.waitUntil(lambda: pending_uploads(till1) == 0, timeout=WAIT_MS)
    return tips_by_provider(qtbot, till2.window)


def test_a_counter_tip_is_the_stores_tips_by_provider_on_another_terminal_net_of_its_refund(
    qtbot, online_tills
) -> None:
    till1, till2 = online_tills("till1", "till2")
    window, view = till1.window, till1.window.ticket_view
    haircut_and_blowout_for_bob(qtbot, till1)

    qtbot.mouseClick(window.findChild(QPushButton, "takePaymentButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: bool([d for d in window.findChildren(QComboBox, "tenderMethodCombo") if d.isVisible()])
    )
    tender = visible(window, "tenderDialog")
    combo = tender.findChild(QComboBox, "tenderMethodCombo")
    combo.setCurrentIndex(combo.findText("Card on the counter terminal"))
    amount = tender.findChild(QLineEdit, "tenderAmountEdit").text()
    tender.findChild(QLineEdit, "tenderTipEdit").setText("10")
    qtbot.mouseClick(tender.findChild(QPushButton, "recordTenderButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.ticket.state is TicketState.PAID, timeout=WAIT_MS)
    [paid] = view.ticket.payments
    assert paid.amount.plain() == amount and paid.tip.minor == 1000

    # $10.00 in proportion to $40 and $35, as an online tip: not "Unassigned".
    assert tips_once_sent(qtbot, till1, till2) == {
        "Sam": "$5.33",
        "Ana": "$4.67",
        "Unassigned": "",
        "Total": "$10.00",
    }

    # The manager refunds $3.00 of the tip on Till 1: Sam's and Ana's tips drop in proportion.
    window.findChild(QTableWidget, "paymentsList").selectRow(0)
    qtbot.mouseClick(window.findChild(QPushButton, "refundButton"), Qt.MouseButton.LeftButton)
    enter_pin(qtbot, window)
    refund = visible(window, "refundDialog")
    refund.findChild(QLineEdit, "refundAmountEdit").setText("0")
    refund.findChild(QLineEdit, "refundTipEdit").setText("3")
    refund.findChild(QPushButton, "confirmRefundButton").click()
    qtbot.waitUntil(lambda: view.ticket.payments[0].refunded is not None, timeout=WAIT_MS)
    assert tips_once_sent(qtbot, till1, till2) == {
        "Sam": "$3.73",
        "Ana": "$3.27",
        "Unassigned": "",
        "Total": "$10.00",
    }
