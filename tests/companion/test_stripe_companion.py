"""A store paid through Stripe, end to end over HTTP: the companion on uvicorn, the fake Stripe API on
another port delivering signed webhooks to ``/webhooks/stripe``, and the page's steps as the page
script makes them (Stripe.js's confirmation is the fake's ``confirm_from_browser``)."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from posdesk.companion.models import Payment, PaymentStatus, SavedCard, WebhookEvent
from posdesk.companion.pay.security import csrf_token
from posdesk.companion.payments import gateway_directory, reconcile, saved_cards
from posdesk.core.links import hash_token
from tests.companion.conftest import STRIPE_WHSEC, Companion, invoice_upload, put_invoice
from tests.fakes.serve import serve_app
from tests.fakes.stripe_api import FakeStripe, sign_webhook_payload
from tests.gateway_setup import connect_stripe

SAVE = {"mode": "payment", "currency": "usd", "setupFutureUsage": "off_session"}
NO_SAVE = {"mode": "payment", "currency": "usd", "setupFutureUsage": None}


@dataclass
class StripeStore:
    companion: Companion
    fake: FakeStripe
    page: httpx.Client

    def invoice(self, **kw: Any) -> tuple[str, dict[str, Any]]:
        body = invoice_upload(**kw)
        assert put_invoice(self.companion.api, body).status_code == 200
        return body["link_token"], body

    def form(self, token: str, **fields: str) -> dict[str, str]:
        return {
            "csrf": csrf_token(self.companion.config, hash_token(token)),
            "version": "1",
            "tip": "none",
            **fields,
        }

    def start(self, token: str, **fields: str) -> httpx.Response:
        return self.page.post(f"/pay/{token}/stripe/intent", data=self.form(token, **fields))

    def pay_new_card(
        self, token: str, test_card: str = "pm_card_visa", *, save: bool = False, **fields: str
    ) -> dict[str, Any]:
        """What the page does: ask for the intent, confirm it with Stripe.js, then ask to sync."""
        if save:
            fields["save_card"] = "on"
        started = self.start(token, **fields)
        assert started.status_code == 200, started.text
        intent = started.json()
        confirmed = self.fake.confirm_from_browser(
            intent["client_secret"], test_card, elements=SAVE if save else NO_SAVE
        )
        synced = self.page.post(intent["sync_url"], data=self.form(token)).json()
        return {**intent, "confirmed": confirmed, "synced": synced}

    def send_event(
        self, event_id: str, kind: str, obj: dict[str, Any], *, path: str = "/webhooks/stripe", secret: str = STRIPE_WHSEC
    ) -> httpx.Response:
        """Deliver a Stripe event about ``obj`` as Stripe would: the raw JSON body, signed with ``secret``."""
        event = {"id": event_id, "object": "event", "type": kind, "created": int(time.time()), "data": {"object": obj}}
        raw = json.dumps(event).encode()
        return self.page.post(path, content=raw, headers={"Stripe-Signature": sign_webhook_payload(raw, secret)})

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        events = self.companion.api.get("/api/v1/events").json()["events"]
        return [e for e in events if kind is None or e["type"] == kind]

    def wait_for(self, kind: str, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            self.fake.wait_for_webhooks(timeout)
            found = self.events(kind)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until Stripe's webhooks are delivered and the companion has applied every one."""
        assert self.fake.wait_for_webhooks(timeout), "webhooks still being delivered"
        deadline = time.monotonic() + timeout
        while True:
            with self.companion.db.read() as session:
                waiting = session.query(WebhookEvent).filter(WebhookEvent.processed_at.is_(None)).count()
            if not waiting:
                return
            assert time.monotonic() < deadline, f"{waiting} webhooks not applied"
            time.sleep(0.05)

    def save_without_paying(self, token: str, test_card: str) -> None:
        """What "Save this card without paying" does: a SetupIntent confirmed by Stripe.js, then done."""
        form = self.form(token)
        setup = self.page.post(f"/pay/{token}/stripe/setup", data=form).json()
        self.fake.confirm_from_browser(setup["client_secret"], test_card, elements={"mode": "setup"})
        assert self.page.post(setup["done_url"], data=form).status_code == 200

    def driver(self) -> Any:
        """The store's Stripe driver: what Stripe's dashboard does, through the API."""
        from posdesk.companion.models import Store

        with self.companion.db.read() as session:
            store = session.get(Store, self.companion.terminal.store_id)
            assert store is not None
            return gateway_directory(self.companion.app.state).for_store(store)

    def payment(self, payment_id: str) -> Payment:
        with self.companion.db.read() as session:
            payment = session.get(Payment, payment_id)
            assert payment is not None
            session.expunge(payment)
            return payment


