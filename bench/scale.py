"""``scale``: what one more companion worker buys, on PostgreSQL: the page and webhooks with 1, 2 and 4.

Each worker count gets fresh databases on one throw-away PostgreSQL server and a companion started with
that many worker processes accepting on one socket (``bench/companion_server.py --workers``, the model
of ``uvicorn --workers``). The page is loaded at saturation by ``wrk`` (50 connections), alternating
slices with the trivial route as ``bench page`` does; webhooks are the ``webhooks`` benchmark's burst
(30% duplicates), counted for double and missing effects afterwards. Every figure is compared with the
same load on one worker in the same run. The workers, PostgreSQL and the load generator share this
machine's cores: more workers than cores cannot add throughput, only spread it.
"""

from __future__ import annotations

import os

import httpx

from bench.companion import invoice_body, start_companion
from bench.load import measure, paired
from bench.report import Table, ratio
from bench.webhooks import fresh_database, ingest, postgres

CLIENTS = 50


def _page(database_url: str, workers: int, rounds: int, seconds: float) -> tuple[float, float]:
    with start_companion(database_url, workers=workers) as companion:
        body = invoice_body()
        httpx.put(
            f"{companion.url}/api/v1/invoices/{body['invoice_id']}", json=body, headers=companion.headers
        ).raise_for_status()
        page = f"{companion.url}/pay/{body['link_token']}"
        measure(page, workers * 2, 1)  # every worker has opened the page
        pair = paired(page, f"{companion.url}/bench/trivial", CLIENTS, rounds, seconds)
    return pair.a.requests_per_s, pair.b.requests_per_s


def run(quick: bool = False) -> Table:
    counts = (1, 2) if quick else (1, 2, 4)
    rounds, seconds, unique = (1, 1, 28) if quick else (4, 2, 1000)
    cores = os.cpu_count() or 0
    table = Table(
        f"scale: the page and webhooks on PostgreSQL with {', '.join(map(str, counts))} workers ({cores} cores)"
    )
    load_before = os.getloadavg()
    with postgres() as server:
        results = {}
        for workers in counts:
            pages, trivial = _page(fresh_database(server), workers, rounds, seconds)
            hooks = ingest(fresh_database(server), unique, workers)
            results[workers] = (pages, trivial, hooks)
    one_pages, _one_trivial, one_hooks = results[1]
    for workers, (pages, trivial, hooks) in results.items():
        label = f"{workers} worker{'s' if workers > 1 else ''}"
        table.add(
            f"{label}: page at {CLIENTS} connections",
            f"{pages:.0f} pages/s (trivial {trivial:.0f} req/s)",
            baseline=f"{one_pages:.0f} pages/s, 1 worker",
            ratio=ratio(pages, one_pages),
        )
        table.add(
            f"{label}: webhooks applied (accepted)",
            f"{hooks.applied_per_s:.0f}/s ({hooks.accepted_per_s:.0f}/s)",
            baseline=f"{one_hooks.applied_per_s:.0f}/s, 1 worker",
            ratio=ratio(hooks.applied_per_s, one_hooks.applied_per_s),
        )
        table.add(
            f"{label}: webhooks, companion CPU per applied payment (every worker)",
            f"{hooks.cpu_per_payment * 1e3:.2f} ms",
            baseline=f"{one_hooks.cpu_per_payment * 1e3:.2f} ms, 1 worker",
            ratio=ratio(hooks.cpu_per_payment, one_hooks.cpu_per_payment),
        )
        table.add(
            f"{label}: webhooks paid twice / not paid / non-2xx",
            f"{hooks.double_effects} / {hooks.missing_effects} / {hooks.failures}",
            bar="0 / 0 / 0",
            meets=hooks.double_effects == 0 and hooks.missing_effects == 0 and hooks.failures == 0,
        )
    table.notes.append(
        f"{cores} cores shared by the workers, PostgreSQL and wrk; page: {rounds} pairs of {seconds} s slices "
        f"(page, trivial); webhooks: {unique} unique events, 30% duplicates, 16 senders"
    )
    table.notes.append(
        f"load average before {' / '.join(f'{x:.2f}' for x in load_before)}, "
        f"after {' / '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    return table
