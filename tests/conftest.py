"""Test configuration shared by every suite.

Qt runs offscreen here (set before any Qt import). A test that needs an external tool (Chromium,
PostgreSQL, zbarimg, Xvfb) calls :func:`require_tool`: locally it skips naming the tool, in CI
(``CI=true``) it fails, so CI never passes by skipping.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator

import pytest

# Shared fixtures: a real PostgreSQL server, Debian's Chromium through Playwright, an SMTP server.
pytest_plugins = [
    "tests.plugins.postgres",
    "tests.plugins.browser",
    "tests.plugins.smtp",
    "tests.plugins.axe",
    "tests.fakes.keyring",
]

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The POS must never touch the developer's real keyring or data directory from tests.
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_tool(name: str, path: str | None = None) -> str:
    """Return the path of an external program, or skip (locally) / fail (CI) when it is missing."""
    found = path if path and os.path.exists(path) else shutil.which(name)
    if found:
        return found
    missing_requirement(f"{name} is not installed (run scripts/system-packages)")
    raise AssertionError("unreachable")  # missing_requirement always skips or fails


def missing_requirement(message: str) -> None:
    """The one place that decides: skip locally (naming what is missing), fail in CI."""
    if in_ci():
        pytest.fail(f"CI: {message}")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own posdesk data directory (see posdesk.paths)."""
    monkeypatch.setenv("POSDESK_DATA_DIR", str(tmp_path_factory.mktemp("posdesk-data")))


SYNC_THREAD = "posdesk-sync"  # the name posdesk.sync.service gives its thread (not imported: it brings httpx)


@pytest.fixture(autouse=True)
def _no_sync_service_left_running() -> Iterator[None]:
    """A test that starts a POS sync service stops it. One left running keeps syncing through the tests
    after it, on a database no test looks at, and logs after logging has shut down at exit."""
    before = {thread for thread in threading.enumerate() if thread.name == SYNC_THREAD}
    yield
    left = [t for t in threading.enumerate() if t.name == SYNC_THREAD and t not in before]
    for thread in left:
        thread.join(10)  # a stop asked for under load may take a moment
    if any(thread.is_alive() for thread in left):
        pytest.fail("the test left a sync service running (stop the SyncService, or the PosApp that owns it)")
