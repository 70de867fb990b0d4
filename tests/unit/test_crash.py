"""Crash reports: an unhandled exception leaves a readable, redacted report in the data folder."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from posdesk import __version__, crash

TOKEN = "Kq3VbX9tLm2ZpR7wYc4NhE8sJd6Fg1Ua"
KEY = "sk_live_51Habcdefghijklmnop0123456789"


def run_python(code: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, POSDESK_DATA_DIR=str(data_dir))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def reports(data_dir: Path) -> list[Path]:
    folder = data_dir / crash.REPORT_FOLDER
    return sorted(folder.glob("crash-*.txt")) if folder.is_dir() else []


def test_an_unhandled_exception_writes_a_report_with_time_version_platform_and_traceback(tmp_path) -> None:
    result = run_python(
        f"""
        from posdesk import crash
        crash.install()
        def close_ticket():
            raise ValueError("balance went negative on /pay/{TOKEN} using {KEY}")
        close_ticket()
        """,
        tmp_path,
    )
    assert result.returncode == 1
    [report] = reports(tmp_path)
    text = report.read_text("utf-8")
    assert text.startswith("posdesk crash report\n")
    assert f"version: {__version__}" in text
    assert "time: 20" in text and "platform: " in text and "thread: MainThread" in text
    assert "in close_ticket" in text and "ValueError: balance went negative" in text
    assert TOKEN not in text and KEY not in text
    assert str(report) in result.stderr  # the log line says where the report is


def test_a_worker_thread_crash_is_reported_and_names_the_thread(tmp_path) -> None:
    result = run_python(
        """
        import threading
        from posdesk import crash
        crash.install()
        def sync():
            raise ConnectionError("companion went away")
        worker = threading.Thread(target=sync, name="posdesk-sync")
        worker.start(); worker.join()
        print("main thread still running")
        """,
        tmp_path,
    )
    assert result.returncode == 0 and "main thread still running" in result.stdout
    [report] = reports(tmp_path)
    text = report.read_text("utf-8")
    assert "thread: posdesk-sync" in text and "ConnectionError: companion went away" in text


def test_ctrl_c_is_not_a_crash(tmp_path) -> None:
    result = run_python(
        """
        from posdesk import crash
        crash.install()
        raise KeyboardInterrupt
        """,
        tmp_path,
    )
    assert result.returncode != 0 and "KeyboardInterrupt" in result.stderr
    assert reports(tmp_path) == []


@pytest.fixture
def handler() -> Iterator[crash.CrashHandler]:
    seen: list[Path] = []
    installed = crash.install(on_crash=seen.append)
    installed.seen = seen  # type: ignore[attr-defined]
    yield installed
    installed.uninstall()


def test_the_gui_is_told_where_the_report_is(handler: crash.CrashHandler) -> None:
    try:
        raise RuntimeError("slot failed")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())  # what PySide6 does with an exception raised in a slot
    [path] = handler.seen  # type: ignore[attr-defined]
    assert path.is_file() and path.parent == crash.report_dir()
    assert "RuntimeError: slot failed" in path.read_text("utf-8")


def test_threads_go_through_the_hook_too(handler: crash.CrashHandler) -> None:
    worker = threading.Thread(target=lambda: 1 / 0, name="posdesk-worker")
    worker.start()
    worker.join()
    [path] = handler.seen  # type: ignore[attr-defined]
    assert "thread: posdesk-worker" in path.read_text("utf-8")


def test_uninstall_puts_the_previous_hooks_back() -> None:
    before_sys, before_threading = sys.excepthook, threading.excepthook
    crash.install().uninstall()
    assert sys.excepthook is before_sys and threading.excepthook is before_threading


def test_a_crash_loop_does_not_fill_the_disk(monkeypatch) -> None:
    monkeypatch.setattr(crash, "MAX_REPORTS", 3)
    for number in range(6):
        try:
            raise RuntimeError(f"crash {number}")
        except RuntimeError:
            crash.write_report(*sys.exc_info())  # type: ignore[arg-type]
    kept = sorted(crash.report_dir().glob("crash-*.txt"))
    assert len(kept) == 3
    assert any("crash 5" in path.read_text("utf-8") for path in kept)
