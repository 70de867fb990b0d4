"""The tree stays lint-clean and type-clean where the house says it must (ruff everywhere; mypy strict on
core, gateways and companion, and clean on store, sync, messaging and the Qt GUI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing() -> None:
    done = run("ruff", "check", "posdesk", "tests", "bench", "scripts")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_is_clean_on_the_typed_parts() -> None:
    parts = [
        "posdesk/core",
        "posdesk/gateways",
        "posdesk/companion",
        "posdesk/store",
        "posdesk/sync",
        "posdesk/messaging",
        "posdesk/gui",
        "posdesk/pos",
    ]
    done = run("mypy", *parts)
    assert done.returncode == 0, done.stdout + done.stderr
