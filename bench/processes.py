"""Starting fresh Python processes the way a user's launcher would, and timing them to "ready"."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Installed programs run from compiled bytecode (pip writes .pyc; PyInstaller bundles it). A shell with
# PYTHONDONTWRITEBYTECODE=1 would recompile every module on every start, so the benchmarks keep the
# bytecode cache, outside the source tree.
PYCACHE = Path("/tmp/posdesk-bench-pycache")


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    # Headless Linux has no keyring; say so once rather than let the POS look for one.
    env.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    env.update(extra)
    return env


@dataclass(frozen=True, slots=True)
class Ready:
    seconds: float  # from spawning the process to its "ready" line
    rss_kb: int
    shown: bool


def time_to_ready(args: list[str], env: dict[str, str], timeout: float = 120.0) -> Ready:
    """Spawn ``python args...``, wait for its ``ready <unix time> rss_kb=N shown=B`` line, let it exit."""
    started = time.time()
    proc = subprocess.Popen(
        [sys.executable, *args], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise RuntimeError(f"{args} did not become ready within {timeout} s") from None
    line = next((ln for ln in out.splitlines() if ln.startswith("ready ")), None)
    if line is None:
        raise RuntimeError(f"{args} never said ready (exit {proc.returncode}):\n{out}\n{err[-2000:]}")
    fields = dict(part.split("=", 1) for part in line.split()[2:])
    return Ready(float(line.split()[1]) - started, int(fields.get("rss_kb", 0)), fields.get("shown") == "1")
