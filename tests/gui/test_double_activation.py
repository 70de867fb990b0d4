"""One item per double-click in the catalog and the Services panel; Enter still adds."""

from __future__ import annotations

from posdesk.gui.qt import QListWidget, Qt, QTreeWidget
from tests.gui.conftest import Pos
from tests.gui.test_new_ticket_view import catalog_row, services_row


def double_click(qtbot, viewport, where) -> None:
    """What Qt 6 delivers for a real double-click: press, release, press, double-click, release."""
    left = Qt.MouseButton.LeftButton
    qtbot.mousePress(viewport, left, pos=where)
    qtbot.mouseRelease(viewport, left, pos=where)
    qtbot.mousePress(viewport, left, pos=where)
    qtbot.mouseDClick(viewport, left, pos=where)
    qtbot.mouseRelease(viewport, left, pos=where)


def test_double_clicking_a_catalog_item_adds_it_once_and_enter_adds_it_again(qtbot, pos: Pos) -> None:
    tree, row = catalog_row(pos, "Shampoo")
    tree.scrollToItem(row)
    where = tree.visualItemRect(row).center()
    double_click(qtbot, tree.viewport(), where)
    assert [line.name for line in pos.view.ticket.lines] == ["Shampoo"]

    tree.setCurrentItem(row)
    tree.setFocus()
    qtbot.keyClick(tree, Qt.Key.Key_Return)
    assert [line.name for line in pos.view.ticket.lines] == ["Shampoo", "Shampoo"]


def test_double_clicking_an_appointment_puts_it_on_once_without_a_complaint(qtbot, pos: Pos) -> None:
    messages: list[str] = []
    pos.view.message.connect(messages.append)
    panel, row = services_row(pos, "Bob Plain")
    panel.scrollToItem(row)
    double_click(qtbot, panel.viewport(), panel.visualItemRect(row).center())
    assert [line.appointment_id for line in pos.view.ticket.lines] == ["appt_bob"]
    assert messages == []


def test_enter_on_an_appointment_puts_it_on_the_ticket(qtbot, pos: Pos) -> None:
    panel = pos.window.findChild(QListWidget, "servicesPanel")
    _panel, row = services_row(pos, "Ada Lovelace")
    panel.setCurrentItem(row)
    panel.setFocus()
    qtbot.keyClick(panel, Qt.Key.Key_Return)
    assert [line.appointment_id for line in pos.view.ticket.lines] == ["appt_ada"]
    assert pos.window.findChild(QTreeWidget, "catalogBrowser") is not None