@pytest.fixture
def stripe_store(companion: Companion, fake: FakeStripe) -> Iterator[StripeStore]:
    with serve_app(fake.app) as base:
        fake.webhook_url = f"{companion.url}/webhooks/stripe"
        connect_stripe(companion.api, base, STRIPE_WHSEC)
        yield StripeStore(companion, fake, companion.client())


def test_test_connection_reports_the_stripe_account(stripe_store: StripeStore) -> None:
    answer = stripe_store.companion.api.post("/api/v1/gateway/test").json()
    assert answer["ok"] and "Posdesk Test Shop" in answer["message"]


def test_the_page_allows_exactly_stripes_origins(stripe_store: StripeStore) -> None:
    token, _ = stripe_store.invoice()
    page = stripe_store.page.get(f"/pay/{token}")
    assert page.status_code == 200 and 'id="stripe-payment-element"' in page.text
    policy = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    assert policy["script-src"] == "'self' https://js.stripe.com"
    assert policy["frame-src"] == "'self' https://js.stripe.com https://hooks.stripe.com"
    assert policy["connect-src"] == "'self' https://api.stripe.com"
    assert "pk_test_posdesk" in page.text and "sk_test_posdesk" not in page.text


def test_new_card_with_a_tip_closes_the_ticket(stripe_store: StripeStore) -> None:
    token, body = stripe_store.invoice()
    due = body["totals"]["balance_due"]
    paid = stripe_store.pay_new_card(token, tip="2")  # the 20% preset
    tip = round(6000 * 0.20)  # service lines only
    assert paid["amount"] == due + tip
    intent = stripe_store.fake.payment_intents[paid["client_secret"].split("_secret_")[0]]
    assert intent["metadata"]["tip"] == str(tip) and intent["metadata"]["invoice_id"] == body["invoice_id"]
    assert intent["metadata"]["invoice_version"] == "1" and intent["setup_future_usage"] is None
    assert paid["synced"]["status"] == "succeeded" and paid["synced"]["next"].endswith(paid["payment_id"])
    receipt = stripe_store.page.get(paid["synced"]["next"])
    assert "Visa •••• 4242" in receipt.text
    [closed] = stripe_store.wait_for("invoice.paid")
    assert closed["data"]["payment"]["tip"] == tip and closed["data"]["balance_due"] == 0
    assert stripe_store.fake.charge_count(invoice_id=body["invoice_id"]) == 1
    time.sleep(0.3)  # the late webhooks change nothing
    assert len(stripe_store.events("invoice.paid")) == 1


def test_a_saved_card_is_used_on_a_second_invoice(stripe_store: StripeStore) -> None:
    token, _ = stripe_store.invoice()
    paid = stripe_store.pay_new_card(token, save=True)
    assert paid["synced"]["status"] == "succeeded"
    intent = stripe_store.fake.payment_intents[paid["client_secret"].split("_secret_")[0]]
    assert intent["setup_future_usage"] == "off_session" and intent["customer"]
    with stripe_store.companion.db.read() as session:
        [card] = session.query(SavedCard).all()
        card_id, method = card.id, card.method_ref
    assert stripe_store.fake.payment_methods[method]["customer"] == intent["customer"]

    second, _ = stripe_store.invoice()
    page = stripe_store.page.get(f"/pay/{second}")
    assert "•••• 4242" in page.text and card_id in page.text
    used = stripe_store.page.post(f"/pay/{second}/pay", data=stripe_store.form(second, card=card_id))
    assert used.status_code == 303 and "/payments/" in used.headers["location"]
    assert len(stripe_store.wait_for("invoice.paid", 2)) == 2
    assert len(stripe_store.fake.customers) == 1  # one Stripe customer for the client


