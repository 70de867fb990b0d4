"""Cases 6 and 7: the companion process is SIGKILLed in the middle of a payment.

(6) after the gateway charged and before the companion's commit: on restart, reconciliation asks the
    gateway for the payment by the metadata the companion gave it, and the invoice is paid once.
(7) after the commit and before the POS heard: the POS catches up from its cursor when the companion is
    back; every paid ticket closes once.

The companion runs as its own process (``posdesk-companion serve``) on a SQLite file; the kill is a real
SIGKILL. Stripe is the fake Stripe API served from this test process, so it outlives the companion as
the real Stripe would.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from posdesk.companion.models import Payment, SavedCard
from posdesk.companion.pay.security import csrf_token
from posdesk.companion.payments import GatewayDirectory, reconcile
from posdesk.core.links import hash_token
from posdesk.core.ticket import TicketState
from tests.companion.conftest import Companion, invoice_upload
from tests.fakes.serve import serve_app
from tests.fakes.stripe_api import FakeStripe, make_fake_stripe
from tests.gateway_setup import connect_stripe
from tests.reliability.programs import CompanionProcess, pay_link, prepare_store
from tests.till import Till
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WHSEC = "whsec_reliability"
SAVE = {"mode": "payment", "currency": "usd", "setupFutureUsage": "off_session"}


def rows(database_url: str, query: Any) -> list[Any]:
    """Read the companion's database from outside its process (what an operator would look at)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(query).all())
    finally:
        engine.dispose()


class KillOnConfirm:
    """ASGI wrapper of the fake Stripe: once a PaymentIntent confirm has been *processed* (the card is
    charged), SIGKILL the companion before Stripe's answer leaves."""

    def __init__(self, app: Any, companion: CompanionProcess) -> None:
        self.app = app
        self.companion = companion
        self.armed = False
        self.killed = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        confirm = scope["type"] == "http" and re.fullmatch(r"/v1/payment_intents/[^/]+/confirm", scope["path"])

        async def send_after_kill(message: Any) -> None:
            if confirm and self.armed and message["type"] == "http.response.start":
                self.armed = False
                self.companion.kill()
                self.killed.set()
            await send(message)

        await self.app(scope, receive, send_after_kill)


@pytest.fixture
def stripe_companion(tmp_path: Path) -> Iterator[tuple[CompanionProcess, FakeStripe, KillOnConfirm, Any]]:
    database_url = f"sqlite+pysqlite:///{tmp_path / 'companion.db'}"
    terminal = prepare_store(database_url)
    companion = CompanionProcess(database_url, tmp_path / "companion.log")
    with make_fake_stripe(webhook_secret=WHSEC) as fake:
        killer = KillOnConfirm(fake.app, companion)
        with serve_app(killer) as stripe_base:
            companion.start()
            try:
                fake.webhook_url = f"{companion.url}/webhooks/stripe"
                api = httpx.Client(base_url=companion.url, headers=terminal.headers, timeout=30)
                connect_stripe(api, stripe_base, WHSEC, key="reliability")
                yield companion, fake, killer, api
                api.close()
            finally:
                companion.stop()


def test_killed_between_the_charge_and_the_commit_reconciliation_pays_the_invoice_once(stripe_companion: Any) -> None:
    companion, fake, killer, api = stripe_companion
    config = companion.config()
    phone = httpx.Client(base_url=companion.url, timeout=30)

    # The client paid a first invoice and saved the card (Stripe's Payment Element, confirmed at Stripe).
    first = invoice_upload()
    assert api.put(f"/api/v1/invoices/{first['invoice_id']}", json=first).status_code == 200
    form = {"csrf": csrf_token(config, hash_token(first["link_token"])), "version": "1", "tip": "none", "save_card": "on"}
    intent = phone.post(f"/pay/{first['link_token']}/stripe/intent", data=form).json()
    fake.confirm_from_browser(intent["client_secret"], "pm_card_visa", elements=SAVE)
    phone.post(intent["sync_url"], data={"csrf": form["csrf"]})
    [card_id] = [row.id for row in rows(companion.database_url, select(SavedCard.id))]

    # A second invoice is paid with the saved card: the companion charges it itself. Stripe takes the
    # money, then the companion dies before it hears back, and Stripe's webhooks are lost as well.
    second = invoice_upload()
    assert api.put(f"/api/v1/invoices/{second['invoice_id']}", json=second).status_code == 200
    token = second["link_token"]
    csrf = csrf_token(config, hash_token(token))
    fake.drop_webhooks = True
    killer.armed = True
    with pytest.raises(httpx.HTTPError):  # the connection dies with the process
        phone.post(f"/pay/{token}/pay", data={"csrf": csrf, "version": "1", "tip": "none", "card": card_id})
    assert killer.killed.wait(10), "the companion was killed at Stripe's answer"
    assert fake.charge_count(invoice_id=second["invoice_id"]) == 1, "Stripe charged the card"
    [(status, ref)] = rows(
        companion.database_url,
        select(Payment.status, Payment.gateway_payment_id).where(Payment.invoice_id == second["invoice_id"]),
    )
    assert (status, ref) == ("pending", None), "the companion died before recording Stripe's answer"

    companion.start()
    restarted = time.monotonic()  # from the moment it answers again
    view = wait_until(
        lambda: (v := api.get(f"/api/v1/invoices/{second['invoice_id']}").json())["status"] == "paid" and v,
        timeout=20,
        what="reconciliation to find the charge",
    )
    seconds = time.monotonic() - restarted
    events = api.get("/api/v1/events", params={"after": 0}).json()["events"]
    paid = [e for e in events if e["type"] == "invoice.paid" and e["invoice_id"] == second["invoice_id"]]
    assert len(paid) == 1 and paid[0]["data"]["payment"]["card_last4"] == "4242"
    assert view["status"] == "paid"
    # The client retrying now sees it paid; nothing is charged again.
    again = phone.get(f"/pay/{token}")
    assert "already paid" in again.text.lower()
    orphaned = sum(
        1
        for charge in fake.charges.values()
        if charge["status"] == "succeeded"
        and api.get(f"/api/v1/invoices/{charge['metadata']['invoice_id']}").json()["status"] != "paid"
    )
    assert orphaned == 0
    assert fake.charge_count(invoice_id=second["invoice_id"]) == 1
    print(f"\nFIGURE case 6: orphaned payments {orphaned}; up again to paid {seconds:.2f} s")
    phone.close()


