"""``pay_to_close``: the gateway's webhook reaches the companion; the ticket shows closed on the POS.

The companion runs in its own process (one worker, SQLite, loopback). The POS runs here: its local
cache, its :class:`~posdesk.sync.SyncService` following the event stream, and its real main window with
the ticket open in the New Ticket view. Tickets and invoices are made on the POS and uploaded through
its outbox beforehand. Then, one payment at a time, a signed Simulator ``payment.succeeded`` webhook is
POSTed (from another thread, so the UI thread stays in its event loop) and the clock stops:

- at the sync service's ``on_tickets_changed`` callback, once the local cache has the ticket PAID;
- when the main window has handled the change and the view shows the ticket "closed".

The baseline is a bare SSE round trip (``bench/sse_server.py``): POST a message, read it off a stream.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.companion import paid_webhook, start_companion
from bench.pos import BenchPos, build_pos, pump_until
from bench.processes import ROOT, child_env
from bench.report import Table, ms, percentile, ratio
from posdesk.core.links import new_link_token
from posdesk.core.ticket import Ticket, TicketLine, TicketState
from posdesk.core.ticket import new_id as new_ticket_id
from posdesk.store import Outbox, TicketRepository

BAR_P99 = 0.500


def sse_round_trips(count: int) -> list[float]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.sse_server"],
        env=child_env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        arrived: dict[str, float] = {}
        ready = threading.Event()

        def listen() -> None:
            with httpx.Client(timeout=None) as client, client.stream("GET", f"{url}/stream") as response:
                ready.set()
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        arrived[line[6:]] = time.perf_counter()
                        if len(arrived) == count:
                            return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        ready.wait(20)
        time.sleep(0.2)
        samples = []
        with httpx.Client() as client:
            for n in range(count):
                key = str(n)
                started = time.perf_counter()
                client.post(f"{url}/ping", content=key)
                while key not in arrived:
                    time.sleep(0.0002)
                samples.append(arrived[key] - started)
        return samples
    finally:
        process.terminate()
        process.wait(10)


def prepare_invoices(
    pos: BenchPos, count: int, companion_url: str, headers: dict[str, str]
) -> list[tuple[str, str, int]]:
    """Make ``count`` tickets with sent invoices on the POS; wait for the uploads. (ticket, invoice, amount)."""
    backend, settings = pos.ctx.backend, pos.ctx.settings
    client, item = pos.sample_client(), pos.sample_item()
    made = []
    for _ in range(count):
        with pos.db.reading() as session:
            number = TicketRepository(session).next_number()
        ticket = Ticket.new(number, settings.currency, ticket_id=new_ticket_id())
        ticket.set_client(client.id, client.display_name)
        ticket.add_line(TicketLine.from_item(item))
        sent, _ticket, _info = backend.send_invoice(
            ticket,
            amount_requested=None,
            companion_url=companion_url,
            settings=settings,
            token=new_link_token(),
            invoice_id=new_ticket_id(),
            base_revision=None,
        )
        made.append((ticket.id, sent.invoice_id))
    pos.ctx.wake_sync()

    def drained() -> bool:
        with pos.db.reading() as session:
            return Outbox(session).pending_count() == 0

    pump_until(drained, timeout=300, what="the invoices to upload")
    with httpx.Client(base_url=companion_url, headers=headers) as api:
        return [(t, i, api.get(f"/api/v1/invoices/{i}").json()["amount_due"]) for t, i in made]


def run(quick: bool = False) -> Table:
    payments = 10 if quick else 300
    table = Table(f"pay_to_close: webhook to ticket shown closed on the POS ({payments} payments, loopback)")
    base = sse_round_trips(payments)
    to_cache: list[float] = []
    to_screen: list[float] = []
    with (
        tempfile.TemporaryDirectory(prefix="posdesk-bench-pay-") as tmp,
        start_companion(f"sqlite+pysqlite:///{tmp}/companion.db") as companion,
    ):
        seen: dict[str, float] = {}

        def on_changed(ids: set[str]) -> None:  # on the sync thread, after the local commit
            now = time.perf_counter()
            for ticket_id in ids:
                seen.setdefault(ticket_id, now)

        pos = build_pos(
            Path(tmp) / "pos",
            companion_url=companion.url,
            credential=companion.credential,
            store_id=companion.store_id,
            on_tickets_changed=on_changed,
        )
        shown: dict[str, float] = {}
        view = pos.window.ticket_view

        def on_shown(ids: set[str]) -> None:  # connected after the window's own slot: runs after it
            if view.ticket.id in ids and view.ticket.state is TicketState.PAID:
                shown.setdefault(view.ticket.id, time.perf_counter())

        pos.ctx.tickets_changed.connect(on_shown)
        try:
            invoices = prepare_invoices(pos, payments, companion.url, companion.headers)
            with ThreadPoolExecutor(1) as poster, httpx.Client(base_url=companion.url) as http:
                for ticket_id, invoice_id, amount in invoices:
                    pos.window.open_ticket(ticket_id)
                    raw, headers = paid_webhook(
                        companion.webhook_secret, companion.store_id, invoice_id, amount
                    )
                    seen.pop(ticket_id, None)  # the upload's own event ("link sent") touched it
                    started = time.perf_counter()
                    answer = poster.submit(http.post, "/webhooks/simulator", content=raw, headers=headers)
                    pump_until(lambda t=ticket_id: t in shown, timeout=30, what="the ticket to close")
                    answer.result().raise_for_status()
                    with pos.db.reading() as session:
                        stored = TicketRepository(session).get(ticket_id)
                    assert stored is not None and stored.state is TicketState.PAID
                    assert "closed" in pos.window.ticket_view.status_label.text().lower()
                    to_cache.append(seen[ticket_id] - started)
                    to_screen.append(shown[ticket_id] - started)
        finally:
            pos.stop()
    for p in (50, 99):
        table.add(
            f"webhook -> POS cache PAID (on_tickets_changed) p{p}",
            ms(percentile(to_cache, p)),
            baseline=f"{ms(percentile(base, p))} bare SSE",
            ratio=ratio(percentile(to_cache, p), percentile(base, p)),
        )
        table.add(
            f"webhook -> shown closed in the POS window p{p}",
            ms(percentile(to_screen, p)),
            baseline=f"{ms(percentile(base, p))} bare SSE",
            ratio=ratio(percentile(to_screen, p), percentile(base, p)),
            bar="p99 < 500 ms" if p == 99 else "-",
            meets=percentile(to_screen, p) < BAR_P99 if p == 99 else None,
        )
    table.notes.append("companion: its own process, SQLite; POS: this process, real window, offscreen")
    return table