def test_a_saved_card_needing_3d_secure(stripe_store: StripeStore) -> None:
    token, _ = stripe_store.invoice()
    first = stripe_store.pay_new_card(token, "pm_card_authenticationRequired", save=True)
    assert first["synced"]["status"] == "requires_action"
    stripe_store.fake.complete_action(first["client_secret"].split("_secret_")[0])  # 3DS passed on the page
    synced = stripe_store.page.post(first["sync_url"], data=stripe_store.form(token)).json()
    assert synced["status"] == "succeeded"
    with stripe_store.companion.db.read() as session:
        [card] = session.query(SavedCard).all()
        card_id = card.id
    second, _ = stripe_store.invoice()
    used = stripe_store.page.post(f"/pay/{second}/pay", data=stripe_store.form(second, card=card_id))
    assert used.status_code == 303 and used.headers["location"].endswith("/authenticate")
    payment_id = used.headers["location"].split("/payments/")[1].split("/")[0]
    secret = stripe_store.page.get(f"/pay/{second}/payments/{payment_id}/stripe/secret").json()[
        "client_secret"
    ]
    stripe_store.fake.complete_action(secret.split("_secret_")[0])  # what handleNextAction does
    done = stripe_store.page.post(
        f"/pay/{second}/payments/{payment_id}/authenticate",
        data={"csrf": stripe_store.form(second)["csrf"], "outcome": "done"},
    )
    assert done.status_code == 303 and done.headers["location"].endswith(payment_id)
    assert stripe_store.payment(payment_id).status == PaymentStatus.SUCCEEDED.value


def test_a_decline_ends_the_attempt_and_another_card_pays(stripe_store: StripeStore) -> None:
    token, body = stripe_store.invoice()
    declined = stripe_store.pay_new_card(token, "pm_card_chargeDeclined")
    assert declined["confirmed"]["error"]["message"] == "Your card was declined."
    assert declined["synced"]["status"] == "failed" and "next" not in declined["synced"]
    assert stripe_store.payment(declined["payment_id"]).failure_message == "Your card was declined."
    paid = stripe_store.pay_new_card(token)
    assert paid["payment_id"] != declined["payment_id"] and paid["synced"]["status"] == "succeeded"
    assert stripe_store.wait_for("invoice.paid")
    assert stripe_store.fake.charge_count(invoice_id=body["invoice_id"]) == 1


@pytest.mark.parametrize("fields", [{"amount": "1"}, {"currency": "JPY"}, {"total": "100"}])
def test_a_tampered_amount_is_refused_and_nothing_is_created(
    stripe_store: StripeStore, fields: dict[str, str]
) -> None:
    token, _ = stripe_store.invoice()
    refused = stripe_store.start(token, **fields)
    assert refused.status_code == 400 and "Nothing was charged" in refused.json()["error"]
    assert stripe_store.fake.payment_intents == {}


def test_a_tip_over_the_cap_or_an_old_version_is_refused(stripe_store: StripeStore) -> None:
    token, _ = stripe_store.invoice()
    assert stripe_store.start(token, tip="custom", tip_custom="5000").status_code == 400
    assert stripe_store.start(token, version="0").status_code == 409
    assert stripe_store.fake.payment_intents == {}


def test_a_changed_tip_cancels_the_unconfirmed_intent(stripe_store: StripeStore) -> None:
    token, body = stripe_store.invoice()
    first = stripe_store.start(token, tip="0").json()
    again = stripe_store.start(token, tip="0").json()
    assert again["client_secret"] == first["client_secret"]  # double click: the same intent
    changed = stripe_store.start(token, tip="1").json()
    assert changed["payment_id"] != first["payment_id"]
    old = stripe_store.fake.payment_intents[first["client_secret"].split("_secret_")[0]]
    assert old["status"] == "canceled" and old["cancellation_reason"] == "abandoned"
    assert "error" in stripe_store.fake.confirm_from_browser(first["client_secret"], "pm_card_visa")
    assert stripe_store.fake.charge_count(invoice_id=body["invoice_id"]) == 0


def test_webhooks_duplicated_and_reordered_apply_once(stripe_store: StripeStore) -> None:
    stripe_store.fake.webhooks_mode = "manual"
    token, _ = stripe_store.invoice()
    started = stripe_store.start(token, tip="0").json()  # the page then closes: only webhooks tell
    stripe_store.fake.confirm_from_browser(started["client_secret"], "pm_card_visa", elements=NO_SAVE)
    deliveries = stripe_store.fake.deliver(duplicate=3, shuffle=True, seed=7)
    assert all(d.ok for d in deliveries)
    [closed] = stripe_store.wait_for("invoice.paid")
    assert closed["data"]["payment"]["card_last4"] == "4242"  # charge.succeeded carries the card
    assert stripe_store.payment(started["payment_id"]).status == PaymentStatus.SUCCEEDED.value
    with stripe_store.companion.db.read() as session:
        stored = session.query(WebhookEvent).filter_by(gateway="stripe").count()
    assert stored == len({d.event_id for d in deliveries})


