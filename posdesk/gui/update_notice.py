"""The update notice: "an update is available" in the status bar, or a refusal below the minimum.

:class:`UpdateWatcher` asks the companion for its signed policy (:mod:`posdesk.sync.updates`) a little
after start-up and then every few hours, on the network lane (a :class:`~posdesk.gui.operations.QueryOp`,
never the database writer). Below the recommended version the status bar keeps a notice
(``updateNotice``); below the minimum a box says so and the POS closes (its tickets stay in the cache for the updated build). :func:`refuse_below_minimum`
applies the last remembered policy at start, so an outdated terminal refuses even while offline.
When IT opted the terminal in (:func:`posdesk.crash.sending_enabled`), each round also sends the crash
reports not yet sent.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from posdesk import crash
from posdesk.gui.operations import QueryOp
from posdesk.gui.qt import (
    QApplication,
    QLabel,
    QMainWindow,
    QObject,
    QTimer,
    QWidget,
    Signal,
)
from posdesk.gui.widgets import name, plain_label
from posdesk.sync.updates import Policy, UpdateNotice, Urgency, fetch, notice_for, remembered

if TYPE_CHECKING:
    from posdesk.gui.context import PosContext

log = logging.getLogger(__name__)
FIRST_CHECK_MS = 10_000
CHECK_EVERY_MS = 6 * 60 * 60 * 1000
REQUIRED_TITLE = "posdesk: update required"


def show_required(notice: UpdateNotice, parent: QWidget | None = None) -> None:
    from posdesk.gui.qt import QMessageBox, Qt  # PySide makes the class (and its enums) on first use

    box = name(QMessageBox(parent), "updateRequiredBox", "Update required")
    box.setIcon(QMessageBox.Icon.Critical)
    box.setWindowTitle(REQUIRED_TITLE)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(notice.text())
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # the URL can be copied
    box.exec()


def refuse_below_minimum(data_dir: Path | None = None) -> UpdateNotice | None:
    """At start: the remembered policy's refusal, shown, or None when this version may run."""
    policy = remembered(data_dir)
    notice = notice_for(policy) if policy is not None else None
    if notice is None or notice.urgency is not Urgency.REQUIRED:
        return None
    if QApplication.instance() is None:
        QApplication([])
    show_required(notice)
    return notice


class UpdateWatcher(QObject):
    """Checks the companion's update policy now and then; shows what it finds on ``window``."""

    checked = Signal(object)  # UpdateNotice | None, once shown (tests wait for it)

    def __init__(self, ctx: PosContext, window: QMainWindow, data_dir: Path) -> None:
        super().__init__(window)
        self.ctx = ctx
        self.window = window
        self.data_dir = data_dir
        self.label: QLabel | None = None
        self.notice: UpdateNotice | None = None
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check_now)

    def start(self, first_ms: int = FIRST_CHECK_MS) -> None:
        QTimer.singleShot(first_ms, self, self.check_now)
        self.timer.start(CHECK_EVERY_MS)

    def check_now(self) -> None:
        url = self.ctx.connection.url
        credential = self.ctx.vault.load(url) if url else None
        if not url or not credential:
            return  # not paired yet: the next round tries again
        data_dir = self.data_dir

        def ask() -> UpdateNotice | None:
            if crash.sending_enabled():  # the same round trip sends the crash reports IT opted in to
                try:
                    crash.upload_pending(url, credential)
                except Exception as exc:
                    log.info("crash reports not sent: %s", exc)
            policy: Policy | None
            try:
                policy = fetch(url, credential, data_dir)
            except Exception as exc:  # offline, an old companion without /updates, an untrusted answer
                log.info("update check: %s", exc)
                policy = remembered(data_dir)
            return notice_for(policy) if policy is not None else None

        QueryOp("check for updates", ask).success(self._show).run_in_background(self.ctx)

    def _show(self, notice: UpdateNotice | None) -> None:
        self.notice = notice
        if notice is not None and notice.urgency is Urgency.AVAILABLE:
            if self.label is None:
                self.label = name(plain_label(), "updateNotice", "Update available")
                self.window.statusBar().addPermanentWidget(self.label)
            self.label.setText(notice.text())
            self.label.setToolTip(notice.text())
        elif self.label is not None:
            self.label.setText("")
        self.checked.emit(notice)
        if notice is not None and notice.urgency is Urgency.REQUIRED:
            log.error("%s", notice.text())
            show_required(notice, self.window)
            self.window.close()


def watch_for_updates(ctx: PosContext, window: QMainWindow, data_dir: Path) -> UpdateWatcher:
    """Check the companion's update policy a little after start-up, then every few hours."""
    watcher = UpdateWatcher(ctx, window, data_dir)
    watcher.start()
    return watcher
