"""``posdesk --self-test``: passes on a good installation, and names what is missing on a bad one."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from posdesk import selftest

STEPS = (
    "bundled files",
    "this terminal's database",
    "main window with the embedded companion",
    "companion database",
    "payment page for a test invoice",
)


@pytest.mark.slow
def test_self_test_checks_every_step_and_leaves_no_demo_data_behind(tmp_path) -> None:
    env = dict(os.environ, POSDESK_DATA_DIR=str(tmp_path))
    env.pop("QT_QPA_PLATFORM", None)  # the self-test goes offscreen by itself
    env.pop("DISPLAY", None)
    result = subprocess.run(
        [sys.executable, "-m", "posdesk.gui", "--self-test"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("posdesk ") and "self-test" in lines[0]
    for step in STEPS:
        assert any(line.strip().startswith(f"ok   {step} (") for line in lines), (step, result.stdout)
    assert lines[-1] == "posdesk self-test: ok"
    # The terminal's own database was opened and migrated; the demo companion lived in a temporary folder.
    assert (tmp_path / "posdesk.db").is_file()
    assert not (tmp_path / "companion").exists() and not (tmp_path / "companion.db").exists()
    # The report is in the log too: a windowed Windows build has no stdout to print it on.
    assert "posdesk self-test: ok" in (tmp_path / "logs" / "posdesk.log").read_text("utf-8")


@pytest.mark.slow
def test_a_missing_bundled_file_fails_the_self_test_and_is_named(monkeypatch, tmp_path) -> None:
    missing = Path(selftest.__file__).parent / "companion" / "templates" / "no-such-page.html"
    real = selftest.bundled_files
    monkeypatch.setattr(selftest, "bundled_files", lambda: [*real(), missing])
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")  # run_self_test sets it; keep the test's value after
    out = io.StringIO()
    status = selftest.run_self_test(out)
    report = out.getvalue()
    assert status == 1
    assert "FAIL bundled files" in report and str(missing) in report
    assert "ok   payment page for a test invoice" in report  # the other steps still ran
    assert report.strip().splitlines()[-1] == "posdesk self-test: failed"


def test_a_payment_page_without_the_invoice_fails_the_self_test(monkeypatch) -> None:
    monkeypatch.setattr(selftest, "SAMPLE_SERVICE", "a line this invoice does not have")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    out = io.StringIO()
    assert selftest.run_self_test(out) == 1
    assert "FAIL payment page for a test invoice" in out.getvalue()
    assert "without the invoice" in out.getvalue()
