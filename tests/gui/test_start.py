"""Starting posdesk: no display gives one clear line; the self-test starts and exits cleanly."""

from __future__ import annotations

import os
import subprocess
import sys

from posdesk.gui.__main__ import display_problem


def test_without_a_display_posdesk_says_so_and_exits_2(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["POSDESK_DATA_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "posdesk.gui"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("posdesk needs a display: ")
    assert "Traceback" not in result.stderr and "Aborted" not in result.stderr


def test_display_check_is_linux_only_and_honours_every_way_to_get_a_display() -> None:
    assert display_problem({}, "linux")
    assert not display_problem({"DISPLAY": ":0"}, "linux")
    assert not display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not display_problem({}, "win32") and not display_problem({}, "darwin")


def test_self_test_starts_the_pos_offscreen_without_a_companion(tmp_path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", POSDESK_DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "posdesk.gui", "--self-test", "--companion-url", "http://127.0.0.1:9"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "posdesk self-test: ok" in result.stdout
    assert (tmp_path / "posdesk.db").is_file()
