"""axe-core (the npm package, a pinned version) run in Chromium pages by the browser tests.

``axe_check(page)`` runs axe-core on the page as it is and returns its violations of impact *serious* or
*critical*. axe-core is installed once with ``npm install --prefix`` into a cache directory
(``$POSDESK_NPM_CACHE`` or ``~/.cache/posdesk/npm``), pinned to :data:`AXE_VERSION`; without npm (or
without the registry) the test skips locally and fails in CI, like every missing tool.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.plugins import missing_requirement, require_tool

if TYPE_CHECKING:
    from playwright.sync_api import Page

AXE_VERSION = "4.11.0"
SERIOUS = ("serious", "critical")


def _cache_dir() -> Path:
    root = os.environ.get("POSDESK_NPM_CACHE") or str(Path.home() / ".cache" / "posdesk" / "npm")
    return Path(root) / f"axe-core-{AXE_VERSION}"


@functools.cache
def axe_source() -> str:
    """axe.min.js of the pinned version, installed into the cache directory on first use."""
    prefix = _cache_dir()
    script = prefix / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = require_tool("npm")
        prefix.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--no-save", f"axe-core@{AXE_VERSION}"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if done.returncode != 0 or not script.exists():
            missing_requirement(f"axe-core {AXE_VERSION} could not be installed with npm: {done.stderr[-400:]}")
    return script.read_text(encoding="utf-8")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Every axe-core violation on ``page`` (WCAG 2.x A and AA rules and best practices)."""
    # Evaluated through the DevTools protocol, which the page's Content-Security-Policy does not govern.
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())
    result: dict[str, Any] = page.evaluate(
        "() => axe.run(document, {resultTypes: ['violations']})"
    )
    return list(result["violations"])


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = "; ".join(" ".join(node["target"]) + " -> " + node.get("failureSummary", "").replace("\n", " ")
                            for node in v["nodes"][:4])
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({targets})")
    return "\n".join(lines)


def axe_check(page: Page) -> list[dict[str, Any]]:
    """The violations of impact serious or critical on ``page`` (an empty list is a pass)."""
    return [v for v in axe_violations(page) if v.get("impact") in SERIOUS]


@pytest.fixture
def axe() -> Any:
    """``axe(page)`` asserts that ``page`` has no serious or critical axe-core violation."""
    axe_source()  # installs (or skips / fails in CI) before the test starts its browser work

    def check(page: Page) -> None:
        found = axe_check(page)
        assert not found, f"axe-core {AXE_VERSION} on {page.url}:\n{describe(found)}"

    return check
