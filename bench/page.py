"""``page``: the payment page's server time at 1, 10 and 50 concurrent clients on one worker, and its weight.

The companion runs in its own process (one uvicorn worker, SQLite, loopback); the load comes from ``wrk``
(or httpx) in another. The baseline is ``GET /bench/trivial`` on the same app: same middleware, no work.
Page weight is our own HTML, CSS and JS as the page links them (gateway SDKs excluded), gzip-compressed.
"""

from __future__ import annotations

import gzip
import re
import tempfile
from urllib.parse import urljoin, urlparse

import httpx

from bench.companion import invoice_body, start_companion
from bench.load import measure
from bench.report import Table, ms, ratio

BAR_P99 = 0.025
BAR_WEIGHT = 30 * 1024


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


def run(quick: bool = False) -> Table:
    seconds = 1 if quick else 6
    levels = (1, 10) if quick else (1, 10, 50)
    table = Table("page: payment page server time (one worker, loopback) and page weight")
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
            base = measure(trivial, clients, seconds)
            load = measure(page, clients, seconds)
            tool = load.tool
            table.add(
                f"GET /pay/<token> p50 at {clients} client(s)", ms(load.p50),
                baseline=f"{ms(base.p50)} trivial", ratio=ratio(load.p50, base.p50),
            )  # fmt: skip
            table.add(
                f"GET /pay/<token> p99 at {clients} client(s)",
                ms(load.p99),
                baseline=f"{ms(base.p99)} trivial",
                ratio=ratio(load.p99, base.p99),
                bar="< 25 ms at 50 clients" if clients == 50 else "-",
                meets=(load.p99 < BAR_P99 and load.errors == 0) if clients == 50 else None,
            )
            table.add(
                f"throughput at {clients} client(s)",
                f"{load.requests_per_s:.0f} pages/s ({load.errors} errors)",
                baseline=f"{base.requests_per_s:.0f} req/s trivial",
            )
        raw, packed, files = page_weight(page)
        gzip_served = "gzip" in httpx.get(page, headers={"Accept-Encoding": "gzip"}).headers.get(
            "content-encoding", ""
        )
    table.add(
        "page weight (HTML+CSS+JS, gzip)", f"{packed / 1024:.1f} KB", baseline=f"{raw / 1024:.1f} KB raw",
        ratio=ratio(packed, raw), bar="< 30 KB", meets=packed < BAR_WEIGHT,
    )  # fmt: skip
    table.notes.append(f"load tool: {tool}, {seconds} s per level; weighed: {', '.join(files)}")
    table.notes.append(f"the companion {'serves' if gzip_served else 'does not serve'} gzip itself")
    return table
