"""The app knows its version (one source of truth) and says it, with where its files are, in Help > About."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from posdesk import __version__, crash, logs, paths
from posdesk.gui.about_dialog import AboutDialog
from posdesk.gui.app import start_pos
from posdesk.gui.qt import QLabel, QPushButton

ROOT = Path(__file__).resolve().parents[2]


def test_the_version_has_one_source_of_truth() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "posdesk.__version__"}
    assert __version__.count(".") == 2 and all(part.isdigit() for part in __version__.split("."))
    # The installers take it from the same place: no version number is written in them.
    assert __version__ not in (ROOT / "packaging" / "windows" / "posdesk.iss").read_text("utf-8")


def test_both_programs_print_their_version(tmp_path) -> None:
    env = dict(os.environ, POSDESK_DATA_DIR=str(tmp_path))
    for module, program in (("posdesk.gui", "posdesk"), ("posdesk.companion.cli", "posdesk-companion")):
        result = subprocess.run(
            [sys.executable, "-m", module, "--version"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"{program} {__version__}"


def test_about_shows_name_version_qt_data_folder_and_log_file(qtbot) -> None:
    dialog = AboutDialog()
    qtbot.addWidget(dialog)
    texts = [label.text() for label in dialog.findChildren(QLabel)]
    assert f"posdesk {__version__}" in texts
    assert any(text.startswith("Qt 6.") and "PySide6 6." in text for text in texts)
    assert dialog.data_label.text() == str(paths.data_dir())
    assert dialog.log_label.text() == str(logs.log_file("posdesk"))
    assert str(paths.data_dir() / crash.REPORT_FOLDER) in texts


def test_the_open_button_opens_the_data_folder_or_says_where_it_is(qtbot) -> None:
    opened: list[Path] = []
    dialog = AboutDialog(opener=lambda folder: opened.append(folder) or False)
    qtbot.addWidget(dialog)
    button = dialog.findChild(QPushButton, "openDataFolderButton")
    button.click()
    assert opened == [paths.data_dir()]
    assert dialog.status.text() == f"Could not open the folder; it is {paths.data_dir()}"


def test_help_about_is_in_the_main_window_menu(qtbot, tmp_path) -> None:
    pos = start_pos(companion_url="http://127.0.0.1:9", data_dir=tmp_path)  # offline: no companion needed
    try:
        window = pos.window
        qtbot.addWidget(window)
        menus = {action.text().replace("&", ""): action.menu() for action in window.menuBar().actions()}
        about = [a for a in menus["Help"].actions() if a.text().replace("&", "") == "About posdesk"]
        assert len(about) == 1
        about[0].trigger()
        [dialog] = [d for d in window.findChildren(AboutDialog) if d.isVisible()]
        assert dialog.version_label.text() == __version__
        dialog.close()
    finally:
        pos.stop()