def test_a_late_failure_never_undoes_a_success(stripe_store: StripeStore) -> None:
    token, _ = stripe_store.invoice()
    paid = stripe_store.pay_new_card(token)
    intent = stripe_store.fake.payment_intents[paid["client_secret"].split("_secret_")[0]]
    declined = {"message": "Your card was declined."}
    failed = {**intent, "status": "requires_payment_method", "last_payment_error": declined}
    answer = stripe_store.send_event("evt_late_failure", "payment_intent.payment_failed", failed)
    assert answer.status_code == 200
    stripe_store.wait_for("invoice.paid")
    time.sleep(0.2)
    assert stripe_store.payment(paid["payment_id"]).status == PaymentStatus.SUCCEEDED.value
    assert stripe_store.events("payment.failed") == []


def test_an_event_for_an_unknown_invoice_is_kept_and_applied_later(stripe_store: StripeStore) -> None:
    token, _ = stripe_store.invoice()
    paid = stripe_store.pay_new_card(token)
    intent = stripe_store.fake.payment_intents[paid["client_secret"].split("_secret_")[0]]
    metadata = {**intent["metadata"], "invoice_id": "not-yet", "payment_id": "p-unknown"}
    early = {**intent, "id": "pi_from_elsewhere", "metadata": metadata}
    stripe_store.send_event("evt_before_invoice", "payment_intent.succeeded", early)
    time.sleep(0.3)
    with stripe_store.companion.db.read() as session:
        kept = session.query(WebhookEvent).filter_by(event_id="evt_before_invoice").one()
        assert kept.processed_at is None and "kept for a retry" in kept.last_error


def test_a_lost_webhook_is_found_by_reconciliation(stripe_store: StripeStore) -> None:
    stripe_store.fake.drop_webhooks = True
    token, body = stripe_store.invoice()
    started = stripe_store.start(token, tip="1").json()
    stripe_store.fake.confirm_from_browser(started["client_secret"], "pm_card_visa", elements=NO_SAVE)
    # The phone lost its connection after Stripe charged: neither the page nor a webhook told the companion.
    assert stripe_store.events("invoice.paid") == []
    app = stripe_store.companion.app
    changed = reconcile.reconcile(
        app.state.db, gateway_directory(app.state), settle_time=reconcile.timedelta(0)
    )
    assert changed == 1
    [closed] = stripe_store.events("invoice.paid")
    assert closed["invoice_id"] == body["invoice_id"] and closed["data"]["payment"]["card_last4"] == "4242"
    assert (
        reconcile.reconcile(app.state.db, gateway_directory(app.state), settle_time=reconcile.timedelta(0))
        == 0
    )


def test_reconciliation_cancels_an_intent_abandoned_for_an_hour(stripe_store: StripeStore) -> None:
    token, _ = stripe_store.invoice()
    started = stripe_store.start(token).json()
    app = stripe_store.companion.app
    later = reconcile.utcnow() + reconcile.ABANDONED_AFTER + reconcile.timedelta(minutes=1)
    reconcile.reconcile(app.state.db, gateway_directory(app.state), now=later)
    assert stripe_store.payment(started["payment_id"]).status == PaymentStatus.CANCELED.value
    assert (
        stripe_store.fake.payment_intents[started["client_secret"].split("_secret_")[0]]["status"]
        == "canceled"
    )


def test_refund_from_the_pos_shows_on_the_ticket(stripe_store: StripeStore) -> None:
    token, _ = stripe_store.invoice()
    paid = stripe_store.pay_new_card(token)
    stripe_store.wait_for("invoice.paid")
    api = stripe_store.companion.api
    partial = api.post(f"/api/v1/payments/{paid['payment_id']}/refund", json={"amount": 1000})
    assert partial.status_code == 200 and partial.json()["refunded_total"] == 1000
    rest = api.post(f"/api/v1/payments/{paid['payment_id']}/refund", json={})
    assert rest.status_code == 200 and rest.json()["refunded_total"] == paid["amount"]
    refunds = stripe_store.wait_for("payment.refunded", 2)
    assert [e["data"]["refunded_total"] for e in refunds] == [1000, paid["amount"]]
    time.sleep(0.3)  # charge.refunded webhooks: the totals are already recorded, nothing new
    assert len(stripe_store.events("payment.refunded")) == 2
    assert stripe_store.payment(paid["payment_id"]).status == PaymentStatus.REFUNDED.value
    over = api.post(f"/api/v1/payments/{paid['payment_id']}/refund", json={"amount": 1})
    assert over.status_code == 409


