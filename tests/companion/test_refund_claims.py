"""Refunds of one payment are made one at a time by every companion on the database, not only per process.

Two companion apps (each its own engine, its own uvicorn, as two workers or two hosts would be) on one
SQLite file or one PostgreSQL database, a store paid through the fake Stripe API (shared by both, as
Stripe is). Managers at two terminals refund the same payment at once, half through each companion.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from posdesk.companion.app import create_app
from posdesk.companion.models import Payment, utcnow
from posdesk.companion.payments import gateway_directory, reconcile, refund_claims
from posdesk.core.money import Money
from tests.companion.conftest import STRIPE_WHSEC, Companion, service_line
from tests.companion.test_cloud9_page import cloud9_shop  # noqa: F401 - a fixture
from tests.companion.test_stripe_companion import StripeStore
from tests.fakes.serve import serve_app
from tests.fakes.stripe_api import FakeStripe
from tests.gateway_setup import connect_stripe


@dataclass
class TwoCompanions:
    store: StripeStore  # the first companion, whose store takes cards through Stripe
    second_url: str  # another companion app on the same database
    stripe_base: str = ""  # the fake Stripe's address

    def terminal(self, which: int) -> httpx.Client:
        """A manager's terminal talking to the first (0) or the second (1) companion."""
        url = self.store.companion.url if which == 0 else self.second_url
        made = httpx.Client(base_url=url, headers=self.store.companion.terminal.headers, timeout=30)
        self.store.companion.app.state.test_clients.append(made)
        return made

    def paid(self, price: int) -> Payment:
        token, _ = self.store.invoice(lines=[service_line(price=price)])
        paid = self.store.pay_new_card(token)
        assert paid["synced"]["status"] == "succeeded"
        return self.store.payment(paid["payment_id"])

    def refunded_at_stripe(self, payment: Payment) -> int:
        charges = [
            c for c in self.store.fake.charges.values() if c["payment_intent"] == payment.gateway_payment_id
        ]
        return sum(c["amount_refunded"] for c in charges)


@pytest.fixture
def two(make_companion: Callable[[str], Companion], db_url: str, fake: FakeStripe) -> Iterator[TwoCompanions]:
    companion = make_companion(db_url)
    with contextlib.ExitStack() as stack:
        base = stack.enter_context(serve_app(fake.app))
        fake.webhook_url = f"{companion.url}/webhooks/stripe"
        connect_stripe(companion.api, base, STRIPE_WHSEC)
        second = create_app(companion.config)  # the same configuration: the same secret key
        stack.callback(second.state.db.dispose)
        second_url = stack.enter_context(serve_app(second))
        yield TwoCompanions(StripeStore(companion, fake, companion.client()), second_url, base)


def refund(client: httpx.Client, payment: Payment, amount: int) -> httpx.Response:
    return client.post(f"/api/v1/payments/{payment.id}/refund", json={"amount": amount})


@pytest.mark.parametrize(
    ("price", "answered"), [(12000, 10), (6000, 6)], ids=["room-for-all", "room-for-six"]
)
def test_ten_partial_refunds_at_two_companions_refund_what_was_answered_and_record_it(
    two: TwoCompanions, price: int, answered: int
) -> None:
    payment = two.paid(price)
    managers = [two.terminal(i % 2) for i in range(10)]  # five at each companion
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda client: refund(client, payment, 1000), managers))
    refunded = [a for a in answers if a.status_code == 200]
    assert len(refunded) == answered, [(a.status_code, a.text[:80]) for a in answers]
    assert all("already refunded in full" in a.json()["detail"] for a in answers if a.status_code != 200)
    assert len({a.json()["refund_id"] for a in refunded}) == answered  # none answered twice
    assert two.refunded_at_stripe(payment) == 1000 * answered == two.store.payment(payment.id).refunded_minor
    assert two.store.payment(payment.id).refund_claim is None


