"""A windowed build has no standard streams: the POS, its embedded companion and its self-test still work.

PyInstaller's windowed builds (``posdesk.exe``, the macOS ``.app``) start with ``sys.stdin``,
``sys.stdout`` and ``sys.stderr`` set to None. These tests start the POS exactly that way: a small
launcher sets the three to None, then calls the same ``main()`` the frozen entry point calls.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from posdesk import __version__
from posdesk.companion.embedded import start_embedded

LAUNCHER = """
import sys
sys.stdin = sys.stdout = sys.stderr = None
from posdesk.gui.__main__ import main
raise SystemExit(main(sys.argv[1:]))
"""


def run_windowed(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    launcher = tmp_path / "windowed_launcher.py"
    launcher.write_text(LAUNCHER, encoding="utf-8")
    env = dict(os.environ, POSDESK_DATA_DIR=str(tmp_path / "data"))
    env.pop("QT_QPA_PLATFORM", None)  # the self-test goes offscreen by itself
    env.pop("DISPLAY", None)
    return subprocess.run(
        [sys.executable, str(launcher), *args],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_the_self_test_passes_with_no_standard_streams(tmp_path: Path) -> None:
    result = run_windowed(tmp_path, "--self-test")
    log = (tmp_path / "data" / "logs" / "posdesk.log").read_text("utf-8")
    assert result.returncode == 0, log[-4000:]
    assert "demo companion not started" not in log
    assert "posdesk self-test: ok" in log
    # What the self-test prints is kept where IT can read it: there was no stdout to print it on.
    console = (tmp_path / "data" / "logs" / "console.txt").read_text("utf-8").strip().splitlines()
    assert console[-1] == "posdesk self-test: ok"
    assert any("ok   main window with the embedded companion" in line for line in console)


def test_version_with_no_standard_streams_is_written_to_the_console_file(tmp_path: Path) -> None:
    result = run_windowed(tmp_path, "--version")
    assert result.returncode == 0
    console = tmp_path / "data" / "logs" / "console.txt"
    assert console.read_text("utf-8").strip() == f"posdesk {__version__}"


def test_the_embedded_companion_starts_with_no_standard_streams(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    companion = start_embedded(tmp_path)
    try:
        assert httpx.get(f"{companion.url}/healthz", timeout=10).status_code == 200
    finally:
        companion.stop()
