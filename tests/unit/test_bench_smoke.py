"""The benchmarks still run: each one, in its ``--quick`` configuration, prints its table.

Nothing here looks at a time: figures depend on the machine and are recorded in docs/performance.md.
What would break a benchmark (a renamed widget, a changed API, a probe line the POS no longer prints)
fails here instead of on the day someone wants the figures.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench import report
from bench.__main__ import BENCHMARKS
from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parents[2]


def test_percentile_is_a_sample_by_nearest_rank() -> None:
    samples = [float(n) for n in range(1, 101)]
    assert report.percentile(samples, 50) == 50.0
    assert report.percentile(samples, 99) == 99.0
    assert report.percentile([3.0], 99) == 3.0


def test_table_marks_misses() -> None:
    table = report.Table("demo")
    table.add("fast", "1 ms", bar="< 5 ms", meets=True)
    table.add("slow", "9 ms", bar="< 5 ms", meets=False)
    text = table.render()
    assert "| fast " in text and "| yes " in text and "| NO " in text


@pytest.mark.slow
@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_prints_its_table(name: str, tmp_path: Path) -> None:
    if name in ("webhooks", "scale"):
        pytest.importorskip("psycopg")
    if name == "startup_instructions":
        require_tool("valgrind")
    result = subprocess.run(
        [sys.executable, "-m", "bench", name, "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert out.startswith("machine: ")
    assert f"## {name}" in out
    assert "| figure" in out and "| bar" in out
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| figure")]
    assert rows, out
    assert "FAILED" not in out