def test_a_refund_made_at_stripe_reaches_the_ticket_by_webhook(stripe_store: StripeStore) -> None:
    token, _ = stripe_store.invoice()
    paid = stripe_store.pay_new_card(token)
    stripe_store.wait_for("invoice.paid")
    gateway = gateway_directory(stripe_store.companion.app.state)
    with stripe_store.companion.db.read() as session:
        from posdesk.companion.models import Store

        store = session.get(Store, stripe_store.companion.terminal.store_id)
        assert store is not None
        driver = gateway.for_store(store)
    driver.client.v1.refunds.create(
        {"payment_intent": paid["client_secret"].split("_secret_")[0], "amount": 700}
    )  # type: ignore[attr-defined]
    [refund] = stripe_store.wait_for("payment.refunded")
    assert refund["data"] == {
        **refund["data"],
        "payment_id": paid["payment_id"],
        "amount": 700,
        "refunded_total": 700,
    }


def test_another_stores_payment_cannot_be_refunded(stripe_store: StripeStore, other_terminal: Any) -> None:
    token, _ = stripe_store.invoice()
    paid = stripe_store.pay_new_card(token)
    other = stripe_store.companion.client(headers=other_terminal.headers)
    assert other.post(f"/api/v1/payments/{paid['payment_id']}/refund", json={}).status_code == 404


@pytest.mark.parametrize("how", ["wrong", "stale", "missing"])
def test_a_bad_signature_is_rejected_with_nothing_written(stripe_store: StripeStore, how: str) -> None:
    stripe_store.fake.sign_with = how
    token, _ = stripe_store.invoice()
    started = stripe_store.start(token).json()
    stripe_store.fake.confirm_from_browser(started["client_secret"], "pm_card_visa", elements=NO_SAVE)
    stripe_store.fake.wait_for_webhooks()
    assert stripe_store.fake.deliveries and all(d.status_code == 400 for d in stripe_store.fake.deliveries)
    with stripe_store.companion.db.read() as session:
        assert session.query(WebhookEvent).count() == 0
    assert stripe_store.payment(started["payment_id"]).status == PaymentStatus.PENDING.value
    assert stripe_store.events("invoice.paid") == []


def test_a_re_serialised_body_is_rejected(stripe_store: StripeStore) -> None:
    raw = json.dumps(
        {"id": "evt_x", "type": "payment_intent.succeeded", "data": {"object": {}}}, indent=2
    ).encode()
    header = sign_webhook_payload(raw, STRIPE_WHSEC)
    reencoded = json.dumps(json.loads(raw)).encode()
    answer = stripe_store.page.post(
        "/webhooks/stripe", content=reencoded, headers={"Stripe-Signature": header}
    )
    assert answer.status_code == 400
    with stripe_store.companion.db.read() as session:
        assert session.query(WebhookEvent).count() == 0


def test_a_card_saved_without_paying(stripe_store: StripeStore) -> None:
    token, _ = stripe_store.invoice()
    form = stripe_store.form(token)
    setup = stripe_store.page.post(f"/pay/{token}/stripe/setup", data=form).json()
    stripe_store.fake.confirm_from_browser(
        setup["client_secret"], "pm_card_mastercard", elements={"mode": "setup"}
    )
    done = stripe_store.page.post(setup["done_url"], data=form)
    assert done.status_code == 200 and done.json()["last4"] == "4444"
    page = stripe_store.page.get(f"/pay/{token}")
    assert "•••• 4444" in page.text


def test_walk_ins_cannot_save_cards(stripe_store: StripeStore) -> None:
    token, _ = stripe_store.invoice(client=None)
    answer = stripe_store.page.post(f"/pay/{token}/stripe/setup", data=stripe_store.form(token))
    assert answer.status_code == 400
    started = stripe_store.start(token, save_card="on").json()  # a walk-in's "save" is ignored
    assert started["setup_future_usage"] is None
    intent = stripe_store.fake.payment_intents[started["client_secret"].split("_secret_")[0]]
    assert intent["customer"] is None and intent["setup_future_usage"] is None
    assert stripe_store.fake.customers == {}


def test_stripe_webhooks_for_no_stripe_store_are_404(companion: Companion) -> None:
    client = companion.client()
    assert client.post("/webhooks/stripe", content=b"{}").status_code == 404
    assert client.post("/webhooks/stripe/no-such-store", content=b"{}").status_code == 404


