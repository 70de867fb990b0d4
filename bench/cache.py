"""``cache``: a local cache of 1,000,000 tickets against an empty one (``--quick``: 10,000).

- **Start-up**: a fresh process per run (``bench/cache_probe.py``): open the cache and load what the New
  Ticket view needs, median of several runs; the Tickets list's first page (read when that tab is first
  shown) on its own; and the whole POS cold start to the New Ticket view (``startup``'s probe) on each
  cache.
- **Search**: ``PosBackend.list_tickets`` as the Tickets panel calls it (a page of 100, priced), by client
  name prefix and by ticket number, p50/p99; plus the repository query alone.
- **Memory**: RSS of the probe after searching, and of the whole POS at ready.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.cache_data import cache_dir, generate
from bench.processes import ROOT, child_env
from bench.report import Table, median, ms, percentile, ratio, secs
from bench.startup import pos_start

BAR_START = 1.10
BAR_SEARCH = 0.050
SMALL = 1_000


def probe(data_dir: Path, searches: int = 0) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.cache_probe", str(data_dir), str(searches)],
        env=child_env(), cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def empty_cache(root: Path) -> Path:
    from datetime import UTC, datetime

    from posdesk.store import Database
    from posdesk.store.sample import load_sample_data

    db = Database.open(root / "posdesk.db")
    load_sample_data(db, datetime.now(UTC).date(), UTC)
    db.close()
    return root


def run(quick: bool = False) -> Table:
    tickets = 10_000 if quick else 1_000_000
    runs = 2 if quick else 7
    searches = 20 if quick else 300
    reused = (cache_dir(tickets) / "complete").exists()
    began = time.perf_counter()
    big = generate(tickets)
    made = time.perf_counter() - began
    small = generate(SMALL)  # the same first page of the Tickets list, from a cache 1,000 times smaller
    table = Table(f"cache: local cache with {tickets:,} tickets vs an empty cache")
    with tempfile.TemporaryDirectory(prefix="posdesk-bench-cache-") as tmp:
        empty = empty_cache(Path(tmp))
        probe(empty), probe(big)  # warm: bytecode and the OS file cache, for both alike
        loads_empty, loads_small, loads_big, gui_empty, gui_big = [], [], [], [], []
        pages_small, pages_big = [], []
        for _ in range(runs):
            loads_empty.append(probe(empty)["load"])
            small_run, big_run = probe(small), probe(big)
            loads_small.append(small_run["load"])
            loads_big.append(big_run["load"])
            pages_small.append(small_run["tickets_page"])
            pages_big.append(big_run["tickets_page"])
            gui_empty.append(pos_start(empty, demo=False))
            gui_big.append(pos_start(big, demo=False))
        searched = probe(big, searches)
    base, value = median(loads_empty), median(loads_big)
    table.add(
        "open + New Ticket data load (median)", secs(value), baseline=f"{secs(base)} empty",
        ratio=ratio(value, base), bar="within 10% of empty", meets=value <= BAR_START * base,
    )  # fmt: skip
    table.add(
        f"open + New Ticket data load vs {SMALL:,} tickets", secs(value),
        baseline=f"{secs(median(loads_small))} {SMALL:,} tickets", ratio=ratio(value, median(loads_small)),
        bar="within 10%", meets=value <= BAR_START * median(loads_small),
    )  # fmt: skip
    page_base, page_value = median(pages_small), median(pages_big)
    table.add(
        f"Tickets list first page, on first showing (median) vs {SMALL:,} tickets", secs(page_value),
        baseline=f"{secs(page_base)} {SMALL:,} tickets", ratio=ratio(page_value, page_base),
    )  # fmt: skip
    gui_base, gui_value = median([r.seconds for r in gui_empty]), median([r.seconds for r in gui_big])
    table.add(
        "POS cold start to New Ticket view (median)", secs(gui_value), baseline=f"{secs(gui_base)} empty",
        ratio=ratio(gui_value, gui_base), bar="within 10% of empty", meets=gui_value <= BAR_START * gui_base,
    )  # fmt: skip
    for label, key in (("search by client name", "by_name"), ("search by ticket number", "by_number")):
        for p in (50, 99):
            value = percentile(searched[key], p)
            table.add(f"{label} p{p} (Tickets panel)", ms(value), bar="< 50 ms", meets=value < BAR_SEARCH)
    table.add("search by client name p99 (repository query only)", ms(percentile(searched["repo_name"], 99)))
    table.add(
        "memory: probe after searching / POS at ready",
        f"{searched['rss_kb'] / 1024:.0f} MiB / {median([r.rss_kb for r in gui_big]) / 1024:.0f} MiB",
        baseline=f"- / {median([r.rss_kb for r in gui_empty]) / 1024:.0f} MiB empty",
    )
    table.notes.append(
        f"{searched['tickets']:,} tickets in {big}/posdesk.db ({(big / 'posdesk.db').stat().st_size / 2**20:.0f} MiB; "
        f"{'reused' if reused else 'generated in ' + secs(made)}); {searches} searches of each kind; "
        "OS file cache warm (a cold disk is not measured)"
    )
    return table
