"""Help > About: what this posdesk is (version, Qt), where it keeps its files; and the crash notice.

Support asks two questions first: "which version?" and "can you send me the log?". The About dialog
answers both, with a button that opens the data folder (the local database, ``logs/`` and
``crash-reports/``) in the system's file manager.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

# Not yet re-exported by posdesk.gui.qt: opening a folder and the Qt run-time version.
from PySide6 import __version__ as PYSIDE_VERSION
from PySide6.QtCore import QUrl, qVersion
from PySide6.QtGui import QDesktopServices

from posdesk import __version__, crash, logs, paths
from posdesk.gui.qt import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    Qt,
    QThread,
    QVBoxLayout,
    QWidget,
)
from posdesk.gui.widgets import name, plain_label

APP_NAME = "posdesk"
TAGLINE = "Point of sale with pay-by-link invoices"


def open_folder(folder: Path) -> bool:
    """Show ``folder`` in the system's file manager; False when the system could not."""
    folder.mkdir(parents=True, exist_ok=True)
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


class AboutDialog(QDialog):
    """Name, version, Qt and PySide versions, the data folder (with a button to open it) and the log file."""

    def __init__(
        self, parent: QWidget | None = None, *, opener: Callable[[Path], bool] = open_folder
    ) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle(f"About {APP_NAME}")
        self._opener = opener
        self.data_folder = paths.data_dir()
        self.log_file = logs.log_file("posdesk")

        layout = QVBoxLayout(self)
        title = plain_label(f"{APP_NAME} {__version__}")
        name(title, "aboutTitle", "Name and version")
        title.setStyleSheet("font-size: 16pt; font-weight: 600;")
        layout.addWidget(title)
        layout.addWidget(plain_label(TAGLINE))

        form = QFormLayout()
        self.version_label = self._value(__version__, "aboutVersion")
        form.addRow("Version:", self.version_label)
        self.qt_label = self._value(f"Qt {qVersion()}, PySide6 {PYSIDE_VERSION}", "aboutQtVersion")
        form.addRow("Qt:", self.qt_label)
        import platform  # here: this module is imported before the first frame, the dialog opened later

        form.addRow(
            "Python:", self._value(f"{platform.python_version()} on {platform.system()}", "aboutPython")
        )
        self.data_label = self._value(str(self.data_folder), "aboutDataFolder")
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.data_label, 1)
        self.open_button = QPushButton("Open data folder")
        name(self.open_button, "openDataFolderButton", "Open data folder")
        self.open_button.clicked.connect(self._on_open_clicked)
        folder_row.addWidget(self.open_button)
        form.addRow("Data folder:", folder_row)
        self.log_label = self._value(str(self.log_file), "aboutLogFile")
        form.addRow("Log file:", self.log_label)
        form.addRow(
            "Crash reports:", self._value(str(self.data_folder / crash.REPORT_FOLDER), "aboutCrashFolder")
        )
        layout.addLayout(form)

        self.status = plain_label()
        name(self.status, "aboutStatus", "About status")
        layout.addWidget(self.status)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    @staticmethod
    def _value(text: str, object_name: str) -> QLabel:
        label = plain_label(text)
        name(label, object_name)
        # Selectable, so the cashier can copy it into a support email.
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.setWordWrap(True)
        return label

    def _on_open_clicked(self) -> None:
        if not self._opener(self.data_folder):
            self.status.setText(f"Could not open the folder; it is {self.data_folder}")


def crash_message(report: Path) -> str:
    return (
        "posdesk ran into a problem it did not expect.\n\n"
        "Saved tickets are safe. If something looks wrong, restart posdesk.\n\n"
        f"A report was written to:\n{report}\n\nPlease send it to your support contact."
    )


def show_crash_notice(report: Path) -> None:
    """Tell the cashier that a crash report was written, and where. Only on the UI thread, with a QApplication.

    Crashes on other threads are written and logged, and not shown: widgets belong to the UI thread.
    """
    app = QApplication.instance()
    if app is None or QThread.currentThread() != app.thread():
        return
    box = QMessageBox(QMessageBox.Icon.Warning, "posdesk: unexpected problem", crash_message(report))
    box.setObjectName("crashNotice")
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.exec()
