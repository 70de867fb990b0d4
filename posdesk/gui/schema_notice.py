"""The box an older POS shows when its cache was migrated by a newer build (a rolled-back install).

Anki's "file too new" is the model: say what happened in the cashier's words, and offer the one safe
way back (the copy taken before the update, :mod:`posdesk.store.backups`) or quitting to reinstall.
"""

from __future__ import annotations

from posdesk.gui.qt import QApplication, QMessageBox, Qt
from posdesk.gui.widgets import name
from posdesk.store.backups import SchemaTooNew

TITLE = "posdesk: this terminal's data is from a newer version"


def offer_restore(error: SchemaTooNew) -> bool:
    """Explain ``error``; True when the user chose to restore the copy taken before the update."""
    if QApplication.instance() is None:
        QApplication([])
    box = name(QMessageBox(), "schemaTooNewBox", "This terminal's data is from a newer version")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(TITLE)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(error.explanation())
    restore = None
    if error.backup is not None:
        restore = name(
            box.addButton("Restore the copy from before the update", QMessageBox.ButtonRole.AcceptRole),
            "restoreCacheButton",
        )
    quit_button = name(box.addButton("Quit", QMessageBox.ButtonRole.RejectRole), "quitButton")
    box.setDefaultButton(quit_button)  # restoring is a choice, never what Enter does by accident
    box.exec()
    return restore is not None and box.clickedButton() is restore
