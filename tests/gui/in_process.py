"""Running the POS's ``main()`` inside the test process, and putting back what it changes.

``main()`` installs the crash hooks and the log handlers, and sets the root logger's level; left in
place they would change what later tests see (``caplog`` would catch httpx's INFO lines, for one).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def main_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The data folder ``main()`` will use; hooks, handlers and levels restored afterwards."""
    monkeypatch.setenv("POSDESK_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    root = logging.getLogger()
    level = root.level
    try:
        yield tmp_path
    finally:
        _close_windows_left_open()
        for handler in list(root.handlers):
            if getattr(handler, "posdesk", False):
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)
        logging.captureWarnings(False)


def _close_windows_left_open() -> None:
    """``run()`` leaves its main window open when the event loop ends; close it without the app's
    "last window closed" quit, which would end the next test's event loop."""
    from posdesk.gui.main_window import MainWindow
    from posdesk.gui.qt import QApplication

    app = QApplication.instance()
    if app is None:
        return
    keep = QApplication.quitOnLastWindowClosed()
    QApplication.setQuitOnLastWindowClosed(False)
    try:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, MainWindow):
                widget.close()
                widget.deleteLater()
        QApplication.processEvents()
    finally:
        QApplication.setQuitOnLastWindowClosed(keep)
