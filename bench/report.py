"""The table every benchmark prints, and the machine it ran on."""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import statistics
import sys
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Row:
    """One figure against its baseline and its bar. ``meets`` is None where there is no bar."""

    figure: str
    value: str
    baseline: str = "-"
    ratio: str = "-"
    bar: str = "-"
    meets: bool | None = None


@dataclass
class Table:
    """A benchmark's result: its rows and notes (what was measured and how)."""

    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *args: object, **kwargs: object) -> None:
        self.rows.append(Row(*args, **kwargs))  # type: ignore[arg-type]

    def render(self) -> str:
        header = ("figure", "value", "baseline", "ratio", "bar", "meets")
        cells = [header] + [
            (r.figure, r.value, r.baseline, r.ratio, r.bar, {True: "yes", False: "NO", None: "-"}[r.meets])
            for r in self.rows
        ]
        widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

        def line(row: tuple[str, ...]) -> str:
            return (
                "| " + " | ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)) + " |"
            )

        out = [f"## {self.title}", "", line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        out += [line(row) for row in cells[1:]]
        out += [""] + [f"- {note}" for note in self.notes]
        return "\n".join(out) + "\n"


def ms(seconds: float) -> str:
    value = seconds * 1000
    return (
        f"{value:.1f} ms" if value >= 10 else f"{value:.2f} ms" if value >= 0.1 else f"{value * 1000:.0f} µs"
    )


def secs(seconds: float) -> str:
    return f"{seconds:.3f} s"


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}x" if baseline > 0 else "-"


def percentile(samples: list[float], p: float) -> float:
    """The ``p``-th percentile (0-100) by nearest rank, which never invents a value between samples."""
    ordered = sorted(samples)
    if not ordered:
        raise ValueError("no samples")
    rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def machine() -> str:
    """CPU model, cores, RAM, Python, Qt and the date: what a figure means depends on them."""
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), cpu)
    except OSError:
        cpu = platform.processor() or cpu
    ram = "?"
    try:
        with open("/proc/meminfo", encoding="utf-8") as info:
            kb = int(next(ln for ln in info if ln.startswith("MemTotal")).split()[1])
            ram = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    try:
        import PySide6
        from PySide6 import QtCore

        qt = f"PySide6 {PySide6.__version__} / Qt {QtCore.qVersion()}"
    except ImportError:
        qt = "no Qt"
    return (
        f"{cpu}, {os.cpu_count()} cores, {ram} RAM, Python {sys.version.split()[0]}, {qt}, "
        f"{platform.system()} {platform.release()}, {dt.date.today().isoformat()}"
    )


def rss_kb(pid: int | str = "self") -> int:
    """Resident memory of a process in KiB (Linux), 0 where unknown."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as status:
            return int(next(ln for ln in status if ln.startswith("VmRSS")).split()[1])
    except (OSError, StopIteration, ValueError):
        return 0