def test_a_tip_afterwards_is_a_second_intent_on_the_saved_card(stripe_store: StripeStore) -> None:
    token, _ = stripe_store.invoice()
    paid = stripe_store.pay_new_card(token, save=True)
    receipt = stripe_store.page.get(paid["synced"]["next"])
    assert 'id="add-tip-form"' in receipt.text
    tipped = stripe_store.page.post(
        f"/pay/{token}/payments/{paid['payment_id']}/tip", data=stripe_store.form(token, tip="0")
    )
    assert tipped.status_code == 303
    [added] = stripe_store.wait_for("tip.added")
    assert added["data"]["payment"]["tip"] == 900  # 15% of the $60.00 service
    intents = sorted(stripe_store.fake.payment_intents.values(), key=lambda pi: pi["created"])
    second = [pi for pi in intents if pi["metadata"].get("kind") == "tip"]
    assert len(second) == 1 and second[0]["amount"] == 900
    assert second[0]["payment_method"] == stripe_store.payment(paid["payment_id"]).payment_method_ref


def test_a_one_off_card_offers_no_tip_afterwards(stripe_store: StripeStore) -> None:
    token, _ = stripe_store.invoice()
    paid = stripe_store.pay_new_card(token)  # not saved: Stripe cannot charge it again
    assert 'id="add-tip-form"' not in stripe_store.page.get(paid["synced"]["next"]).text


def shown_cards(page: str) -> dict[str, bool]:
    """The saved cards a page offers: last 4 digits -> marked as the default."""
    rows = page.split('data-testid="saved-card"')[1:]
    return {
        re.search(r"•••• (\d{4})", row).group(1): 'class="tag"' in row.split('data-testid="use-card"')[0]  # type: ignore[union-attr]
        for row in rows
    }


def card_listings(fake: FakeStripe) -> int:
    return sum(1 for r in fake.requests if r.method == "GET" and r.path == "/v1/payment_methods")


class ManualClock:
    """The card-list cache's clock, moved by the test: a slow CI machine must not age a listing."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def card_clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    clock = ManualClock()
    saved_cards.card_lists.forget()
    monkeypatch.setattr(saved_cards.card_lists, "_clock", clock)
    return clock


def test_the_page_lists_the_cards_stripe_has_for_the_client(stripe_store: StripeStore, card_clock: ManualClock) -> None:
    token, _ = stripe_store.invoice()
    stripe_store.pay_new_card(token, save=True)  # a Visa, the client's default here
    second, _ = stripe_store.invoice()
    stripe_store.save_without_paying(second, "pm_card_mastercard")
    assert shown_cards(stripe_store.page.get(f"/pay/{second}").text) == {"4242": True, "4444": False}
    with stripe_store.companion.db.read() as session:
        refs = {card.last4: card.method_ref for card in session.query(SavedCard)}
        customer = stripe_store.fake.payment_methods[refs["4242"]]["customer"]

    # In Stripe's dashboard: the Visa is detached, the Mastercard made the default.
    driver = stripe_store.driver()
    driver.client.v1.payment_methods.detach(refs["4242"])
    driver.client.v1.customers.update(customer, {"invoice_settings": {"default_payment_method": refs["4444"]}})
    stripe_store.settle()  # a setup_intent.succeeded webhook applied late lists the cards too
    listings = card_listings(stripe_store.fake)
    cached = stripe_store.page.get(f"/pay/{second}").text
    assert shown_cards(cached) == {"4242": True, "4444": False}  # listed under a minute ago: no wait on Stripe
    assert card_listings(stripe_store.fake) == listings

    card_clock.advance(saved_cards.CARD_LIST_FRESH_FOR + 1)  # a minute later
    page = stripe_store.page.get(f"/pay/{second}").text
    assert shown_cards(page) == {"4444": True}
    assert card_listings(stripe_store.fake) == listings + 1
    with stripe_store.companion.db.read() as session:
        visa = session.query(SavedCard).filter_by(method_ref=refs["4242"]).one()
        assert visa.removed_at is not None and not visa.is_default
    [card_id] = re.findall(r'name="card" value="([0-9a-f]{32})"', page)
    used = stripe_store.page.post(f"/pay/{second}/pay", data=stripe_store.form(second, card=card_id))
    assert used.status_code == 303 and "/payments/" in used.headers["location"]
    [paid] = [e for e in stripe_store.wait_for("invoice.paid", 2) if e["data"]["payment"]["card_last4"] == "4444"]
    assert paid["data"]["balance_due"] == 0


def test_a_card_attached_at_stripe_only_is_listed(stripe_store: StripeStore) -> None:
    token, _ = stripe_store.invoice()
    stripe_store.pay_new_card(token, save=True)
    with stripe_store.companion.db.read() as session:
        [method] = [card.method_ref for card in session.query(SavedCard)]
    customer = stripe_store.fake.payment_methods[method]["customer"]
    driver = stripe_store.driver()
    driver.client.v1.payment_methods.attach("pm_card_amex", {"customer": customer})  # saved by another app
    saved_cards.card_lists.forget()
    second, _ = stripe_store.invoice()
    assert shown_cards(stripe_store.page.get(f"/pay/{second}").text) == {"4242": True, "0005": False}


def test_with_stripe_down_the_page_shows_the_stored_cards(
    stripe_store: StripeStore, caplog: pytest.LogCaptureFixture
) -> None:
    token, _ = stripe_store.invoice()
    stripe_store.pay_new_card(token, save=True)
    second, _ = stripe_store.invoice()
    saved_cards.card_lists.forget()
    stripe_store.fake.fail_next(5, status=500)  # Stripe answers nothing but errors for a while
    with caplog.at_level(logging.WARNING, logger="posdesk.companion.payments.saved_cards"):
        page = stripe_store.page.get(f"/pay/{second}")
    assert page.status_code == 200 and shown_cards(page.text) == {"4242": True}
    assert any("could not be listed" in r.getMessage() for r in caplog.records)
    assert 'id="stripe-payment-element"' in page.text  # a new card can still be entered


# -- the ledger's invariants on a Stripe store (issue 12) ------------------------------------------------
def intent_of(stripe_store: StripeStore, client_secret: str) -> dict[str, Any]:
    return stripe_store.fake.payment_intents[client_secret.split("_secret_")[0]]


def saved_3ds_card(stripe_store: StripeStore) -> str:
    """A client whose saved card asks for 3-D Secure on every charge: the card's id."""
    token, _ = stripe_store.invoice()
    first = stripe_store.pay_new_card(token, "pm_card_authenticationRequired", save=True)
    stripe_store.fake.complete_action(first["client_secret"].split("_secret_")[0])
    assert stripe_store.page.post(first["sync_url"], data=stripe_store.form(token)).json()["status"] == "succeeded"
    with stripe_store.companion.db.read() as session:
        [card] = session.query(SavedCard).all()
        return card.id


