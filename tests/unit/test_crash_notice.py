"""The cashier is told, in a message box, that a crash report was written and where."""

from __future__ import annotations

import threading

from posdesk import crash
from posdesk.gui.__main__ import show_crash_notice  # what the POS installs (loads the About box's module)
from posdesk.gui.qt import QApplication, QMessageBox, QTimer


def test_an_exception_in_a_slot_shows_where_the_report_is(qtbot) -> None:
    seen: list[str] = []

    def read_and_close() -> None:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, QMessageBox) and widget.isVisible():
                seen.append(widget.text())
                widget.close()

    handler = crash.install(on_crash=show_crash_notice)
    try:
        QTimer.singleShot(50, read_and_close)
        try:
            raise RuntimeError("the ticket view fell over")
        except RuntimeError as exc:
            path = handler.handle(type(exc), exc, exc.__traceback__)
    finally:
        handler.uninstall()
    assert path is not None and path.is_file()
    [text] = seen
    assert "Saved tickets are safe" in text and str(path) in text


def test_a_crash_on_another_thread_shows_no_widget(qtbot) -> None:
    shown: list[bool] = []
    worker = threading.Thread(
        target=lambda: shown.append(show_crash_notice(crash.report_dir() / "x.txt") is None)
    )
    worker.start()
    worker.join()
    assert shown == [True]
    assert not [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
