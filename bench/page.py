"""``page``: the payment page's server time and client latency on one worker, and its weight.

The companion runs in its own process (one uvicorn worker, SQLite, loopback); the load comes from ``wrk``
(or httpx) in another. The baseline is ``GET /bench/trivial`` on the same app: same middleware, no work.

Two loads at each concurrency:

- **saturating**: every connection sends its next request as soon as the last is answered. The client's
  latency is then queueing (about clients / throughput), and so is most of the server's time, since
  the app holds all the requests at once and interleaves them.
- **think time** (50 clients): each client opens the page, reads for 0.5 to 1.5 s, opens it again
  (about 50 pages/s): phones paying, not a load test. This is the reading of the bar
  "server time p99 < 25 ms at 50 concurrent clients".

Server time is the app's own time per request, from the ``Server-Timing: app;dur=`` header the companion
sends (request received by the app to response started; see ``posdesk/companion/server_timing.py``).
Page weight is our own HTML, CSS and JS as the page links them (gateway SDKs excluded), gzip-compressed.
"""

from __future__ import annotations

import gzip
import os
import re
import tempfile
from urllib.parse import urljoin, urlparse

import httpx

from bench.companion import invoice_body, start_companion
from bench.load import Load, Paired, measure, paired
from bench.report import Table, ms, ratio

BAR_P99 = 0.025
BAR_SHARE = 0.70  # pages/s at saturation over the trivial route's requests/s, same app, same run
BAR_WEIGHT = 30 * 1024
THINK = (0.5, 1.5)  # seconds a client reads the page before opening it again


def page_weight(page_url: str) -> tuple[int, int, list[str]]:
    """(raw bytes, gzip bytes, files) of the page and the same-origin CSS and JS it links."""
    html = httpx.get(page_url).text
    origin = urlparse(page_url).netloc
    assets = re.findall(r'<(?:link[^>]+rel="stylesheet"[^>]+href|script[^>]+src)="([^"]+)"', html)
    files = [("page", html.encode())]
    for asset in assets:
        url = urljoin(page_url, asset)
        if urlparse(url).netloc == origin:  # the gateway's own SDK is not ours to weigh
            files.append((urlparse(url).path, httpx.get(url).content))
    raw = sum(len(body) for _, body in files)
    packed = sum(len(gzip.compress(body, compresslevel=6)) for _, body in files)
    return raw, packed, [name for name, _ in files]


def _rows(table: Table, label: str, load: Load, base: Load, bar: bool) -> None:
    """Client latency, server time and throughput of one load, each against the trivial route's."""
    table.add(
        f"{label}: client p50 / p99", f"{ms(load.p50)} / {ms(load.p99)}",
        baseline=f"{ms(base.p50)} / {ms(base.p99)} trivial", ratio=ratio(load.p99, base.p99),
    )  # fmt: skip
    table.add(
        f"{label}: server time p50 / p99",
        f"{ms(load.server_p50)} / {ms(load.server_p99)}",
        baseline=f"{ms(base.server_p50)} / {ms(base.server_p99)} trivial",
        ratio=ratio(load.server_p99, base.server_p99),
        bar="p99 < 25 ms" if bar else "-",
        meets=(load.server_p99 < BAR_P99 and load.errors == 0) if bar else None,
    )
    table.add(
        f"{label}: throughput",
        f"{load.requests_per_s:.0f} pages/s ({load.requests} pages, {load.errors} errors)",
        baseline=f"{base.requests_per_s:.0f} req/s trivial",
        ratio=ratio(load.requests_per_s, base.requests_per_s),
    )


