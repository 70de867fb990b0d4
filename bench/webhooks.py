"""``webhooks``: signed webhook events per second into one worker, 30% duplicates, and no double effect.

The companion runs in its own process (one uvicorn worker) on SQLite, then on PostgreSQL (a throw-away
server started like the test suite's, ``tests/plugins/postgres.py``). Each unique event reports a
successful payment of its own invoice (uploaded beforehand); 30% of the deliveries repeat an event
byte for byte, shuffled in, so some duplicates race their original. Two rates: **accepted** (every
delivery answered 2xx) and **applied** (until every stored event is processed). Afterwards the database
is counted: one stored event, one payment, one ``invoice.paid`` event and the right amount per invoice.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from sqlalchemy import func, select

from bench.companion import PRICE, RunningCompanion, invoice_body, paid_webhook, start_companion
from bench.report import Table, ratio
from posdesk.companion.database import Database
from posdesk.companion.models import Event, Invoice, Payment, WebhookEvent

BAR = 500.0
CONCURRENCY = 16
DUPLICATES = 0.30


@dataclass(frozen=True, slots=True)
class Ingest:
    deliveries: int
    unique: int
    accepted_per_s: float
    applied_per_s: float
    failures: int
    double_effects: int
    missing_effects: int


async def _put_invoices(companion: RunningCompanion, count: int) -> list[tuple[str, int]]:
    bodies = [invoice_body() for _ in range(count)]
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=companion.url, headers=companion.headers, timeout=60) as api:

        async def put(body: dict) -> None:
            async with gate:
                (await api.put(f"/api/v1/invoices/{body['invoice_id']}", json=body)).raise_for_status()

        await asyncio.gather(*(put(b) for b in bodies))
    return [(b["invoice_id"], PRICE) for b in bodies]  # one untaxed line: the total is its price


async def _deliver(url: str, deliveries: list[tuple[bytes, dict[str, str]]]) -> tuple[float, int]:
    queue = list(reversed(deliveries))
    failures = 0
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:

        async def sender() -> None:
            nonlocal failures
            while queue:
                raw, headers = queue.pop()
                response = await http.post("/webhooks/simulator", content=raw, headers=headers)
                failures += response.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))
        return time.perf_counter() - started, failures


def ingest(database_url: str, unique: int) -> Ingest:
    with start_companion(database_url) as companion:
        invoices = asyncio.run(_put_invoices(companion, unique))
        events = [
            paid_webhook(companion.webhook_secret, companion.store_id, i, amount) for i, amount in invoices
        ]
        repeats = round(len(events) * DUPLICATES / (1 - DUPLICATES))
        rng = random.Random(8)
        deliveries = events + [rng.choice(events) for _ in range(repeats)]
        rng.shuffle(deliveries)
        db = Database(database_url)
        try:
            started = time.perf_counter()
            elapsed, failures = asyncio.run(_deliver(companion.url, deliveries))
            deadline = time.monotonic() + 300
            while True:
                with db.read() as session:
                    waiting = session.scalar(
                        select(func.count())
                        .select_from(WebhookEvent)
                        .where(WebhookEvent.processed_at.is_(None))
                    )
                if not waiting or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            applied = time.perf_counter() - started
            double, missing = _count_effects(db, dict(invoices))
        finally:
            db.dispose()
    return Ingest(
        len(deliveries), unique, len(deliveries) / elapsed, unique / applied, failures, double, missing
    )


def _count_effects(db: Database, amounts: dict[str, int]) -> tuple[int, int]:
    """(invoices with more than one effect, invoices with none) across the four things a payment writes."""
    with db.read() as session:
        stored = session.scalar(select(func.count()).select_from(WebhookEvent)) or 0
        payments = dict(
            session.execute(
                select(Payment.invoice_id, func.count())
                .where(Payment.status == "succeeded")
                .group_by(Payment.invoice_id)
            ).all()
        )
        paid_events = dict(
            session.execute(
                select(Event.invoice_id, func.count())
                .where(Event.type == "invoice.paid")
                .group_by(Event.invoice_id)
            ).all()
        )
        paid = dict(session.execute(select(Invoice.id, Invoice.paid_minor)).all())
    double = sum(
        1 for i in amounts if payments.get(i, 0) > 1 or paid_events.get(i, 0) > 1 or paid[i] > amounts[i]
    )
    missing = sum(
        1 for i in amounts if payments.get(i, 0) == 0 or paid_events.get(i, 0) == 0 or paid[i] < amounts[i]
    )
    return double + max(0, stored - len(amounts)), missing


@contextmanager
def postgres() -> Iterator[str]:
    """A throw-away PostgreSQL server on loopback (the test suite's own start and stop code)."""
    from tests.plugins.postgres import LocalPostgres, find_bindir

    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (initdb/pg_ctl not found)")
    server = LocalPostgres(bindir)
    try:
        server.start()
        yield server.url
    finally:
        server.stop()


def run(quick: bool = False) -> Table:
    unique = 28 if quick else 2100
    table = Table(
        f"webhooks: signed events into one worker, {DUPLICATES:.0%} duplicates, {CONCURRENCY} senders"
    )
    results: dict[str, Ingest] = {}
    with tempfile.TemporaryDirectory(prefix="posdesk-bench-hooks-") as tmp:
        results["SQLite"] = ingest(f"sqlite+pysqlite:///{tmp}/companion.db", unique)
    try:
        with postgres() as url:
            results["PostgreSQL"] = ingest(url, unique)
    except Exception as exc:  # reported, not hidden: the SQLite figure still stands
        table.notes.append(f"PostgreSQL not measured: {type(exc).__name__}: {exc}")
    sqlite = results["SQLite"]
    for name, result in results.items():
        is_bar = name == "SQLite"
        clean = result.failures == 0 and result.double_effects == 0 and result.missing_effects == 0
        table.add(
            f"{name}: accepted (2xx) events/s",
            f"{result.accepted_per_s:.0f}/s",
            baseline="-" if is_bar else f"{sqlite.accepted_per_s:.0f}/s SQLite",
            ratio="-" if is_bar else ratio(result.accepted_per_s, sqlite.accepted_per_s),
            bar=">= 500/s, no double effect" if is_bar else "-",
            meets=(result.accepted_per_s >= BAR and clean) if is_bar else None,
        )
        table.add(f"{name}: applied payments/s (until all processed)", f"{result.applied_per_s:.0f}/s")
        table.add(
            f"{name}: deliveries / unique / non-2xx",
            f"{result.deliveries} / {result.unique} / {result.failures}",
        )
        table.add(
            f"{name}: invoices paid twice / not paid",
            f"{result.double_effects} / {result.missing_effects}",
            bar="0 / 0",
            meets=result.double_effects == 0 and result.missing_effects == 0,
        )
    return table