def test_a_new_version_cancels_the_intent_waiting_for_3d_secure_and_keeps_its_secret(stripe_store: StripeStore) -> None:
    card = saved_3ds_card(stripe_store)
    token, body = stripe_store.invoice()
    used = stripe_store.page.post(f"/pay/{token}/pay", data=stripe_store.form(token, card=card))
    assert used.headers["location"].endswith("/authenticate")
    payment_id = used.headers["location"].split("/payments/")[1].split("/")[0]
    waiting = stripe_store.payment(payment_id).gateway_payment_id
    assert waiting
    second = invoice_upload(invoice_id=body["invoice_id"], ticket_id=body["ticket_id"], link_token=token, version=2)
    assert put_invoice(stripe_store.companion.api, second).status_code == 200
    assert stripe_store.fake.payment_intents[waiting]["status"] == "canceled"  # before the POS's answer
    assert stripe_store.payment(payment_id).status == PaymentStatus.CANCELED.value
    secret = stripe_store.page.get(f"/pay/{token}/payments/{payment_id}/stripe/secret")
    assert secret.status_code == 404  # the old intent's client secret is never handed out again
    assert stripe_store.fake.charge_count(invoice_id=body["invoice_id"]) == 0


def test_pressing_pay_again_after_ticking_save_card_starts_a_new_attempt(stripe_store: StripeStore) -> None:
    token, _ = stripe_store.invoice()
    first = stripe_store.start(token)
    assert first.status_code == 200
    again = stripe_store.start(token, save_card="on")  # the same attempt, another choice
    assert again.status_code == 200, again.text  # not Stripe's 400 for a reused key
    assert again.json()["payment_id"] != first.json()["payment_id"]
    assert intent_of(stripe_store, first.json()["client_secret"])["status"] == "canceled"
    assert intent_of(stripe_store, again.json()["client_secret"])["setup_future_usage"] == "off_session"
    confirmed = stripe_store.fake.confirm_from_browser(
        again.json()["client_secret"], "pm_card_visa",
        elements={"mode": "payment", "currency": "usd", "setupFutureUsage": "off_session"},
    )
    assert "error" not in confirmed
    assert stripe_store.page.post(again.json()["sync_url"], data=stripe_store.form(token)).json()["status"] == "succeeded"