def test_overlapping_refunds_of_50_and_40_at_two_companions_record_90(two: TwoCompanions) -> None:
    payment = two.paid(10000)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(lambda pair: refund(two.terminal(pair[0]), payment, pair[1]), [(0, 5000), (1, 4000)])
        )
    assert [a.status_code for a in answers] == [200, 200]
    assert two.refunded_at_stripe(payment) == 9000 == two.store.payment(payment.id).refunded_minor
    # one after the other, in whichever order the claim was won: the first answers its own amount
    assert sorted(a.json()["refunded_total"] for a in answers) in ([4000, 9000], [5000, 9000])


def test_a_refund_waits_for_the_one_in_progress_then_says_try_again(
    two: TwoCompanions, monkeypatch: pytest.MonkeyPatch
) -> None:
    payment = two.paid(6000)
    monkeypatch.setattr(refund_claims, "WAIT_SECONDS", 0.3)
    db = two.store.companion.db
    assert refund_claims.take(db, payment.id, "another-worker")  # a refund at the gateway right now
    busy = refund(two.terminal(1), payment, 1000)
    assert busy.status_code == 409 and busy.json()["detail"] == refund_claims.IN_PROGRESS
    assert busy.headers["retry-after"] == "2"
    assert two.refunded_at_stripe(payment) == 0
    refund_claims.release(db, payment.id, "another-worker")
    assert refund(two.terminal(1), payment, 1000).status_code == 200


def _worker_dies_after_asking(two: TwoCompanions, payment: Payment, amount: int) -> None:
    """What a worker killed between the gateway's answer and the commit leaves: its claim and its note."""
    db, token = two.store.companion.db, uuid.uuid4().hex
    assert refund_claims.take(db, payment.id, token)
    claim = refund_claims.Claim(db, payment.id, token)
    key = claim.asking(payment.refunded_minor, amount)
    two.store.driver().refund(payment.gateway_payment_id, Money(amount, payment.currency), key)
    with db.write() as session:  # the claim lapses (the worker is gone)
        session.execute(
            update(Payment)
            .where(Payment.id == payment.id)
            .values(refund_claim_until=utcnow() - timedelta(seconds=1))
        )


def test_a_refund_left_by_a_dead_worker_is_recorded_by_reconciliation(two: TwoCompanions) -> None:
    payment = two.paid(6000)
    two.store.fake.webhook_url = None  # Stripe's charge.refunded would tell too: look without it
    _worker_dies_after_asking(two, payment, 2500)
    assert two.store.payment(payment.id).refunded_minor == 0
    reconcile.reconcile(two.store.companion.db, gateway_directory(two.store.companion.app.state))
    after = two.store.payment(payment.id)
    assert after.refunded_minor == 2500 == two.refunded_at_stripe(payment)
    assert after.refund_claim is None and after.refund_pending_key is None
    [event] = two.store.events("payment.refunded")
    assert event["data"]["refunded_total"] == 2500


def test_the_next_refund_first_records_the_one_a_dead_worker_left(two: TwoCompanions) -> None:
    payment = two.paid(6000)
    two.store.fake.webhook_url = None
    _worker_dies_after_asking(two, payment, 1000)  # the same amount: the next refund's key would be the same
    answer = refund(two.terminal(1), payment, 1000)
    assert answer.status_code == 200 and answer.json()["refunded_total"] == 2000
    assert two.refunded_at_stripe(payment) == 2000 == two.store.payment(payment.id).refunded_minor


