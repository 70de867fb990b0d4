"""Case 25: 200 clients paying at once and 50 gateway webhooks a second, against a real companion.

Runs ``posdesk-companion serve`` as its own process (one uvicorn worker unless ``--workers``; SQLite
unless ``--database-url``), uploads invoices through the POS API, then for ``--seconds``:

* each of ``--payers`` clients (its own address, through the proxy headers uvicorn trusts from
  loopback) takes the next invoice, opens the page, pays it with the Simulator's card and a tip, and
  opens the receipt; when the invoices run out it keeps reloading its receipts;
* a sender posts ``--webhooks-per-second`` signed Simulator events about other invoices, each event
  delivered twice (the second a duplicate, as gateways do).

Then it checks the database: no invoice has two succeeded payments or two ``invoice.paid`` events, and
every webhook-paid invoice is paid. It prints p50/p95/p99 latency per request kind, the error rate
(5xx and transport errors) and the duplicates::

    python -m tests.reliability.load                 # the full minute
    python -m tests.reliability.load --seconds 10    # what the test runs

The load generator shares the machine with the companion, so latencies include waiting for the CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import re
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select

from posdesk.companion.models import Event, Payment
from posdesk.core.money import Money
from posdesk.gateways.base import ChargeStatus, GatewayPayment, payment_to_wire
from posdesk.gateways.signing import sign
from posdesk.gateways.simulator import SIGNATURE_HEADER
from tests.companion.conftest import PairedTerminal, invoice_upload
from tests.reliability.programs import CARD, CompanionProcess, prepare_store

TOTAL = 8165  # the default test invoice's total (see tests/companion/conftest.invoice_upload)
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


@dataclass
class LoadReport:
    """What one run measured."""

    seconds: float
    payers: int
    webhooks_per_second: int
    keep_alive: bool = False
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[str] = field(default_factory=Counter)
    errors: int = 0  # 5xx answers and transport errors
    refused: int = 0  # answers other than the expected ones (4xx)
    payments_made: int = 0
    webhooks_sent: int = 0
    duplicate_payments: int = 0
    duplicate_paid_events: int = 0
    unpaid_after_webhook: int = 0
    applied_after: float = 0.0  # seconds after the load until every webhook-paid invoice was paid

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    @property
    def error_rate(self) -> float:
        return self.errors / max(1, self.requests)

    def percentile(self, kind: str | None, q: float) -> float:
        values = sorted(v for k, vs in self.latencies.items() if kind in (None, k) for v in vs)
        if not values:
            return 0.0
        return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]

    def lines(self) -> Iterator[str]:
        yield (
            f"{self.payers} payers ({'keep-alive' if self.keep_alive else 'a connection per request'}), "
            f"{self.webhooks_per_second} webhooks/s for {self.seconds:.0f} s on "
            f"{platform.node()} ({os.cpu_count()} CPUs, Python {platform.python_version()})"
        )
        yield (
            f"requests {self.requests} ({self.requests / self.seconds:.0f}/s); payments by page "
            f"{self.payments_made}; webhook deliveries {self.webhooks_sent}"
        )
        for kind in sorted(self.latencies):
            yield (
                f"  {kind:<9} n={len(self.latencies[kind]):>6}  p50 {self.percentile(kind, 50) * 1000:7.1f} ms  "
                f"p95 {self.percentile(kind, 95) * 1000:7.1f} ms  p99 {self.percentile(kind, 99) * 1000:7.1f} ms"
            )
        yield f"  all       p99 {self.percentile(None, 99) * 1000:.1f} ms"
        yield f"statuses {dict(sorted(self.statuses.items()))}"
        yield f"errors (5xx, transport) {self.errors}: error rate {self.error_rate:.4%}; other refusals {self.refused}"
        yield (
            f"duplicate payments {self.duplicate_payments}; duplicate invoice.paid events "
            f"{self.duplicate_paid_events}; webhook-paid invoices left unpaid {self.unpaid_after_webhook} "
            f"(all applied {self.applied_after:.1f} s after the load ended)"
        )


class LoadRun:
    def __init__(self, companion: CompanionProcess, terminal: PairedTerminal, report: LoadReport, keep_alive: bool) -> None:
        self.companion = companion
        self.terminal = terminal
        self.report = report
        self.http = httpx.AsyncClient(
            base_url=companion.url,
            timeout=60,
            # Without keep-alive every request is a new connection, as from many phones; with it the
            # client can race the server closing an idle connection (a reset, which browsers retry).
            limits=httpx.Limits(
                max_connections=report.payers + 50, max_keepalive_connections=report.payers + 50 if keep_alive else 0
            ),
        )

    async def timed(self, kind: str, expected: tuple[int, ...], method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            self.report.latencies[kind].append(time.perf_counter() - started)
            self.report.statuses[f"{kind}:{type(exc).__name__}"] += 1
            self.report.errors += 1
            return None
        self.report.latencies[kind].append(time.perf_counter() - started)
        self.report.statuses[f"{kind}:{response.status_code}"] += 1
        if response.status_code >= 500:
            self.report.errors += 1
        elif response.status_code not in expected:
            self.report.refused += 1
        return response

    async def upload(self, count: int) -> list[dict[str, Any]]:
        bodies = [invoice_upload() for _ in range(count)]
        gate = asyncio.Semaphore(16)

        async def put(body: dict[str, Any]) -> None:
            async with gate:
                answer = await self.http.put(f"/api/v1/invoices/{body['invoice_id']}", json=body, headers=self.terminal.headers)
                answer.raise_for_status()

        await asyncio.gather(*(put(b) for b in bodies))
        return bodies

    async def payer(self, n: int, pool: list[dict[str, Any]], until: float) -> None:
        headers = {"X-Forwarded-For": f"10.{n // 250}.{n % 250}.{1 + n % 200}"}
        receipts: list[str] = []
        while time.monotonic() < until:
            if pool:
                token = pool.pop()["link_token"]
                page = await self.timed("page", (200,), "GET", f"/pay/{token}", headers=headers)
                found = CSRF.search(page.text) if page is not None else None
                if found is None:
                    continue
                form = {"csrf": found.group(1), "version": "1", "tip": "2", **CARD}
                paid = await self.timed("pay", (303,), "POST", f"/pay/{token}/pay", data=form, headers=headers)
                if paid is not None and paid.status_code == 303:
                    self.report.payments_made += 1
                    receipts.append(paid.headers["location"])
                    await self.timed("receipt", (200,), "GET", paid.headers["location"], headers=headers)
            elif receipts:
                await self.timed("receipt", (200,), "GET", receipts[n % len(receipts)], headers=headers)
                await asyncio.sleep(0.05)
            else:
                await asyncio.sleep(0.05)


def payment_event(store_id: str, body: dict[str, Any]) -> bytes:
    """A Simulator event (to be signed): the invoice of ``body`` paid in full at the gateway."""
    payment = GatewayPayment(
        ref=f"pi_load_{uuid.uuid4().hex}",
        status=ChargeStatus.SUCCEEDED,
        amount=Money(TOTAL, "USD"),
        tip=Money(0, "USD"),
        metadata={
            "store_id": store_id,
            "invoice_id": body["invoice_id"],
            "invoice_version": "1",
            "payment_id": uuid.uuid4().hex,
            "kind": "invoice",
        },
        card_brand="visa",
        card_last4="4242",
    )
    event = {
        "id": f"evt_load_{uuid.uuid4().hex}",
        "type": "payment.succeeded",
        "created": int(time.time()),
        "data": {"object": payment_to_wire(payment)},
    }
    return json.dumps(event, separators=(",", ":")).encode()


def send_webhooks(url: str, secret: str, store_id: str, pool: list[dict[str, Any]], rate: int, seconds: float, results: Any) -> None:
    """In its own process (so the payers' client cannot slow it down): ``rate`` deliveries a second,
    each event twice; puts ``(latencies, statuses, paid invoice ids)`` on ``results``."""

    async def run() -> tuple[list[float], Counter[str], list[str]]:
        latencies: list[float] = []
        statuses: Counter[str] = Counter()
        paid: list[str] = []
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:

            async def post(raw: bytes) -> None:
                headers = {SIGNATURE_HEADER: sign(secret, raw), "Content-Type": "application/json"}
                started = time.perf_counter()
                try:
                    answer = await http.post("/webhooks/simulator", content=raw, headers=headers)
                    statuses[str(answer.status_code)] += 1
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1
                latencies.append(time.perf_counter() - started)

            tasks: set[asyncio.Task[None]] = set()
            interval, next_at = 1.0 / rate, time.monotonic()
            until = next_at + seconds
            last: bytes | None = None
            while time.monotonic() < until:
                if last is not None:
                    raw, last = last, None  # the duplicate delivery of the previous event
                elif pool:
                    body = pool.pop()
                    paid.append(body["invoice_id"])
                    raw = last = payment_event(store_id, body)
                else:
                    break
                task = asyncio.create_task(post(raw))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            await asyncio.gather(*tasks)
        return latencies, statuses, paid

    results.put(asyncio.run(run()))


def check_duplicates(database_url: str, report: LoadReport, webhook_paid: list[str]) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as db:
            per_invoice = db.execute(
                select(Payment.invoice_id, func.count())
                .where(Payment.status == "succeeded")
                .group_by(Payment.invoice_id)
            ).all()
            report.duplicate_payments = sum(count - 1 for _, count in per_invoice if count > 1)
            events = db.execute(
                select(Event.invoice_id, func.count()).where(Event.type == "invoice.paid").group_by(Event.invoice_id)
            ).all()
            report.duplicate_paid_events = sum(count - 1 for _, count in events if count > 1)
            paid = {invoice_id for invoice_id, _ in events}
            report.unpaid_after_webhook = sum(1 for invoice_id in webhook_paid if invoice_id not in paid)
    finally:
        engine.dispose()


async def _run(
    companion: CompanionProcess, terminal: PairedTerminal, report: LoadReport, invoices_per_payer: int, keep_alive: bool
) -> list[str]:
    run = LoadRun(companion, terminal, report, keep_alive)
    try:
        payer_pool = await run.upload(report.payers * invoices_per_payer)
        webhook_pool = await run.upload(int(report.webhooks_per_second * report.seconds / 2) + 1)
        results: Any = multiprocessing.get_context("spawn").Queue()
        sender = multiprocessing.get_context("spawn").Process(
            target=send_webhooks,
            args=(companion.url, companion.webhook_secret, terminal.store_id, webhook_pool, report.webhooks_per_second, report.seconds, results),
            name="webhook-sender",
        )
        sender.start()
        until = time.monotonic() + report.seconds
        pools = [payer_pool[i :: report.payers] for i in range(report.payers)]
        await asyncio.gather(*(run.payer(n, pools[n], until) for n in range(report.payers)))
        latencies, statuses, paid = await asyncio.to_thread(results.get, True, report.seconds + 120)
        await asyncio.to_thread(sender.join, 30)
        report.latencies["webhook"].extend(latencies)
        for status, count in statuses.items():
            report.statuses[f"webhook:{status}"] += count
            if not status.isdigit() or int(status) >= 500:
                report.errors += count
            elif status != "200":
                report.refused += count
        report.webhooks_sent = sum(statuses.values())
        return list(paid)
    finally:
        await run.http.aclose()


def run_load(
    *,
    seconds: float = 60,
    payers: int = 200,
    webhooks_per_second: int = 50,
    invoices_per_payer: int = 8,
    database_url: str | None = None,
    workdir: Path | None = None,
    keep_alive: bool = False,
    **env: str,
) -> LoadReport:
    """One run (see the module docstring); the companion is started and stopped here."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="posdesk-load-"))
    database_url = database_url or f"sqlite+pysqlite:///{workdir / 'companion.db'}"
    terminal = prepare_store(database_url)
    report = LoadReport(seconds, payers, webhooks_per_second, keep_alive)
    companion = CompanionProcess(database_url, workdir / "companion.log", POSDESK_LOG_LEVEL="WARNING", **env)
    companion.start()
    try:
        webhook_paid = asyncio.run(_run(companion, terminal, report, invoices_per_payer, keep_alive))
        # Webhooks are applied after their 200 (during a storm, behind the answers): wait for the last.
        ended = time.monotonic()
        while True:
            check_duplicates(database_url, report, webhook_paid)
            if not report.unpaid_after_webhook or time.monotonic() - ended > 120:
                break
            time.sleep(0.25)
        report.applied_after = time.monotonic() - ended
    finally:
        companion.stop()
    check_duplicates(database_url, report, webhook_paid)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--payers", type=int, default=200)
    parser.add_argument("--webhooks-per-second", type=int, default=50)
    parser.add_argument("--invoices-per-payer", type=int, default=8)
    parser.add_argument("--database-url", help="default: a new SQLite file")
    parser.add_argument("--keep-alive", action="store_true", help="payers reuse their connections")
    args = parser.parse_args()
    report = run_load(**vars(args))  # each option is run_load's keyword of the same name
    print("\n".join(report.lines()))


if __name__ == "__main__":
    main()
