"""Client side of a benchmark companion: start it in a process, make invoices, sign webhooks."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench.processes import ROOT, child_env
from posdesk.core.catalog import ItemKind
from posdesk.core.invoice import Invoice, InvoiceClient
from posdesk.core.links import new_link_token
from posdesk.core.money import Money
from posdesk.core.ticket import Ticket, TicketLine
from posdesk.gateways import signing
from posdesk.gateways.base import ChargeStatus, GatewayPayment, payment_to_wire
from posdesk.gateways.simulator.driver import SIGNATURE_HEADER

CLIENT = InvoiceClient(id="client-bench", name="Ana Díaz", email="ana@example.com", email_consent=True)
PRICE = 6000  # one $60.00 service line, no tax: the balance due of every benchmark invoice


@dataclass
class RunningCompanion:
    """A companion process (see ``bench/companion_server.py``)."""

    process: subprocess.Popen[str]
    url: str
    store_id: str
    credential: str
    webhook_secret: str
    pids: list[int]  # every worker's process

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential}"}

    def stop(self) -> None:
        for pid in self.pids[1:]:  # further workers first (uvicorn re-raises SIGTERM: no clean-up after it)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> RunningCompanion:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def start_companion(database_url: str, workers: int = 1, **env: str) -> RunningCompanion:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.companion_server", database_url, "--workers", str(workers)],
        env=child_env(**env),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait()
        raise RuntimeError(f"the benchmark companion did not start (exit {process.returncode})")
    info = json.loads(line)
    companion = RunningCompanion(
        process, info["url"], info["store_id"], info["credential"], info["webhook_secret"], info["pids"]
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{companion.url}/healthz", timeout=2).status_code == 200:
                return companion
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            companion.stop()
            raise RuntimeError("the benchmark companion does not answer")
        time.sleep(0.05)


def invoice_body(
    ticket_id: str | None = None, invoice_id: str | None = None, token: str | None = None
) -> dict[str, Any]:
    """A ``PUT /api/v1/invoices/{id}`` body: one $60 haircut for Ana, priced as the POS prices it."""
    ticket = Ticket.new(1, "USD", ticket_id=ticket_id or uuid.uuid4().hex)
    ticket.add_line(
        TicketLine(
            id=uuid.uuid4().hex,
            item_id="svc-cut",
            kind=ItemKind.APPOINTMENT,
            name="Haircut",
            unit_price=Money(PRICE, "USD"),
            staff="Rosa",
        )
    )
    ticket.set_client(CLIENT.id, CLIENT.name)
    invoice = Invoice.from_ticket(
        ticket,
        invoice_id=invoice_id or uuid.uuid4().hex,
        version=1,
        locale="en_US",
        expires_at=datetime.now(UTC) + timedelta(hours=72),
        client=CLIENT,
    )
    return {**invoice.to_wire(), "link_token": token or new_link_token()}


def paid_webhook(
    secret: str, store_id: str, invoice_id: str, amount: int = PRICE
) -> tuple[bytes, dict[str, str]]:
    """A signed Simulator ``payment.succeeded`` event for a charge the companion never saw start.

    The companion records such a payment from the event's metadata (as after a crash between charge
    and commit), so the benchmark needs no card and no page: only the webhook path is timed.
    """
    payment = GatewayPayment(
        ref=f"pi_bench_{uuid.uuid4().hex}",
        status=ChargeStatus.SUCCEEDED,
        amount=Money(amount, "USD"),
        tip=Money(0, "USD"),
        metadata={
            "store_id": store_id,
            "invoice_id": invoice_id,
            "invoice_version": "1",
            "payment_id": uuid.uuid4().hex,
            "kind": "invoice",
        },
        card_brand="visa",
        card_last4="4242",
    )
    body = {
        "id": f"evt_bench_{uuid.uuid4().hex}",
        "type": "payment.succeeded",
        "created": int(time.time()),
        "data": {"object": payment_to_wire(payment)},
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    return raw, {SIGNATURE_HEADER: signing.sign(secret, raw), "Content-Type": "application/json"}
