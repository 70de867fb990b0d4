"""A cashier on the keyboard: new ticket, client, item, save and send with shortcuts, in screen order."""

from __future__ import annotations

from posdesk.gui.qt import QApplication, QDialog, QLabel, QLineEdit, Qt, QWidget
from tests.e2e.terminals import WAIT_MS, Store, pending_uploads, status_text

SCREEN_ORDER = [
    "ticketLinesView",
    "lineQuantitySpin",
    "lineDiscountEdit",
    "removeLineButton",
    "promoCodeEdit",
    "applyPromoButton",
    "takePaymentButton",
    "saveTicketButton",
    "sendInvoiceButton",
    "servicesPanel",
]


def tab_stops(start: QWidget, count: int) -> list[str]:
    """The object names Tab visits from ``start`` (what can take focus, as the cashier sees it)."""
    names: list[str] = []
    widget = start
    for _ in range(2000):
        widget = widget.nextInFocusChain()
        policy = (
            widget.focusPolicy().value
            if hasattr(widget.focusPolicy(), "value")
            else int(widget.focusPolicy())
        )
        if widget.isVisible() and widget.isEnabled() and policy & Qt.FocusPolicy.TabFocus.value:
            if widget.objectName().startswith("qt_"):
                continue  # a spin box's inner line edit
            names.append(widget.objectName())
            if len(names) == count:
                break
    return names


def test_the_keyboard_builds_saves_and_sends_a_ticket_in_screen_order(
    qtbot, store: Store, online_tills
) -> None:
    [pos] = online_tills("Till")
    window, view = pos.window, pos.window.ticket_view
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=WAIT_MS)

    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # POS > New Ticket
    search = window.findChild(QLineEdit, "clientSearchEdit")
    assert window.focusWidget() is search
    qtbot.keyClicks(search, "Bob")
    qtbot.keyClick(search, Qt.Key.Key_Return)
    assert window.findChild(QLabel, "clientChip").text() == "Bob Plain"
    assert window.focusWidget() is view.catalog_filter  # adding items comes next

    qtbot.keyClicks(view.catalog_filter, "Haircut")
    qtbot.keyClick(view.catalog_filter, Qt.Key.Key_Tab)
    assert window.focusWidget() is view.catalog_browser
    tree = view.catalog_browser
    for _ in range(6):  # arrow down to it, as the cashier would while reading the list
        if tree.currentItem() is not None and tree.currentItem().text(0) == "Haircut":
            break
        qtbot.keyClick(tree, Qt.Key.Key_Down)
    qtbot.keyClick(view.catalog_browser, Qt.Key.Key_Return)
    assert [line.name for line in view.ticket.lines] == ["Haircut"]

    assert tab_stops(view.lines_view, len(SCREEN_ORDER) - 1) == SCREEN_ORDER[1:]

    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # Save
    qtbot.waitUntil(lambda: view.title_label.text() == "Ticket #1", timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)  # Send Invoice…
    [dialog] = [d for d in window.findChildren(QDialog, "sendInvoiceDialog") if d.isVisible()]
    qtbot.keyClick(dialog, Qt.Key.Key_Return)  # Send via Shareable Link is the default button
    assert QApplication.clipboard().text().startswith(store.url + "/pay/")
    qtbot.waitUntil(lambda: status_text(pos) == "Invoice sent · awaiting payment", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: pending_uploads(pos) == 0, timeout=WAIT_MS)
