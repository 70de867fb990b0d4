"""The first screen does without ``Qt``, Qt's namespace of enums (DESIGN.md section 7: start-up within 2x
of a bare window): its first touch makes 93 Python enums, ~25 ms of every launch. What the first screen
needs of it is named another way (``posdesk.gui.qt``); these tests keep it so and check those names
mean what ``Qt`` would have said."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC
from pathlib import Path

import pytest

from posdesk import dataclass_code
from posdesk.core.ticket import TicketState
from posdesk.gui import qt
from posdesk.gui.qt import QLabel, QListWidget, Qt, QTreeWidget
from posdesk.gui.ticket.services import ServicesPanel
from posdesk.gui.widgets import set_keys
from tests.gui.conftest import Pos

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = "http://127.0.0.1:9"

# The real program with the start-up probe; at its ready line, whether ``Qt`` was made until then, and
# how many of its dataclasses' functions it compiled rather than took from the last start's kept code
# (posdesk.dataclass_code).
PROBED_START = """
import sys
from posdesk import dataclass_code
from posdesk.gui.__main__ import main

install = dataclass_code.install


def install_then_watch(data_dir):  # the window's modules are imported right after, as they always are
    install(data_dir)
    import PySide6.QtCore as core
    import PySide6.QtWidgets as widgets
    import posdesk.gui.app as app

    report_ready = app._report_ready

    def report(qapp, window):
        print("qt-namespace-made", "Qt" in vars(core), flush=True)
        # Dialogs' classes: PySide makes all of QtWidgets' to name an unexported class (viewport()).
        print("dialog-classes-made", sorted({"QMessageBox", "QFileDialog", "QWizard"} & set(vars(widgets))))
        print("dataclass-functions-compiled", dataclass_code.compiled_count, flush=True)
        report_ready(qapp, window)

    app._report_ready = report


dataclass_code.install = install_then_watch
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("mode", ["configured", "demo"])
def test_the_window_gets_to_ready_without_making_the_qt_namespace_and_keeps_its_dataclass_code(
    tmp_path: Path, mode: str
) -> None:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "POSDESK_STARTUP_PROBE": "1",
        "POSDESK_DATA_DIR": str(tmp_path / "data"),
    }
    args = ["--companion-url", UNREACHABLE] if mode == "configured" else []
    for launch in ("first", "second"):  # the first creates the cache (demo: the sample data)
        done = subprocess.run(
            [sys.executable, "-c", PROBED_START, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        lines = done.stdout.splitlines()
        assert any(line.startswith("ready ") and line.endswith("shown=1") for line in lines), done.stdout
        assert "qt-namespace-made False" in lines, f"{launch} launch made Qt's namespace: {done.stdout}"
        assert "dialog-classes-made []" in lines, f"{launch} launch made dialogs' classes: {done.stdout}"
        compiled = next(
            int(line.split()[1]) for line in lines if line.startswith("dataclass-functions-compiled")
        )
        if launch == "first":  # compiled, and kept for the next start
            assert compiled > 100 and (tmp_path / "data" / dataclass_code.FILE).exists()
        else:
            assert compiled == 0, "the second launch compiled what the first one kept"


def test_the_first_screen_s_values_are_qt_s_own() -> None:
    assert Qt.ItemDataRole.UserRole.value == qt.USER_ROLE
    assert Qt.ItemDataRole.TextAlignmentRole.value == qt.TEXT_ALIGNMENT_ROLE
    assert (Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value == qt.FIGURE_ALIGNMENT
    assert Qt.TextFlag.TextWordWrap.value == qt.TEXT_WORD_WRAP


def test_a_property_set_by_its_keys_names_takes_that_value_and_a_wrong_name_is_an_error(qtbot) -> None:
    label = QLabel("12.50")
    qtbot.addWidget(label)
    set_keys(label, "alignment", "AlignRight|AlignVCenter")
    assert label.alignment() == Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
    with pytest.raises(ValueError, match="AlignRite"):
        set_keys(label, "alignment", "AlignRite")
    with pytest.raises(ValueError, match="alignmnt"):
        set_keys(label, "alignmnt", "AlignRight")


def test_amounts_on_the_first_screen_are_aligned_right(pos: Pos) -> None:
    tree = pos.window.findChild(QTreeWidget, "catalogBrowser")
    price = tree.topLevelItem(0).child(0)
    assert price.textAlignment(1) == (Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value
    balance = pos.window.findChild(QLabel, "balanceDueLabel")
    assert balance.alignment() == Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def test_a_catalog_group_s_caption_is_never_selected(qtbot, pos: Pos) -> None:
    tree = pos.window.findChild(QTreeWidget, "catalogBrowser")
    caption, item = tree.topLevelItem(0), tree.topLevelItem(0).child(0)
    tree.scrollToItem(item)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=tree.visualItemRect(item).center())
    assert tree.selectedItems() == [item]
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=tree.visualItemRect(caption).center())
    assert tree.selectedItems() == []
    tree.setCurrentItem(item)
    assert tree.selectedItems() == [item]
    qtbot.keyClick(tree, Qt.Key.Key_Up)  # onto the caption above it
    assert tree.currentItem() is caption and tree.selectedItems() == []
    qtbot.mouseClick(pos.window.findChild(qt.QPushButton, "addItemButton"), Qt.MouseButton.LeftButton)
    assert pos.view.ticket.lines == [] and pos.view.ticket.state is TicketState.OPEN  # a caption adds nothing


def test_a_day_without_appointments_says_so_in_a_note_not_a_row(qtbot, pos: Pos) -> None:
    note = pos.window.findChild(QLabel, "servicesEmptyNote")
    listing = pos.window.findChild(QListWidget, "servicesPanel")
    assert listing.count() > 0 and not note.isVisible()  # today's appointments
    services = pos.view.findChild(ServicesPanel)
    services.show_appointments([], UTC)
    assert note.isVisible() and note.text() == "No appointments today" and note.accessibleName()
    assert listing.count() == 0 and listing.isVisible()  # still in its place, and in the tab order
    assert note.parentWidget() is listing and listing.rect().contains(note.geometry())  # inside the list
    pos.view.reload_services()
    assert listing.count() > 0 and not note.isVisible()
