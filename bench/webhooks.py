"""``webhooks``: signed webhook events per second into one worker, 30% duplicates, and no double effect.

The companion runs in its own process (one uvicorn worker) on SQLite, then on PostgreSQL (a throw-away
server started like the test suite's, ``tests/plugins/postgres.py``). Each unique event reports a
successful payment of its own invoice (uploaded beforehand); 30% of the deliveries repeat an event
byte for byte, shuffled in, so some duplicates race their original. Two rates: **accepted** (every
delivery answered 2xx) and **applied** (until every stored event is processed). Afterwards the database
is counted: one stored event, one payment, one ``invoice.paid`` event and the right amount per invoice.

The deliveries are signed beforehand and sent by ``wrk`` (a Lua script posts each once, in order, from
16 connections) when it is installed, else by an httpx client in this process. The load generator
shares the machine's cores with the server: an httpx client manages only a fraction of the rate the
server answers on its trivial route (figure "load generator" below), so it measured itself, not the
server. With wrk, up to 15 deliveries still in flight when the last answer arrives repeat the first
events (more duplicates, after the clock stopped).
"""

from __future__ import annotations

import asyncio
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import func, select

from bench.companion import PRICE, RunningCompanion, invoice_body, paid_webhook, start_companion
from bench.load import measure, process_cpu_seconds
from bench.report import Table, ratio
from posdesk.companion.database import Database
from posdesk.companion.models import Event, Invoice, Payment, WebhookEvent
from posdesk.gateways.simulator.driver import SIGNATURE_HEADER

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
    sender: str
    trivial_per_s: float  # GET /bench/trivial with the same sender: what the load generator manages
    cpu_per_payment: float  # the companion's CPU seconds (every worker) per unique event, burst to applied


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


# Posts every delivery of the file (signature TAB body per line) once, then says so on stderr; wrk
# itself would run for its whole -d, so the benchmark stops it when that line comes.
WRK_SCRIPT = """
local deliveries, index, total, answered, failed = {}, 0, 0, 0, 0
function init(args)
  for line in io.lines(args[1]) do
    local tab = line:find("\\t", 1, true)
    deliveries[#deliveries + 1] = wrk.format("POST", "/webhooks/simulator",
      {["Content-Type"] = "application/json", [args[2]] = line:sub(1, tab - 1)}, line:sub(tab + 1))
  end
  total = #deliveries
end
function request()
  index = index % total + 1
  return deliveries[index]
end
function response(status, headers, body)
  answered = answered + 1
  if status ~= 200 then failed = failed + 1 end
  if answered == total then
    io.stderr:write(string.format("answered=%d failed=%d\\n", answered, failed))
    io.stderr:flush()
  end
end
"""