def test_a_queued_refund_that_meets_one_in_progress_is_sent_again_later(
    two: TwoCompanions, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A terminal that was offline sends its queued refund (the relay) while another refund holds the claim:
    the refund stays queued instead of being dropped as refused, and goes once the claim is free."""
    from posdesk.store import Database as PosDatabase
    from posdesk.store import Outbox
    from posdesk.store.models import OutboxRow

    payment = two.paid(6000)
    monkeypatch.setattr(refund_claims, "WAIT_SECONDS", 0.3)
    terminal = PosDatabase.open(tmp_path / "till.db")
    with terminal.session() as session:
        Outbox(session).enqueue(
            "api.post",
            f"refund:{payment.id}:to1000",
            {"path": f"/payments/{payment.id}/refund", "body": {"amount": 1000, "refunded_before": 0}},
        )
    companion = two.store.companion

    try:
        assert refund_claims.take(companion.db, payment.id, "another-worker")
        busy = companion.relay(terminal)
        assert (busy.sent, busy.rejected, busy.pending) == (0, 0, 1)
        refund_claims.release(companion.db, payment.id, "another-worker")
        with terminal.session() as session:  # its retry time has come
            session.execute(update(OutboxRow).values(next_try_at=utcnow()))
        sent = companion.relay(terminal)
        assert (sent.sent, sent.pending) == (1, 0)
        assert two.refunded_at_stripe(payment) == 1000 == two.store.payment(payment.id).refunded_minor
    finally:
        terminal.close()


def test_a_cloud9_refund_left_by_a_dead_worker_is_found_by_its_gtrc(cloud9_shop: Any) -> None:  # noqa: F811
    """Cloud9 reports no refunded total: the refund is found by the GTRC derived from its key."""
    from posdesk.companion.models import Store
    from tests.companion.test_cloud9_page import PayPage

    companion = cloud9_shop.companion
    body = cloud9_shop.invoice()
    page = PayPage(cloud9_shop, body)
    page.open()
    assert page.pay(gw_c9_token=cloud9_shop.card_token()).status_code == 303
    [paid] = cloud9_shop.events("invoice.paid")
    with companion.db.read() as session:
        payment = session.get(Payment, paid["data"]["payment"]["id"])
        store = session.get(Store, companion.terminal.store_id)
        assert payment is not None and store is not None
        session.expunge(payment)
        driver = gateway_directory(companion.app.state).for_store(store)
    token = uuid.uuid4().hex
    assert refund_claims.take(companion.db, payment.id, token)
    key = refund_claims.Claim(companion.db, payment.id, token).asking(0, 1500)
    driver.refund(payment.gateway_payment_id, Money(1500, payment.currency), key)  # then the worker died
    with companion.db.write() as session:
        session.execute(
            update(Payment).where(Payment.id == payment.id).values(refund_claim_until=utcnow() - timedelta(seconds=1))
        )
    reconcile.reconcile(companion.db, gateway_directory(companion.app.state))
    with companion.db.read() as session:
        after = session.get(Payment, payment.id)
        assert after is not None
        assert after.refunded_minor == 1500 and after.refund_pending_key is None and after.refund_claim is None
    [refunded] = cloud9_shop.events("payment.refunded")
    assert refunded["data"]["refunded_total"] == 1500


def test_a_refund_still_waiting_on_a_slow_stripe_keeps_its_claim(
    two: TwoCompanions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With five retries a Stripe refund may take about 2.5 minutes (six 20 s attempts and the back-off):
    a second refund arriving while the first still waits on Stripe finds the payment claimed."""
    from posdesk.gateways.stripe.driver import StripeGateway

    payment = two.paid(6000)
    public = {"publishable_key": "pk_test_posdesk", "stripe_api_base": two.stripe_base, "max_network_retries": "5"}
    answer = two.store.companion.api.put(
        "/api/v1/gateway",
        json={"kind": "stripe", "public": public, "secrets": {"secret_key": "sk_test_posdesk", "webhook_secret": STRIPE_WHSEC}},
    )
    assert answer.status_code == 200, answer.text
    db, refund_call = two.store.companion.db, StripeGateway.refund
    taken_meanwhile: list[bool] = []

    def slow(self: StripeGateway, payment_ref: str, amount: Money, key: str) -> Any:
        later = utcnow() + timedelta(minutes=2, seconds=30)  # still waiting on Stripe's sixth attempt
        with monkeypatch.context() as clock:
            clock.setattr(refund_claims, "utcnow", lambda: later)
            taken_meanwhile.append(refund_claims.take(db, payment.id, "second-worker"))
        return refund_call(self, payment_ref, amount, key)

    monkeypatch.setattr(StripeGateway, "refund", slow)
    assert refund(two.terminal(0), payment, 1000).status_code == 200
    assert taken_meanwhile == [False]
    assert two.refunded_at_stripe(payment) == 1000 == two.store.payment(payment.id).refunded_minor