def test_a_new_card_while_a_saved_card_waits_for_3d_secure_cancels_the_waiting_intent(stripe_store: StripeStore) -> None:
    card = saved_3ds_card(stripe_store)
    token, body = stripe_store.invoice()
    used = stripe_store.page.post(f"/pay/{token}/pay", data=stripe_store.form(token, card=card))
    payment_id = used.headers["location"].split("/payments/")[1].split("/")[0]
    waiting = stripe_store.payment(payment_id).gateway_payment_id or ""
    paid = stripe_store.pay_new_card(token)  # the client gives up on the bank's page and enters a new card
    assert paid["synced"]["status"] == "succeeded"
    assert stripe_store.fake.payment_intents[waiting]["status"] == "canceled"
    assert stripe_store.payment(payment_id).status == PaymentStatus.CANCELED.value
    assert stripe_store.fake.charge_count(invoice_id=body["invoice_id"]) == 1


def test_a_tip_afterwards_is_confirmed_on_session_so_3d_secure_can_be_done(stripe_store: StripeStore) -> None:
    token, _ = stripe_store.invoice()
    first = stripe_store.pay_new_card(token, "pm_card_authenticationRequired", save=True)
    stripe_store.fake.complete_action(first["client_secret"].split("_secret_")[0])
    stripe_store.page.post(first["sync_url"], data=stripe_store.form(token))
    tipped = stripe_store.page.post(
        f"/pay/{token}/payments/{first['payment_id']}/tip", data=stripe_store.form(token, tip="0")
    )
    # The bank asks for 3-D Secure on the tip too: the client gets the challenge, not a decline.
    assert tipped.status_code == 303 and tipped.headers["location"].endswith("/authenticate"), tipped.text[:300]
    tip_id = tipped.headers["location"].split("/payments/")[1].split("/")[0]
    secret = stripe_store.page.get(f"/pay/{token}/payments/{tip_id}/stripe/secret").json()["client_secret"]
    stripe_store.fake.complete_action(secret.split("_secret_")[0])
    done = stripe_store.page.post(
        f"/pay/{token}/payments/{tip_id}/authenticate", data={"csrf": stripe_store.form(token)["csrf"], "outcome": "done"}
    )
    assert done.status_code == 303
    [added] = stripe_store.wait_for("tip.added")
    assert added["data"]["payment"]["tip"] == 900


def test_payments_are_for_cards_only(stripe_store: StripeStore) -> None:
    token, _ = stripe_store.invoice()
    started = stripe_store.start(token).json()
    intent = intent_of(stripe_store, started["client_secret"])
    assert intent["payment_method_types"] == ["card"] and intent.get("automatic_payment_methods") is None


def test_cards_saved_without_paying_are_cards_only(stripe_store: StripeStore) -> None:
    token, _ = stripe_store.invoice()
    form = stripe_store.form(token)
    setup = stripe_store.page.post(f"/pay/{token}/stripe/setup", data=form).json()
    seti = stripe_store.fake.setup_intents[setup["client_secret"].split("_secret_")[0]]
    assert seti["allowed_payment_method_types"] == ["card"] and seti["payment_method_types"] == ["card"]
    assert seti.get("automatic_payment_methods") is None  # nothing the Dashboard switches on is offered
    stripe_store.fake.confirm_from_browser(setup["client_secret"], "pm_card_visa", elements={"mode": "setup"})
    assert stripe_store.page.post(setup["done_url"], data=form).json()["last4"] == "4242"


def test_an_event_signed_by_another_stripe_store_cannot_settle_this_stores_invoice(
    stripe_store: StripeStore, other_terminal: Any
) -> None:
    token, _ = stripe_store.invoice()
    started = stripe_store.start(token).json()  # store A's unconfirmed intent
    other = stripe_store.companion.client(headers=other_terminal.headers)
    connect_stripe(other, "http://127.0.0.1:9", "whsec_store_b", key="other")
    intent = intent_of(stripe_store, started["client_secret"])
    answer = stripe_store.send_event(
        "evt_cross_store", "payment_intent.succeeded",
        {**intent, "status": "succeeded", "amount_received": intent["amount"]},
        path=f"/webhooks/stripe/{other_terminal.store_id}", secret="whsec_store_b",
    )  # fmt: skip
    assert answer.status_code == 200  # verified with store B's secret: stored, then kept for review
    reviews = []
    for _ in range(100):
        reviews = [e for e in other.get("/api/v1/events").json()["events"] if e["type"] == "payment.needs_review"]
        if reviews:
            break
        time.sleep(0.1)
    assert reviews and "another store" in reviews[0]["data"]["reason"]
    assert stripe_store.payment(started["payment_id"]).status == PaymentStatus.PENDING.value
    assert stripe_store.events("invoice.paid") == []
