"""The POS on a small terminal, or a large one at 200%: at 800x540 (logical) the totals, Save and
Send Invoice stay in view, side panels give way, catalog names show in full, and a disabled Send Invoice
says why beside it. The same checks run again in a child process with ``QT_SCALE_FACTOR=2``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from posdesk.gui.main_window import MINIMUM_SIZE
from posdesk.gui.qt import QLabel, QPoint, QPushButton, QRect, Qt, QTreeWidget, QWidget
from tests.gui.conftest import Pos, wait_idle
from tests.gui.test_new_ticket_view import add_from_catalog, catalog_row, services_row

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("pos_look")  # the POS's own look, as a cashier sees it


def fully_shown(widget: QWidget, window: QWidget) -> bool:
    """Visible, not cut by its parents, and inside the window."""
    if not widget.isVisible() or widget.visibleRegion().boundingRect() != widget.rect():
        return False
    corner = widget.mapTo(window, QPoint(0, 0))
    return window.rect().contains(QRect(corner, widget.size()))

def small(qtbot, pos: Pos) -> None:
    pos.window.resize(*MINIMUM_SIZE)
    qtbot.waitUntil(lambda: pos.window.width() == MINIMUM_SIZE[0] and pos.window.height() == MINIMUM_SIZE[1])
    qtbot.wait(50)

def test_the_window_can_be_as_small_as_800_by_540(pos: Pos) -> None:
    assert (pos.window.minimumWidth(), pos.window.minimumHeight()) == (800, 540)
    scale = float(os.environ.get("QT_SCALE_FACTOR") or 1)
    assert pos.window.devicePixelRatio() == scale

def test_totals_and_both_actions_stay_in_view_at_800x540(qtbot, pos: Pos) -> None:
    small(qtbot, pos)
    panel, row = services_row(pos, "Bob Plain")
    qtbot.mouseClick(panel.viewport(), Qt.MouseButton.LeftButton, pos=panel.visualItemRect(row).center())
    for name in ("Shampoo", "Haircut", "Blowout"):
        if pos.view.catalog.items and any(i.name == name for i in pos.view.catalog.items):
            add_from_catalog(qtbot, pos, name)
    qtbot.wait(50)
    window = pos.window
    balance = window.findChild(QLabel, "balanceDueLabel")
    save, send = window.findChild(QPushButton, "saveTicketButton"), window.findChild(QPushButton, "sendInvoiceButton")
    for widget in (balance, save, send):
        assert fully_shown(widget, window), widget.objectName()
    assert save.isEnabled() and send.isEnabled()
    # No total squeezed below the height its text needs.
    for label in pos.view.total_values.values():
        if label.isVisible():
            assert label.height() >= label.sizeHint().height(), label.objectName()
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, pos.ctx)
    assert fully_shown(balance, window) and fully_shown(send, window)

def test_side_panels_give_the_ticket_room_on_a_narrow_window(qtbot, pos: Pos) -> None:
    catalog, services = pos.view.catalog, pos.view.services
    assert catalog.isVisible() and services.isVisible()  # wide: both
    small(qtbot, pos)
    toggle = pos.window.findChild(QPushButton, "sidePanelToggleButton")
    assert toggle.isVisible() and catalog.isVisible() and not services.isVisible()
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)
    assert services.isVisible() and not catalog.isVisible() and toggle.text() == "Catalog"
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)
    assert catalog.isVisible() and not services.isVisible()

def test_catalog_names_show_in_full_in_a_narrow_pane(qtbot, pos: Pos) -> None:
    small(qtbot, pos)
    tree = pos.window.findChild(QTreeWidget, "catalogBrowser")
    width = tree.columnWidth(0) - 2 * tree.indentation() - 8
    checked = 0
    for item in pos.view.catalog.items:
        _, row = catalog_row(pos, item.name)
        needed = tree.fontMetrics().boundingRect(QRect(0, 0, width, 10_000), Qt.TextFlag.TextWordWrap, row.text(0))
        assert tree.visualItemRect(row).height() >= needed.height(), item.name
        checked += 1
    assert checked > 3

def test_a_disabled_send_invoice_says_why_beside_it(qtbot, pos: Pos) -> None:
    add_from_catalog(qtbot, pos, pos.view.catalog.items[0].name)  # a walk-in with a line
    send = pos.window.findChild(QPushButton, "sendInvoiceButton")
    reason = pos.window.findChild(QLabel, "sendInvoiceReason")
    assert not send.isEnabled()
    assert reason.isVisible() and reason.text() == "Add a client to send an invoice"
    panel, row = services_row(pos, "Bob Plain")
    qtbot.mouseClick(panel.viewport(), Qt.MouseButton.LeftButton, pos=panel.visualItemRect(row).center())
    assert send.isEnabled() and not reason.isVisible()

def test_the_same_at_200_percent_scale(tmp_path: Path) -> None:
    """Qt reads QT_SCALE_FACTOR when the application starts: the checks above run in a child process."""
    if os.environ.get("QT_SCALE_FACTOR"):
        return  # already the child: its own checks are the ones above
    env = {**os.environ, "QT_SCALE_FACTOR": "2", "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider", "-k", "not 200_percent"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout



def test_settings_labels_sit_level_with_their_fields(qtbot, pos: Pos) -> None:
    assert level_rows(qtbot, pos) >= 6


def level_rows(qtbot, pos: Pos) -> int:
    from posdesk.gui.qt import QFormLayout
    from posdesk.gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(pos.ctx, pos.window)
    qtbot.addWidget(dialog)
    dialog.show()
    checked = 0
    for tab in range(dialog.tabs.count()):
        dialog.tabs.setCurrentIndex(tab)
        qtbot.wait(20)
        for form in dialog.tabs.widget(tab).findChildren(QFormLayout):
            for row in range(form.rowCount()):
                label = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
                field = form.itemAt(row, QFormLayout.ItemRole.FieldRole)
                if label is None or field is None or not isinstance(label.widget(), QLabel) or not label.widget().text():
                    continue
                if field.widget() is None or not field.widget().isVisible():
                    continue
                label_middle = label.widget().geometry().center().y()
                field_middle = field.widget().geometry().center().y()
                assert abs(label_middle - field_middle) <= 2, label.widget().text()
                checked += 1
    return checked
