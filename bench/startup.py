"""``startup``: POS cold start (a fresh process) to an interactive New Ticket view, vs a bare window.

Each run spawns a new interpreter. The POS runs with ``POSDESK_STARTUP_PROBE=1``, which makes it print
``ready <unix time>`` from its event loop once the window with the New Ticket view has painted its first
frame, connecting has started (the start-up thread running) and the view's data is shown, with the events
queued meanwhile handled, then quit; the baseline (``bench/bare_window.py``) is a PySide6 window with one label that does the
same. The figure is the median time from spawn to "ready". Each data directory is started once before
timing (a first launch migrates and loads sample data: reported separately).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.processes import Ready, child_env, time_to_ready
from bench.report import Table, median, ratio, secs

BAR_RATIO = 2.0
BAR_FIRST_LAUNCH = 1.0  # seconds: first launch after install, no bytecode cache yet
UNREACHABLE = "http://127.0.0.1:9"  # a configured companion that does not answer: no demo, no sync


def pos_args(demo: bool) -> list[str]:
    return ["-m", "posdesk.gui"] + ([] if demo else ["--companion-url", UNREACHABLE])


def pos_start(data_dir: Path, demo: bool, pycache: Path | None = None) -> Ready:
    extra = {"PYTHONPYCACHEPREFIX": str(pycache)} if pycache else {}
    env = child_env(POSDESK_STARTUP_PROBE="1", POSDESK_DATA_DIR=str(data_dir), **extra)
    return time_to_ready(pos_args(demo), env)


def bare_start(pycache: Path | None = None) -> Ready:
    return time_to_ready(
        ["-m", "bench.bare_window"], child_env(**({"PYTHONPYCACHEPREFIX": str(pycache)} if pycache else {}))
    )


def first_launches(tmp: Path, runs: int) -> tuple[list[Ready], list[Ready], list[Ready], list[Ready]]:
    """First launches after install, each with a new data folder (the cache is created), against the bare
    window launched alike: (bare, POS) with the bytecode an install leaves (``./dev setup``, pip and the
    PyInstaller bundles all compile it at install), then (bare, POS) with an empty bytecode cache each
    (every module compiled and written first, as an install that compiled nothing would leave it)."""
    bare, pos, bare_raw, pos_raw = [], [], [], []
    for n in range(runs):
        bare.append(bare_start())
        pos.append(pos_start(tmp / f"installed-{n}", demo=False))
        bare_raw.append(bare_start(tmp / f"bytecode-bare-{n}"))
        pos_raw.append(pos_start(tmp / f"first-{n}", demo=False, pycache=tmp / f"bytecode-pos-{n}"))
    return bare, pos, bare_raw, pos_raw


def run(quick: bool = False, runs: int | None = None) -> Table:
    runs = runs or (2 if quick else 9)
    table = Table("startup: POS cold start to an interactive New Ticket view")
    bare_start()  # warm the bytecode cache and the OS file cache for both programs alike
    with tempfile.TemporaryDirectory(prefix="posdesk-bench-startup-") as tmp:
        plain_dir, demo_dir = Path(tmp) / "plain", Path(tmp) / "demo"
        first_plain = pos_start(plain_dir, demo=False)
        first_demo = pos_start(demo_dir, demo=True)
        first_bare, first_pos, cold_bare, cold_pos = first_launches(Path(tmp), 1 if quick else 3)
        bare: list[Ready] = []
        plain: list[Ready] = []
        demo: list[Ready] = []
        for _ in range(runs):  # interleaved, so a busy moment on the machine hits all three alike
            bare.append(bare_start())
            plain.append(pos_start(plain_dir, demo=False))
            demo.append(pos_start(demo_dir, demo=True))
    floor = median([r.seconds for r in bare])
    for label, samples in (
        ("POS, companion configured", plain),
        ("POS, demo mode (embedded companion)", demo),
    ):
        value = median([r.seconds for r in samples])
        table.add(
            f"{label}: median of {runs}",
            secs(value),
            baseline=f"{secs(floor)} bare window",
            ratio=ratio(value, floor),
            bar=f"<= {BAR_RATIO:.0f}x bare",
            meets=value <= BAR_RATIO * floor and all(r.shown for r in samples),
        )
    first, first_floor = median([r.seconds for r in first_pos]), median([r.seconds for r in first_bare])
    table.add(
        f"POS, companion configured: first launch after install (bytecode compiled at install, new data folder), median of {len(first_pos)}",
        secs(first),
        baseline=f"{secs(first_floor)} bare window",
        ratio=ratio(first, first_floor),
        bar=f"< {BAR_FIRST_LAUNCH:.0f} s",
        meets=first < BAR_FIRST_LAUNCH and all(r.shown for r in first_pos),
    )
    cold, cold_floor = median([r.seconds for r in cold_pos]), median([r.seconds for r in cold_bare])
    table.add(
        f"POS, companion configured: first launch with no bytecode at all (new data folder), median of {len(cold_pos)}",
        secs(cold),
        baseline=f"{secs(cold_floor)} bare window, no bytecode cache",
        ratio=ratio(cold, cold_floor),
    )
    table.add("POS, companion configured: first launch (creates the cache)", secs(first_plain.seconds))
    table.add("POS, demo mode: first launch (creates the cache, sample data)", secs(first_demo.seconds))
    table.add(
        "memory at ready (max RSS)",
        f"{median([r.rss_kb for r in plain]) / 1024:.0f} MiB / demo {median([r.rss_kb for r in demo]) / 1024:.0f} MiB",
        baseline=f"{median([r.rss_kb for r in bare]) / 1024:.0f} MiB bare",
    )
    table.notes.append(
        "fresh interpreter per run, offscreen Qt, bytecode cache kept (as an installed app has); "
        "time = spawn to the event loop idle after the New Ticket view's first frame, its data and the "
        "start of connecting"
    )
    table.notes.append(
        "first launch after install: every install path compiles bytecode (./dev setup asks uv for it, pip "
        "does it by default, the PyInstaller bundles ship it); a new data folder gets the schema from a "
        "snapshot (posdesk.store.fresh_schema). The no-bytecode row is what an install that compiled "
        "nothing would give"
    )
    table.notes.append(
        "at that moment the POS's start-up thread is running (demo companion, keyring, sync client, "
        "SQLAlchemy): the first screen was read with stdlib sqlite3; its own tests check it matches the ORM"
    )
    return table