def test_a_simulator_charge_cut_by_a_restart_leaves_the_link_payable(companion: Companion) -> None:
    body = invoice_upload()
    assert companion.api.put(f"/api/v1/invoices/{body['invoice_id']}", json=body).status_code == 200
    # What a kill between "pending row committed" and "gateway answer committed" leaves behind.
    with companion.db.write() as session:
        session.add(
            Payment(
                id="p" * 32,
                store_id=companion.terminal.store_id,
                invoice_id=body["invoice_id"],
                invoice_version=1,
                gateway="simulator",
                idempotency_key=f"{body['invoice_id']}:v1:a1",
                kind="invoice",
                status="pending",
                amount_minor=8165,
                tip_minor=0,
                currency="USD",
            )
        )
    # The restarted process: a new gateway directory, so an empty Simulator ledger; its first pass.
    reconcile.reconcile(companion.db, GatewayDirectory(companion.config), settle_time=timedelta(0))
    answer = pay_link(companion.url, body["link_token"])
    assert answer.status_code == 303, answer.text[:300]
    receipt = httpx.get(companion.url + answer.headers["location"], timeout=30)
    assert 'data-testid="confirmation"' in receipt.text, "the client is stuck on 'processing'"
    with companion.db.read() as session:
        cut = session.get(Payment, "p" * 32)
        assert cut is not None and cut.status == "failed" and "No card was charged" in cut.failure_message


def test_killed_after_the_commit_the_pos_catches_up_from_its_cursor(tmp_path: Path) -> None:
    database_url = f"sqlite+pysqlite:///{tmp_path / 'companion.db'}"
    terminal = prepare_store(database_url)
    companion = CompanionProcess(database_url, tmp_path / "companion.log")
    companion.start()
    till = Till(tmp_path / "pos.db", companion.url, terminal.credential, terminal.store_id)
    rounds = 3
    catch_up: list[float] = []
    try:
        till.start()
        tickets = []
        for n in range(rounds):
            ticket = till.new_ticket(price=5000 + n)
            link = till.send(ticket.id)
            wait_until(lambda: till.pending() == 0, what="the upload")
            listening = n == rounds - 1  # the last round races the event stream instead
            if not listening:
                till.pause()  # the POS cannot hear the payment
            paid = pay_link(companion.url, link.token)
            assert paid.status_code == 303, paid.text[:300]
            companion.kill()  # right after the commit (the 303 is sent after it)
            companion.start()
            back = time.monotonic()
            if not listening:
                till.start()
            wait_until(lambda t=ticket.id: till.ticket(t).state is TicketState.PAID, timeout=30, what="the close")
            catch_up.append(time.monotonic() - back)
            tickets.append(ticket.id)
        time.sleep(1.0)  # any (wrong) second application would land now
        payments = {ticket_id: len(till.ticket(ticket_id).payments) for ticket_id in tickets}
        duplicate = sum(max(0, count - 1) for count in payments.values())
        lost = sum(1 for ticket_id in tickets if till.ticket(ticket_id).state is not TicketState.PAID)
        assert (duplicate, lost) == (0, 0), payments
        assert companion.starts == rounds + 1
        print(
            f"\nFIGURE case 7: duplicate closes {duplicate}, lost closes {lost} over {rounds} kills; "
            f"restart to close max {max(catch_up):.2f} s"
        )
    finally:
        till.close()
        companion.stop()