def _deliver_wrk(url: str, deliveries: list[tuple[bytes, dict[str, str]]], tmp: Path) -> tuple[float, int]:
    lines = tmp / "deliveries.tsv"
    lines.write_text("".join(f"{headers[SIGNATURE_HEADER]}\t{raw.decode()}\n" for raw, headers in deliveries))
    script = tmp / "deliver.lua"
    script.write_text(WRK_SCRIPT)
    command = ["wrk", "-t1", f"-c{CONCURRENCY}", "-d600s", "--timeout", "60s", "-s", str(script), url]
    started = time.perf_counter()
    wrk = subprocess.Popen(
        [*command, "--", str(lines), SIGNATURE_HEADER],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert wrk.stderr is not None
    done = wrk.stderr.readline()
    elapsed = time.perf_counter() - started
    wrk.send_signal(signal.SIGINT)
    wrk.communicate(timeout=30)
    found = re.search(r"answered=(\d+) failed=(\d+)", done)
    if found is None:
        raise RuntimeError(f"wrk stopped before every delivery was answered: {done!r}")
    return elapsed, int(found.group(2))


def ingest(database_url: str, unique: int, workers: int = 1) -> Ingest:
    with start_companion(database_url, workers=workers) as companion:
        invoices = asyncio.run(_put_invoices(companion, unique))
        events = [
            paid_webhook(companion.webhook_secret, companion.store_id, i, amount) for i, amount in invoices
        ]
        repeats = round(len(events) * DUPLICATES / (1 - DUPLICATES))
        rng = random.Random(8)
        deliveries = events + [rng.choice(events) for _ in range(repeats)]
        rng.shuffle(deliveries)
        sender = "wrk" if shutil.which("wrk") else "httpx"
        trivial = measure(f"{companion.url}/bench/trivial", CONCURRENCY, 2).requests_per_s
        db = Database(database_url)
        try:
            cpu_before = sum(process_cpu_seconds(pid) for pid in companion.pids)
            started = time.perf_counter()
            if sender == "wrk":
                with tempfile.TemporaryDirectory(prefix="posdesk-bench-wrk-") as tmp:
                    elapsed, failures = _deliver_wrk(companion.url, deliveries, Path(tmp))
            else:
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
            cpu = sum(process_cpu_seconds(pid) for pid in companion.pids) - cpu_before
            double, missing = _count_effects(db, dict(invoices))
        finally:
            db.dispose()
    return Ingest(
        len(deliveries), unique, len(deliveries) / elapsed, unique / applied, failures, double, missing,
        sender, trivial, cpu / unique,
    )  # fmt: skip


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


def fresh_database(server_url: str) -> str:
    """A new, empty database on ``server_url``'s server (each run counts only its own rows)."""
    import psycopg
    from psycopg import sql

    from tests.plugins.postgres import libpq_conninfo, sqlalchemy_url

    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq_conninfo(server_url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return sqlalchemy_url(server_url, database=name)


def run(quick: bool = False) -> Table:
    unique = 28 if quick else 2100
    table = Table(
        f"webhooks: signed events into the companion, {DUPLICATES:.0%} duplicates, {CONCURRENCY} senders"
    )
    results: dict[str, Ingest] = {}
    with tempfile.TemporaryDirectory(prefix="posdesk-bench-hooks-") as tmp:
        results["SQLite, 1 worker"] = ingest(f"sqlite+pysqlite:///{tmp}/companion.db", unique)
    try:
        with postgres() as url:
            for workers in (1, 2):
                results[f"PostgreSQL, {workers} worker{'s' if workers > 1 else ''}"] = ingest(
                    fresh_database(url), unique, workers
                )
    except Exception as exc:  # reported, not hidden: the SQLite figure still stands
        table.notes.append(f"PostgreSQL not measured: {type(exc).__name__}: {exc}")
    sqlite = results["SQLite, 1 worker"]
    for name, result in results.items():
        is_bar = result is sqlite
        clean = result.failures == 0 and result.double_effects == 0 and result.missing_effects == 0
        table.add(
            f"{name}: applied payments/s (payment recorded, invoice.paid appended)",
            f"{result.applied_per_s:.0f}/s",
            baseline="-" if is_bar else f"{sqlite.applied_per_s:.0f}/s SQLite",
            ratio="-" if is_bar else ratio(result.applied_per_s, sqlite.applied_per_s),
            bar=">= 500/s, no double effect" if is_bar else "-",
            meets=(result.applied_per_s >= BAR and clean) if is_bar else None,
        )
        table.add(f"{name}: accepted (2xx) deliveries/s", f"{result.accepted_per_s:.0f}/s")
        table.add(
            f"{name}: companion CPU per applied payment (its deliveries, duplicates included)",
            f"{result.cpu_per_payment * 1e3:.2f} ms",
            baseline="-" if is_bar else f"{sqlite.cpu_per_payment * 1e3:.2f} ms SQLite",
            ratio="-" if is_bar else ratio(result.cpu_per_payment, sqlite.cpu_per_payment),
        )
        table.add(
            f"{name}: load generator ({result.sender}): GET /bench/trivial",
            f"{result.trivial_per_s:.0f} req/s",
            bar="well above the accepted rate",
            meets=result.trivial_per_s > 1.5 * result.accepted_per_s,
        )
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
    table.notes.append(
        "applied: from the first delivery sent until no stored event is left unprocessed (all 2,100 "
        "payments recorded with their invoice.paid), over the unique events; several workers share this "
        "machine's 2 cores; CPU from /proc, every worker process, over the same span"
    )
    return table
