"""Started the way ``posdesk`` starts, the POS paints its first frame before the start-up thread (imports,
the demo companion) starts connecting, and a window started without a frame (minimized) still connects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from posdesk.gui.app import CONNECT_LATEST_MS, PosApp, open_pos
from posdesk.gui.qt import QLabel
from tests.gui.conftest import set_up_terminal

UNREACHABLE = "http://127.0.0.1:9"
NOT_PAIRED = "● Not paired: pair this terminal in Manage › Settings"
pytestmark = pytest.mark.usefixtures("memory_keyring")


@pytest.fixture
def pos(qtbot, tmp_path: Path) -> Iterator[PosApp]:
    """A terminal configured for a companion it has no credential for, built as ``run`` builds it."""
    data_dir = tmp_path / "till"
    set_up_terminal(data_dir, companion_url=UNREACHABLE)
    made = open_pos(companion_url=UNREACHABLE, data_dir=data_dir, load_later=True)
    qtbot.addWidget(made.window)
    yield made
    made.stop()


def connection_text(pos: PosApp) -> str:
    return pos.window.findChild(QLabel, "connectionIndicator").text()


def test_connecting_starts_once_the_first_frame_is_painted_then_says_not_paired(qtbot, pos: PosApp) -> None:
    pos.connect_after_first_frame()
    qtbot.wait(50)
    assert pos.starter is None  # nothing painted yet: nothing competes with the first frame
    pos.window.show()
    qtbot.waitUntil(lambda: pos.starter is not None, timeout=5_000)
    assert pos.window.painted
    qtbot.waitUntil(lambda: connection_text(pos) == NOT_PAIRED, timeout=10_000)


def test_a_window_not_painted_connects_all_the_same_and_only_once(qtbot, pos: PosApp) -> None:
    pos.connect_after_first_frame()
    qtbot.waitUntil(lambda: pos.starter is not None, timeout=CONNECT_LATEST_MS + 5_000)
    assert not pos.window.painted  # never shown (a window started minimized)
    starter = pos.starter
    pos.window.show()
    qtbot.waitUntil(lambda: pos.window.painted, timeout=5_000)
    qtbot.wait(50)
    assert pos.starter is starter
    qtbot.waitUntil(lambda: connection_text(pos) == NOT_PAIRED, timeout=10_000)
