"""``startup_instructions``: the instructions the UI thread runs from exec to "ready", POS against the bare
window, counted by valgrind's callgrind.

The wall-clock ``startup`` benchmark is the bar's figure, but on a shared VM the bare window alone takes
0.13-0.20 s from one minute to the next, so its ratio moves by ±0.3x run to run. An instruction count
does not: each program runs once under callgrind (``--separate-threads``: thread 1 is the UI thread)
with the start-up probe, and exits at its ready line, so what the start-up thread does after it is left
out; the same program counts the same to ~0.5%. It leaves out what is not instructions (page faults,
cache misses, the disk), which is why the wall-clock figure stays the bar: this one says whether a
change did less work. Each data folder is started twice first (the cache, bytecode, kept dataclass
code), as a user's second launch finds it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.processes import ROOT, child_env
from bench.report import Table, ratio
from bench.startup import pos_args

# The program under test, exiting at once after its ready line (the start-up thread's later work and
# the interpreter's shutdown are not start-up).
EXIT_AT_READY = """
import os, runpy, sys
out = sys.stdout
class ExitAtReady:
    def write(self, text):
        out.write(text)
        if text.startswith("ready "):
            out.write("\\n"); out.flush(); os._exit(0)
        return len(text)
    def __getattr__(self, name):
        return getattr(out, name)
sys.stdout = ExitAtReady()
module, sys.argv = sys.argv[1], sys.argv[1:]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def ui_thread_instructions(module_args: list[str], data_dir: Path, work: Path) -> int:
    """Instructions of the UI thread of ``python -m <module_args>`` to its ready line."""
    env = child_env(POSDESK_STARTUP_PROBE="1", POSDESK_DATA_DIR=str(data_dir), PYTHONHASHSEED="0")
    command = [sys.executable, "-c", EXIT_AT_READY, *module_args]
    for _ in range(2):  # the second launch's state: cache made, bytecode and dataclass code kept
        subprocess.run(command, env=env, cwd=ROOT, capture_output=True, timeout=120, check=True)
    out = work / "callgrind.out"
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--separate-threads=yes", f"--callgrind-out-file={out}", *command],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if not any(line.startswith("ready ") for line in done.stdout.splitlines()):
        raise RuntimeError(f"{module_args} never said ready under callgrind:\n{done.stderr[-2000:]}")
    ui_thread = work / "callgrind.out-01"  # --separate-threads: one file a thread, the UI thread's first
    totals = next(ln for ln in ui_thread.read_text().splitlines() if ln.startswith(("totals:", "summary:")))
    return int(totals.split()[1])


def run(quick: bool = False) -> Table:
    if shutil.which("valgrind") is None:
        raise RuntimeError("valgrind is not installed (scripts/system-packages installs it)")
    table = Table("startup_instructions: UI-thread instructions from exec to ready (callgrind)")
    with tempfile.TemporaryDirectory(prefix="posdesk-bench-instructions-") as tmp:
        folder = Path(tmp)
        counts: dict[str, int] = {}
        targets = {"bare window": ["bench.bare_window"]}
        if not quick:  # a smoke test runs the bare window alone (each run is ~40 s under callgrind)
            targets["POS, companion configured"] = pos_args(demo=False)[1:]
            targets["POS, demo mode (embedded companion)"] = pos_args(demo=True)[1:]
        for n, (label, args) in enumerate(targets.items()):
            work = folder / f"run-{n}"
            work.mkdir()
            counts[label] = ui_thread_instructions(args, folder / f"data-{n}", work)
    bare = counts.pop("bare window")
    table.add("bare window", f"{bare / 1e6:,.0f} M instructions")
    for label, count in counts.items():
        table.add(label, f"{count / 1e6:,.0f} M instructions", baseline=f"{bare / 1e6:,.0f} M bare window",
                  ratio=ratio(count, bare))  # fmt: skip
    table.notes.append(
        "one run each under valgrind --tool=callgrind --separate-threads=yes (thread 1), PYTHONHASHSEED=0, "
        "exit at the ready line; after two launches of the same data folder"
    )
    table.notes.append(
        "not a bar: instructions leave out page faults, cache misses and the disk (the wall-clock startup "
        "benchmark is the bar's figure); a change that lowers this did less work on the way to ready"
    )
    return table
