"""The POS hears of updates from its companion: a notice in the status bar, or a refusal below the
store's minimum, at once and on later starts even without the companion."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from posdesk.companion.config import UpdatePolicy
from posdesk.companion.embedded import EmbeddedCompanion, start_embedded
from posdesk.gui import __main__ as pos_main
from posdesk.gui.qt import QApplication, QLabel, QMessageBox, QTimer
from posdesk.gui.update_notice import UpdateWatcher
from posdesk.sync.client import pair
from posdesk.sync.updates import Urgency, remembered
from tests.gui import in_process
from tests.gui.conftest import Pos

main_in_process = in_process.main_in_process  # a fixture: main() run in this process, then undone


@pytest.fixture
def start_companion(tmp_path: Path) -> Iterator[Callable[[UpdatePolicy], tuple[EmbeddedCompanion, str]]]:
    """Starts a companion whose operator set ``policy``, and pairs a terminal with it."""
    started: list[EmbeddedCompanion] = []

    def start(policy: UpdatePolicy) -> tuple[EmbeddedCompanion, str]:
        running = start_embedded(tmp_path / "companion", update_policy=policy)
        started.append(running)
        return running, pair(running.url, running.pairing_code, "Front desk").credential

    yield start
    for running in started:
        running.stop()


def close_boxes(seen: list[str]) -> QTimer:
    def look() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and box.objectName() == "updateRequiredBox":
            seen.append(box.text())
            box.accept()

    timer = QTimer()
    timer.timeout.connect(look)
    timer.start(50)
    return timer


def watch(pos: Pos, companion: tuple[EmbeddedCompanion, str], data_dir: Path, qtbot) -> UpdateWatcher:
    running, credential = companion
    pos.ctx.connection.url = running.url
    pos.ctx.vault.keep_for_session(running.url, credential)
    watcher = UpdateWatcher(pos.ctx, pos.window, data_dir)
    with qtbot.waitSignal(watcher.checked, timeout=15_000):
        watcher.check_now()
    return watcher


def test_a_recommended_version_shows_a_notice_in_the_status_bar(
    qtbot, pos: Pos, start_companion, tmp_path: Path
) -> None:
    companion = start_companion(
        UpdatePolicy(recommended="99.0.0", url="https://downloads.example.com/posdesk-99.0.0.pkg")
    )
    watch(pos, companion, tmp_path, qtbot)
    window = pos.window
    label = window.findChild(QLabel, "updateNotice")
    assert label is not None
    qtbot.waitUntil(label.isVisible, timeout=2000)
    assert label.text() == (
        "An update is available: posdesk 99.0.0 from https://downloads.example.com/posdesk-99.0.0.pkg."
    )
    assert window.isVisible()


def test_below_the_minimum_the_pos_says_so_and_closes_then_refuses_to_start(
    qtbot, pos: Pos, start_companion, main_in_process: Path, capsys
) -> None:
    tmp_path = main_in_process
    companion = start_companion(UpdatePolicy(minimum="99.0.0"))
    seen: list[str] = []
    timer = close_boxes(seen)
    watcher = watch(pos, companion, tmp_path, qtbot)
    window = pos.window
    assert watcher.notice is not None and watcher.notice.urgency is Urgency.REQUIRED
    assert seen and "version 99.0.0 or newer is required" in seen[0]
    assert not window.isVisible()

    # The next start, with the companion gone: the remembered policy still refuses.
    companion[0].stop()
    assert remembered(tmp_path) is not None
    try:
        status = pos_main.main(["--companion-url", "http://127.0.0.1:9"])
    finally:
        timer.stop()
    assert status == pos_main.BELOW_MINIMUM == 4
    assert len(seen) == 2
    assert "version 99.0.0 or newer is required" in capsys.readouterr().err