def _saturating_rows(table: Table, clients: int, pair: Paired) -> None:
    load, base = pair.a, pair.b
    _rows(table, f"{clients} client(s), saturating", load, base, bar=False)
    bar = clients == 50
    table.add(
        f"{clients} client(s), saturating: pages/s over trivial req/s, per slice pair",
        f"median {pair.ratio:.2f} (slices {' '.join(f'{r:.2f}' for r in pair.ratios)})",
        baseline="1.00 = the trivial route's rate", ratio=f"{pair.ratio:.2f}x",
        bar=f">= {BAR_SHARE:.0%} of trivial" if bar else "-",
        meets=(pair.ratio >= BAR_SHARE and load.errors == 0) if bar else None,
    )  # fmt: skip
    table.add(
        f"{clients} client(s), saturating: server CPU per request",
        f"{load.server_cpu * 1e6:.0f} us", baseline=f"{base.server_cpu * 1e6:.0f} us trivial",
        ratio=ratio(base.server_cpu, load.server_cpu),
    )  # fmt: skip
    busy, base_busy = load.server_cpu * load.requests_per_s, base.server_cpu * base.requests_per_s
    table.add(
        f"{clients} client(s), saturating: server on a CPU / waiting for one, per second",
        f"{busy:.2f} s / {load.server_waiting:.2f} s",
        baseline=f"{base_busy:.2f} s / {base.server_waiting:.2f} s trivial", ratio=ratio(busy, base_busy),
    )  # fmt: skip


def run(quick: bool = False) -> Table:
    seconds = 1 if quick else 2  # per slice; saturating levels alternate trivial and page slices
    rounds = 1 if quick else 6
    think_seconds = 2 if quick else 20
    levels = (1, 10) if quick else (1, 10, 50)
    table = Table("page: payment page server time and client latency (one worker, loopback), page weight")
    load_before = os.getloadavg()
    with (
        tempfile.TemporaryDirectory(prefix="posdesk-bench-page-") as tmp,
        start_companion(f"sqlite+pysqlite:///{tmp}/companion.db") as companion,
    ):
        body = invoice_body()
        httpx.put(
            f"{companion.url}/api/v1/invoices/{body['invoice_id']}", json=body, headers=companion.headers
        ).raise_for_status()
        page = f"{companion.url}/pay/{body['link_token']}"
        assert httpx.get(page).status_code == 200
        trivial = f"{companion.url}/bench/trivial"
        measure(page, 2, 1)  # warm-up: templates compiled, connections pooled
        tool = ""
        for clients in levels:
            pair = paired(page, trivial, clients, rounds, seconds, server_pid=companion.process.pid)
            tool = pair.a.tool
            _saturating_rows(table, clients, pair)
        clients = 50 if not quick else 10
        base = measure(trivial, clients, think_seconds, think=THINK)
        load = measure(page, clients, think_seconds, think=THINK)
        _rows(table, f"{clients} clients, think {THINK[0]:g}-{THINK[1]:g} s", load, base, bar=clients == 50)
        raw, packed, files = page_weight(page)
        gzip_served = "gzip" in httpx.get(page, headers={"Accept-Encoding": "gzip"}).headers.get(
            "content-encoding", ""
        )
    table.add(
        "page weight (HTML+CSS+JS, gzip)", f"{packed / 1024:.1f} KB", baseline=f"{raw / 1024:.1f} KB raw",
        ratio=ratio(packed, raw), bar="< 30 KB", meets=packed < BAR_WEIGHT,
    )  # fmt: skip
    table.notes.append(
        f"load tool: {tool}; saturating: {rounds} pairs of {seconds} s slices per level, page and trivial in "
        f"turn (ratio per pair, median; CPU from /proc); {think_seconds} s with think time; "
        f"weighed: {', '.join(files)}"
    )
    load_after = os.getloadavg()
    table.notes.append(
        f"load average (1/5/15 min) before {' / '.join(f'{x:.2f}' for x in load_before)}, "
        f"after {' / '.join(f'{x:.2f}' for x in load_after)} (the machine may be shared: compare with the trivial route)"
    )
    table.notes.append(
        "saturating: latency is queueing (clients / throughput), server time too (the app interleaves "
        "all the requests it holds); the think-time load is the bar's reading"
    )
    table.notes.append(
        "server CPU per request: the companion process's CPU time over the requests it served (all its "
        "threads); its ratio column is trivial over page, the share of the trivial rate it allows"
    )
    table.notes.append(
        "on a CPU / waiting for one: the companion's CPU seconds, and its threads' seconds runnable but not "
        "running (/proc schedstat), per second of load. A remembered page is answered on the event loop's "
        "one thread, the trivial route on two (loop and thread pool): on a machine busy with other work the "
        "page's one thread gets a smaller share of the CPUs, which the rate shows and CPU per request does not"
    )
    table.notes.append(f"the companion {'serves' if gzip_served else 'does not serve'} gzip itself")
    return table
