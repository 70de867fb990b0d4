"""An older POS started on a cache a newer build migrated: it explains, offers the copy from before the
update, and either restores it and opens, or quits leaving the file as it was (exit status 3)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from posdesk.gui import __main__ as pos_main
from posdesk.gui.main_window import MainWindow
from posdesk.gui.qt import QApplication, QMessageBox, QPushButton, QTimer
from posdesk.gui.schema_notice import offer_restore
from posdesk.store import Database
from posdesk.store.backups import SchemaTooNew, back_up, backups_of
from posdesk.store.migrations.head import HEAD_REVISION
from tests.gui import in_process

main_in_process = in_process.main_in_process  # a fixture: main() run in this process, then undone

NEWER = "9001"


@pytest.fixture
def rolled_back(main_in_process: Path) -> Path:
    """A data folder whose cache the next release migrated after copying it; this build is older."""
    path = main_in_process / "posdesk.db"
    Database.open(path).close()
    back_up(path, HEAD_REVISION)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = ?", (NEWER,))
    return path


def answer_the_box(button: str, seen: list[str]) -> QTimer:
    """Click ``button`` in the schema box when it shows; close the main window once it opens."""

    def look() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and box.objectName() == "schemaTooNewBox":
            seen.append(box.text())
            box.findChild(QPushButton, button).click()
            return
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, MainWindow) and widget.isVisible():
                seen.append("main window")
                # exit(), not quit(): quit() posts an event, and a second one left over would end the
                # next event loop of this process (another test's wait) at once.
                timer.stop()
                QApplication.exit(0)
                return

    timer = QTimer()
    timer.timeout.connect(look)
    timer.start(50)
    return timer


def test_the_box_explains_and_offers_the_copy(qtbot, rolled_back: Path) -> None:
    with pytest.raises(SchemaTooNew) as raised:
        Database.open(rolled_back)
    seen: list[str] = []
    timer = answer_the_box("restoreCacheButton", seen)
    assert offer_restore(raised.value) is True
    timer.stop()
    assert "newer version of posdesk" in seen[0] and "restore the copy" in seen[0]


def test_quitting_leaves_the_file_and_says_why_on_stderr(qtbot, rolled_back: Path, capsys) -> None:
    seen: list[str] = []
    timer = answer_the_box("quitButton", seen)
    status = pos_main.main(["--companion-url", "http://127.0.0.1:9"])
    timer.stop()
    assert status == pos_main.SCHEMA_TOO_NEW == 3
    assert len(seen) == 1 and NEWER in seen[0]
    assert "posdesk: This terminal's data" in capsys.readouterr().err
    with sqlite3.connect(rolled_back) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone()[0] == NEWER


# Restoring goes on to run the POS and its event loop: that runs in a child process, as a cashier starts it.
# exec() and quit() on the test session's own QApplication would leave its timers dead for later tests.
RESTORE_AND_OPEN = """
import json
from posdesk.gui import __main__ as pos_main
from posdesk.gui.main_window import MainWindow
from posdesk.gui.qt import QApplication, QMessageBox, QPushButton, QTimer

app = QApplication([])
seen = []

def look():
    box = QApplication.activeModalWidget()
    if isinstance(box, QMessageBox) and box.objectName() == "schemaTooNewBox":
        seen.append(box.text())
        box.findChild(QPushButton, "restoreCacheButton").click()
        return
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, MainWindow) and widget.isVisible():
            seen.append("main window")
            QApplication.quit()

timer = QTimer()
timer.timeout.connect(look)
timer.start(50)
status = pos_main.main(["--companion-url", "http://127.0.0.1:9"])
print("RESULT " + json.dumps({"status": status, "seen": seen}))
"""


def test_restoring_opens_the_pos_on_the_copy(rolled_back: Path) -> None:
    env = {**os.environ, "POSDESK_DATA_DIR": str(rolled_back.parent), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", RESTORE_AND_OPEN], env=env, capture_output=True, text=True, timeout=180
    )
    results = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert results, f"the POS ended without a result (exit {done.returncode}):\n{done.stderr[-3000:]}"
    result = json.loads(results[-1].removeprefix("RESULT "))
    assert result["status"] == 0
    assert "newer version of posdesk" in result["seen"][0]
    assert result["seen"][-1] == "main window"
    with Database.open(rolled_back) as database:
        assert database.stored_revision() == HEAD_REVISION
    kept_aside = [
        p for p in rolled_back.parent.glob("posdesk.db.newer-*") if not p.name.endswith(("-wal", "-shm"))
    ]
    assert len(kept_aside) == 1
    assert backups_of(rolled_back)  # the copy itself stays until newer ones replace it
