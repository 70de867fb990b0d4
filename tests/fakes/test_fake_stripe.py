"""The fake Stripe, driven by the real stripe-python client (and, for the Stripe.js stand-in, Chromium).

If these pass, code that works against the fake speaks Stripe's wire format as stripe-python does:
form encoding, errors raised as the right exception classes, idempotent replays, signed webhooks.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from tests.fakes.serve import serve_app
from tests.fakes.stripe_api import FakeStripe, FakeStripeError, decode_form, make_fake_stripe

SECRET = "whsec_test_secret"


# ------------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------------


class Receiver:
    """A webhook endpoint that keeps the raw bytes and headers it got, and answers ``status``."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.status = 200
        self.lock = threading.Lock()

        async def hook(request: Request) -> Response:
            body = await request.body()
            with self.lock:
                self.received.append((body, dict(request.headers)))
            return Response(status_code=self.status)

        self.app = Starlette(routes=[Route("/webhook", hook, methods=["POST"])])

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for body, _ in self.received]

    def wait_for(self, n: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < n and time.monotonic() < deadline:
            time.sleep(0.01)


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with make_fake_stripe(webhook_secret=SECRET) as f:
        yield f


@pytest.fixture
def base_url(fake: FakeStripe) -> Iterator[str]:
    with serve_app(fake.app) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_x", base_addresses={"api": base_url}, max_network_retries=0)


@pytest.fixture
def receiver(fake: FakeStripe) -> Iterator[Receiver]:
    rec = Receiver()
    with serve_app(rec.app) as url:
        fake.webhook_url = f"{url}/webhook"
        yield rec
        fake.close()  # finish deliveries while the receiver still listens


def _card_payment(client: stripe.StripeClient, pm: str = "pm_card_visa", **extra: Any) -> Any:
    params: Any = {
        "amount": 2500,
        "currency": "usd",
        "payment_method": pm,
        "confirm": True,
        "return_url": "https://pay.example.test/return",
        "metadata": {"invoice_id": "inv_1", "invoice_version": "1", "tip": "300"},
    }
    params.update(extra)
    return client.v1.payment_intents.create(params=params)


# ------------------------------------------------------------------------------------------------
# Wire format
# ------------------------------------------------------------------------------------------------


def test_decode_form_handles_stripe_nesting() -> None:
    pairs = [
        ("metadata[invoice_id]", "42"),
        ("metadata[0]", "zero"),  # metadata keys stay strings even when numeric
        ("payment_method_types[]", "card"),
        ("expand[0]", "latest_charge"),
        ("expand[1]", "customer"),
        ("automatic_payment_methods[enabled]", "true"),
    ]
    assert decode_form(pairs) == {
        "metadata": {"invoice_id": "42", "0": "zero"},
        "payment_method_types": ["card"],
        "expand": ["latest_charge", "customer"],
        "automatic_payment_methods": {"enabled": "true"},
    }


def test_missing_or_wrong_key_is_401(base_url: str) -> None:
    bad = stripe.StripeClient("sk_live_nope123456789", base_addresses={"api": base_url}, max_network_retries=0)
    with pytest.raises(stripe.AuthenticationError) as err:
        bad.v1.customers.create()
    assert err.value.http_status == 401
    assert "Invalid API Key provided" in str(err.value.user_message)
    response = httpx.post(f"{base_url}/v1/customers")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_unknown_parameter_and_unknown_url_are_rejected(client: stripe.StripeClient, base_url: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as err:
        bad: Any = {"amount": 100, "currency": "usd", "tip": 5}  # Stripe has no tip parameter
        client.v1.payment_intents.create(params=bad)
    assert err.value.code == "parameter_unknown" and err.value.param == "tip"
    response = httpx.get(f"{base_url}/v1/nothing", headers={"Authorization": "Bearer sk_test_x"})
    assert response.status_code == 404


def test_curl_style_empty_brackets_and_stripe_version(base_url: str) -> None:
    response = httpx.post(
        f"{base_url}/v1/payment_intents",
        headers={"Authorization": "Bearer sk_test_x", "Stripe-Version": "2024-06-20"},
        content="amount=700&currency=eur&payment_method_types[]=card&metadata[invoice_id]=9",
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["payment_method_types"] == ["card"] and body["metadata"] == {"invoice_id": "9"}
    assert response.headers["stripe-version"] == "2024-06-20"


def test_payment_method_types_follows_the_api_version(client: stripe.StripeClient) -> None:
    # stripe-python 16 pins 2026-10-28.endive, where the parameter is gone (Stripe changelog,
    # 2026-09-30.endive); allowed_payment_method_types replaces it.
    legacy: Any = {"amount": 700, "currency": "usd", "payment_method_types": ["card"]}
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.payment_intents.create(params=legacy)
    assert err.value.code == "payment_method_types_no_longer_supported"
    pi = client.v1.payment_intents.create(params={
        "amount": 700, "currency": "usd", "allowed_payment_method_types": ["card"],
        "payment_method": "pm_card_visa", "confirm": True})  # card only: no return_url needed
    assert pi.status == "succeeded" and pi.payment_method_types == ["card"]
    assert pi.allowed_payment_method_types == ["card"] and pi.automatic_payment_methods is None


def test_account_display_name(client: stripe.StripeClient) -> None:
    account = client.v1.accounts.retrieve_current()
    assert account.settings is not None and account.settings.dashboard.display_name == "Posdesk Test Shop"
    assert account.business_profile is not None and account.business_profile.name == "Posdesk Test Shop"


# ------------------------------------------------------------------------------------------------
# Customers and payment methods
# ------------------------------------------------------------------------------------------------


def test_customer_create_retrieve_update(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"email": "ann@example.test", "name": "Ann",
                                                  "metadata": {"client_id": "17"}})
    assert customer.id.startswith("cus_") and customer.object == "customer"
    assert client.v1.customers.retrieve(customer.id).to_dict()["metadata"] == {"client_id": "17"}
    updated = client.v1.customers.update(customer.id, params={"name": "Ann B", "metadata": {"client_id": ""}})
    assert updated.name == "Ann B" and updated.to_dict()["metadata"] == {}
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.customers.retrieve("cus_missing")
    assert err.value.http_status == 404 and err.value.code == "resource_missing"


def test_payment_method_attach_list_default_detach(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"email": "bob@example.test"})
    visa = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    master = client.v1.payment_methods.attach("pm_card_mastercard", params={"customer": customer.id})
    # A test name creates a real PaymentMethod with the card's details.
    assert visa.id.startswith("pm_") and visa.id != "pm_card_visa"
    assert visa.card is not None and (visa.card.brand, visa.card.last4) == ("visa", "4242")
    assert master.card is not None and master.card.last4 == "4444"

    listed = client.v1.payment_methods.list(params={"customer": customer.id, "type": "card"})
    assert {pm.id for pm in listed.data} == {visa.id, master.id}

    updated = client.v1.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": master.id}}
    )
    assert updated.invoice_settings is not None
    assert updated.invoice_settings.default_payment_method == master.id
    expanded = client.v1.customers.retrieve(customer.id, params={"expand": ["invoice_settings.default_payment_method"]})
    assert expanded.invoice_settings.default_payment_method.card.last4 == "4444"  # type: ignore[union-attr]

    detached = client.v1.payment_methods.detach(master.id)
    assert detached.customer is None
    # Detaching the default card clears the default, and the card cannot be reused.
    customer_after = client.v1.customers.retrieve(customer.id)
    assert customer_after.invoice_settings is not None
    assert customer_after.invoice_settings.default_payment_method is None
    listed = client.v1.payment_methods.list(params={"customer": customer.id, "type": "card"})
    assert [pm.id for pm in listed.data] == [visa.id]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_methods.attach(master.id, params={"customer": customer.id})

    other = client.v1.customers.create()
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.customers.update(other.id, params={"invoice_settings": {"default_payment_method": visa.id}})
    assert err.value.param == "invoice_settings[default_payment_method]"


# ------------------------------------------------------------------------------------------------
# PaymentIntents
# ------------------------------------------------------------------------------------------------


def test_payment_intent_create_then_confirm_succeeds(client: stripe.StripeClient, fake: FakeStripe) -> None:
    customer = client.v1.customers.create()
    pi = client.v1.payment_intents.create(
        params={"amount": 1850, "currency": "usd", "customer": customer.id,
                "automatic_payment_methods": {"enabled": True}, "metadata": {"invoice_id": "inv_7"}}
    )
    assert pi.status == "requires_payment_method" and pi.client_secret and pi.client_secret.startswith(pi.id)
    assert pi.automatic_payment_methods is not None and pi.automatic_payment_methods.enabled is True

    pi = client.v1.payment_intents.update(pi.id, params={"amount": 2000})
    assert pi.amount == 2000
    # With automatic payment methods Stripe insists on a return_url when confirming.
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_visa"})
    assert err.value.param == "return_url"

    pi = client.v1.payment_intents.confirm(
        pi.id, params={"payment_method": "pm_card_visa", "return_url": "https://x.test/r", "expand": ["latest_charge"]}
    )
    assert pi.status == "succeeded" and pi.amount_received == 2000
    charge = pi.latest_charge
    assert not isinstance(charge, str) and charge is not None
    assert charge.status == "succeeded" and charge.metadata["invoice_id"] == "inv_7"
    assert client.v1.charges.retrieve(charge.id).payment_intent == pi.id
    assert fake.charge_count(invoice_id="inv_7") == 1 and fake.charge_count(payment_intent=pi.id) == 1

    # Amount changes are refused once the money moved.
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.payment_intents.update(pi.id, params={"amount": 1})
    assert err.value.code == "payment_intent_unexpected_state"
    assert client.v1.payment_intents.update(pi.id, params={"metadata": {"note": "ok"}}).metadata["note"] == "ok"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.confirm(pi.id, params={"return_url": "https://x.test/r"})

    listed = client.v1.payment_intents.list(params={"customer": customer.id})
    assert [p.id for p in listed.data] == [pi.id]
    query = {"query": "metadata['invoice_id']:'inv_7' AND status:'succeeded'"}
    assert client.v1.payment_intents.search(params=query).data == []  # Search lags writes, as Stripe's does
    fake.search_lag = 0
    found = client.v1.payment_intents.search(params=query)
    assert [p.id for p in found.data] == [pi.id]


def test_decline_raises_card_error_and_intent_can_be_retried(client: stripe.StripeClient, fake: FakeStripe) -> None:
    with pytest.raises(stripe.CardError) as err:
        _card_payment(client, "pm_card_chargeDeclined")
    error = err.value
    assert error.http_status == 402 and error.code == "card_declined"
    assert error.error is not None and error.error.decline_code == "generic_decline"
    assert error.user_message == "Your card was declined."
    pi = error.error.payment_intent
    assert pi is not None and pi.status == "requires_payment_method"
    stored = client.v1.payment_intents.retrieve(pi.id)
    assert stored.last_payment_error is not None and stored.last_payment_error.code == "card_declined"
    assert fake.charge_count(payment_intent=pi.id) == 0
    assert fake.charge_count(payment_intent=pi.id, status="failed") == 1

    with pytest.raises(stripe.CardError) as err:
        client.v1.payment_intents.confirm(
            pi.id, params={"payment_method": "pm_card_chargeDeclinedInsufficientFunds",
                           "return_url": "https://x.test/r"}
        )
    assert err.value.error is not None and err.value.error.decline_code == "insufficient_funds"
    ok = client.v1.payment_intents.confirm(
        pi.id, params={"payment_method": "pm_card_mastercard", "return_url": "https://x.test/r"}
    )
    assert ok.status == "succeeded" and ok.last_payment_error is None
    assert [e["type"] for e in fake.events if e["type"].startswith("payment_intent.")] == [
        "payment_intent.created", "payment_intent.payment_failed", "payment_intent.payment_failed",
        "payment_intent.succeeded",
    ]


def test_3ds_requires_action_then_complete_action(client: stripe.StripeClient, fake: FakeStripe) -> None:
    pi = _card_payment(client, "pm_card_authenticationRequired")
    assert pi.status == "requires_action"
    assert pi.next_action is not None and pi.next_action.type == "use_stripe_sdk"
    assert fake.charge_count(payment_intent=pi.id) == 0
    with pytest.raises(FakeStripeError):
        fake.complete_action("pi_unknown")

    done = fake.complete_action(pi.id)
    assert done["status"] == "succeeded"
    assert client.v1.payment_intents.retrieve(pi.id).amount_received == 2500
    with pytest.raises(FakeStripeError):
        fake.complete_action(pi.id)  # nothing left to do

    failed = _card_payment(client, "pm_card_authenticationRequired")
    after = fake.complete_action(failed.id, succeed=False)
    assert after["status"] == "requires_payment_method"
    assert after["last_payment_error"]["code"] == "payment_intent_authentication_failure"
    types = [e["type"] for e in fake.events]
    assert "payment_intent.requires_action" in types and "payment_intent.payment_failed" in types


def test_off_session_needs_a_set_up_card(client: stripe.StripeClient, fake: FakeStripe) -> None:
    customer = client.v1.customers.create()
    # Saved without authentication: an off-session charge is declined with authentication_required.
    pm = client.v1.payment_methods.attach("pm_card_authenticationRequiredOnSetup", params={"customer": customer.id})
    with pytest.raises(stripe.CardError) as err:
        _card_payment(client, pm.id, customer=customer.id, off_session=True)
    assert err.value.code == "authentication_required"

    # Saved through a SetupIntent with 3-D Secure: off-session charges then succeed.
    si = client.v1.setup_intents.create(
        params={"customer": customer.id, "payment_method": "pm_card_authenticationRequiredOnSetup",
                "confirm": True, "allowed_payment_method_types": ["card"]}
    )
    assert si.status == "requires_action"
    assert fake.complete_action(si.id)["status"] == "succeeded"
    si = client.v1.setup_intents.retrieve(si.id)
    assert si.status == "succeeded" and isinstance(si.payment_method, str)
    pi = _card_payment(client, si.payment_method, customer=customer.id, off_session=True)
    assert pi.status == "succeeded"
    assert "setup_intent.succeeded" in [e["type"] for e in fake.events]


def test_setup_future_usage_saves_the_card(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create()
    pi = _card_payment(client, "pm_card_visa", customer=customer.id, setup_future_usage="off_session")
    assert pi.status == "succeeded"
    saved = client.v1.payment_methods.list(params={"customer": customer.id, "type": "card"})
    assert [p.id for p in saved.data] == [pi.payment_method]
    again = _card_payment(client, pi.payment_method, customer=customer.id, off_session=True)
    assert again.status == "succeeded"


def test_processing_hold_and_cancel(client: stripe.StripeClient, fake: FakeStripe) -> None:
    fake.hold_processing = True
    pi = _card_payment(client)
    assert pi.status == "processing"
    assert fake.settle(pi.id)["status"] == "succeeded"
    open_pi = client.v1.payment_intents.create(params={"amount": 900, "currency": "usd"})
    canceled = client.v1.payment_intents.cancel(open_pi.id, params={"cancellation_reason": "abandoned"})
    assert canceled.status == "canceled"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.cancel(pi.id)
    assert "payment_intent.processing" in [e["type"] for e in fake.events]


# ------------------------------------------------------------------------------------------------
# Idempotency and outages
# ------------------------------------------------------------------------------------------------


def test_idempotent_replay_and_idempotency_error(client: stripe.StripeClient, fake: FakeStripe,
                                                 base_url: str) -> None:
    params: Any = {"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True,
                              "return_url": "https://x.test/r", "metadata": {"invoice_id": "inv_9"}}
    first = client.v1.payment_intents.create(params=params, options={"idempotency_key": "inv_9-v1-t0-a1"})
    again = client.v1.payment_intents.create(params=params, options={"idempotency_key": "inv_9-v1-t0-a1"})
    assert again.id == first.id and len(fake.payment_intents) == 1
    assert fake.charge_count(invoice_id="inv_9") == 1
    assert [r.replayed for r in fake.requests if r.path == "/v1/payment_intents"] == [False, True]
    assert fake.requests[-1].idempotency_key == "inv_9-v1-t0-a1"

    changed: Any = {**params, "amount": 1200}
    with pytest.raises(stripe.IdempotencyError):
        client.v1.payment_intents.create(params=changed, options={"idempotency_key": "inv_9-v1-t0-a1"})

    # The replay is byte-for-byte the stored response, flagged by the header.
    headers = {"Authorization": "Bearer sk_test_x", "Idempotency-Key": "raw-1"}
    body = "amount=600&currency=usd"
    r1 = httpx.post(f"{base_url}/v1/payment_intents", headers=headers, content=body)
    r2 = httpx.post(f"{base_url}/v1/payment_intents", headers=headers, content=body)
    assert r1.content == r2.content and r2.headers["idempotent-replayed"] == "true"

    # A declined card is replayed too (the endpoint ran), without a second attempt.
    declined: Any = {**params, "payment_method": "pm_card_chargeDeclined", "metadata": {"invoice_id": "inv_10"}}
    for _ in range(2):
        with pytest.raises(stripe.CardError):
            client.v1.payment_intents.create(params=declined, options={"idempotency_key": "inv_10-a1"})
    assert fake.charge_count(invoice_id="inv_10", status="failed") == 1


def test_outage_lost_response_and_timeout(client: stripe.StripeClient, fake: FakeStripe, base_url: str) -> None:
    params: Any = {"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True,
                              "return_url": "https://x.test/r", "metadata": {"invoice_id": "inv_11"}}
    fake.fail_next(1, status=503)
    with pytest.raises(stripe.APIError):
        client.v1.payment_intents.create(params=params, options={"idempotency_key": "inv_11-a1"})
    assert fake.payment_intents == {}  # never reached the API

    fake.fail_next(1, status=500, after_processing=True)
    with pytest.raises(stripe.APIError):
        client.v1.payment_intents.create(params=params, options={"idempotency_key": "inv_11-a1"})
    assert fake.charge_count(invoice_id="inv_11") == 1  # it happened; the client just did not hear
    retried = client.v1.payment_intents.create(params=params, options={"idempotency_key": "inv_11-a1"})
    assert retried.status == "succeeded" and fake.charge_count(invoice_id="inv_11") == 1

    fake.delay_next(0.6)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{base_url}/v1/account", headers={"Authorization": "Bearer sk_test_x"}, timeout=0.2)
    time.sleep(0.6)
    fake.fail_next(1, status=429)
    with pytest.raises(stripe.RateLimitError):
        client.v1.customers.create()


def test_refunds_never_exceed_the_captured_amount(client: stripe.StripeClient, fake: FakeStripe) -> None:
    pi = _card_payment(client)
    partial = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1000})
    assert partial.status == "succeeded" and partial.amount == 1000
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1501})
    assert err.value.param == "amount"
    rest = client.v1.refunds.create(params={"payment_intent": pi.id})
    assert rest.amount == 1500
    charge = client.v1.charges.retrieve(str(pi.latest_charge))
    assert charge.refunded is True and charge.amount_refunded == 2500
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1})
    assert err.value.code == "charge_already_refunded"
    unpaid = client.v1.payment_intents.create(params={"amount": 900, "currency": "usd"})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create(params={"payment_intent": unpaid.id})
    assert len(fake.events_of_type("charge.refunded")) == 2


# ------------------------------------------------------------------------------------------------
# Events and webhooks
# ------------------------------------------------------------------------------------------------


def test_webhook_is_signed_so_construct_event_accepts_it(
    client: stripe.StripeClient, fake: FakeStripe, receiver: Receiver
) -> None:
    pi = _card_payment(client)
    assert fake.wait_for_webhooks()
    succeeded = [(body, headers) for body, headers in receiver.received
                 if json.loads(body)["type"] == "payment_intent.succeeded"]
    assert len(succeeded) == 1
    body, headers = succeeded[0]
    event = stripe.Webhook.construct_event(body, headers["stripe-signature"], SECRET)
    assert event.type == "payment_intent.succeeded"
    assert event.data.object["id"] == pi.id and event.data.object["amount_received"] == 2500
    assert event.data.object["metadata"]["invoice_id"] == "inv_1"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, headers["stripe-signature"], "whsec_other")

    # Events are listable and retrievable through the API, like Stripe's.
    listed = client.v1.events.list(params={"type": "payment_intent.*"})
    assert [e.type for e in listed.data][:1] == ["payment_intent.succeeded"]
    assert client.v1.events.retrieve(listed.data[0].id).id == listed.data[0].id


def test_wrong_and_stale_signatures_are_refused(
    client: stripe.StripeClient, fake: FakeStripe, receiver: Receiver
) -> None:
    fake.sign_with = "wrong"
    client.v1.customers.create()
    fake.sign_with = "stale"
    client.v1.customers.create()
    assert fake.wait_for_webhooks()
    assert len(receiver.received) == 2
    for body, headers in receiver.received:
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(body, headers["stripe-signature"], SECRET)


def test_manual_mode_delivers_duplicates_out_of_order(
    client: stripe.StripeClient, fake: FakeStripe, receiver: Receiver
) -> None:
    fake.webhooks_mode = "manual"
    _card_payment(client)
    queued = fake.pending_webhooks()
    assert len(queued) == 3 and receiver.received == []  # created, charge.succeeded, succeeded
    deliveries = fake.deliver(duplicate=2, shuffle=True, seed=3)
    assert len(deliveries) == 6 and all(d.ok for d in deliveries)
    ids = [e["id"] for e in receiver.events()]
    assert sorted(ids) == sorted(queued * 2)
    assert ids != [eid for eid in queued for _ in range(2)]  # shuffled
    for body, headers in receiver.received:
        stripe.Webhook.construct_event(body, headers["stripe-signature"], SECRET)
    assert fake.pending_webhooks() == []


def test_dropped_and_failed_deliveries_are_found_by_reconciliation(
    client: stripe.StripeClient, fake: FakeStripe, receiver: Receiver
) -> None:
    fake.drop_webhooks = True
    pi = _card_payment(client)
    fake.drop_webhooks = False
    assert receiver.received == []
    missed = client.v1.events.list(params={"delivery_success": False, "type": "payment_intent.succeeded"})
    assert [e.data.object["id"] for e in missed.data] == [pi.id]

    receiver.status = 500  # the receiver is broken: immediate mode retries, then gives up
    fake.webhook_retry_delay = 0.0
    client.v1.customers.create()
    assert fake.wait_for_webhooks()
    assert [d.status_code for d in fake.deliveries] == [500, 500, 500]

    receiver.status = 200
    redelivered = fake.redeliver_failed()
    assert redelivered and all(d.ok for d in redelivered)
    assert client.v1.events.list(params={"delivery_success": False}).data == []


def test_receiver_calling_back_into_the_fake_does_not_deadlock(fake: FakeStripe, client: stripe.StripeClient,
                                                                base_url: str) -> None:
    seen: list[str] = []

    async def hook(request: Request) -> Response:
        event = json.loads(await request.body())
        if event["type"] == "payment_intent.succeeded":
            async with httpx.AsyncClient() as http:  # re-read the intent, as a careful receiver does
                r = await http.get(f"{base_url}/v1/payment_intents/{event['data']['object']['id']}",
                                   headers={"Authorization": "Bearer sk_test_x"})
            seen.append(r.json()["status"])
        return Response(status_code=200)

    with serve_app(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as url:
        fake.webhook_url = f"{url}/hook"
        _card_payment(client)
        assert fake.wait_for_webhooks()
    assert seen == ["succeeded"]


# ------------------------------------------------------------------------------------------------
# Browser endpoints and the Stripe.js stand-in
# ------------------------------------------------------------------------------------------------


def test_test_endpoints_confirm_with_cors(client: stripe.StripeClient, fake: FakeStripe, base_url: str) -> None:
    pi = client.v1.payment_intents.create(
        params={"amount": 3000, "currency": "usd", "automatic_payment_methods": {"enabled": True}}
    )
    preflight = httpx.options(f"{base_url}/_test/confirm", headers={"Origin": "http://127.0.0.1:1"})
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == "*"

    wrong = httpx.post(f"{base_url}/_test/confirm", json={
        "client_secret": pi.client_secret, "payment_method": "pm_card_visa",
        "elements": {"mode": "payment", "amount": 3000, "currency": "usd", "setupFutureUsage": "off_session"}})
    assert wrong.status_code == 400 and "setup_future_usage" in wrong.json()["error"]["message"]

    response = httpx.post(f"{base_url}/_test/confirm", json={
        "client_secret": pi.client_secret, "payment_method": "pm_card_authenticationRequiredOnSetup",
        "elements": {"mode": "payment", "amount": 3000, "currency": "usd"}})
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json()["payment_intent"]["status"] == "requires_action"
    done = httpx.post(f"{base_url}/_test/complete_action", json={"client_secret": pi.client_secret})
    assert done.json()["payment_intent"]["status"] == "succeeded"
    assert fake.browser_confirmations[-1]["elements"]["amount"] == 3000

    declined = fake.confirm_from_browser(
        client.v1.payment_intents.create(params={"amount": 500, "currency": "usd"}).client_secret or "",
        "pm_card_chargeDeclined",
    )
    assert declined["error"]["decline_code"] == "generic_decline"
    assert httpx.get(f"{base_url}/_test/intent", params={"client_secret": "pi_x_secret_y"}).status_code == 404


STRIPE_JS = Path(__file__).parent / "stripe_js" / "stripe.js"

PAGE = """<!doctype html>
<html><head><script src="https://js.stripe.com/v3/"></script></head>
<body>
<div id="payment-element"></div>
<button id="pay">Pay</button>
<pre id="result"></pre>
<script>
  const stripe = Stripe("pk_test_fake");
  const elements = stripe.elements({mode: "payment", amount: 1000, currency: "usd"});
  elements.create("payment").mount("#payment-element");
  elements.update({amount: 1200});  // a tip was added
  document.getElementById("pay").onclick = async () => {
    const {error: submitError} = await elements.submit();
    if (submitError) { document.getElementById("result").textContent = "invalid:" + submitError.code; return; }
    const {clientSecret} = await (await fetch("/intent", {method: "POST"})).json();
    const {error, paymentIntent} = await stripe.confirmPayment({
      elements, clientSecret, confirmParams: {return_url: location.href}, redirect: "if_required"});
    document.getElementById("result").textContent = error ? "error:" + error.message : paymentIntent.status;
  };
</script></body></html>
"""


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 "--disable-dev-shm-usage"]


@contextlib.contextmanager
def _browser_page(fake_base_url: str) -> Iterator[Any]:
    """A Chromium tab whose https://js.stripe.com/* is the stand-in, pointed at the fake."""
    from tests.conftest import require_tool

    chromium = require_tool("chromium", "/usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page()
            tab.add_init_script(f"window.__FAKE_STRIPE_BASE__ = {json.dumps(fake_base_url)}")
            tab.route("https://js.stripe.com/**", lambda route: route.fulfill(
                status=200, content_type="application/javascript", body=STRIPE_JS.read_text()))
            yield tab
        finally:
            browser.close()


@pytest.mark.browser
def test_stripe_js_stand_in_in_chromium(client: stripe.StripeClient, fake: FakeStripe, base_url: str) -> None:
    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE)

    async def intent(request: Request) -> Response:
        # The companion's job, done here with the real client: create the intent for due + tip.
        pi = client.v1.payment_intents.create(
            params={"amount": 1200, "currency": "usd", "automatic_payment_methods": {"enabled": True}}
        )
        return Response(json.dumps({"clientSecret": pi.client_secret}), media_type="application/json")

    shop = Starlette(routes=[Route("/", page), Route("/intent", intent, methods=["POST"])])
    with serve_app(shop) as shop_url, _browser_page(base_url) as tab:
        for number, expected in [
            ("4242", "invalid:invalid_number"),
            ("4000 0000 0000 0002", "error:Your card was declined."),
            ("4000 0025 0000 3155", "succeeded"),  # 3-D Secure, passed automatically
            ("4242 4242 4242 4242", "succeeded"),
        ]:
            tab.goto(shop_url)
            tab.get_by_test_id("stripe-card-number").fill(number)
            tab.click("#pay")
            tab.wait_for_function("document.getElementById('result').textContent !== ''")
            assert tab.text_content("#result") == expected, number
    assert fake.charge_count() == 2
    assert all(c["elements"]["amount"] == 1200 for c in fake.browser_confirmations)


FLOWS_PAGE = """<!doctype html>
<html><head><script src="https://js.stripe.com/v3/"></script></head>
<body><div id="payment-element"></div><pre id="result"></pre>
<script>
  const stripe = Stripe("pk_test_fake");
  const show = (text) => { document.getElementById("result").textContent = text; };
  window.nextAction = async (clientSecret) => {  // a saved card that needs 3-D Secure
    const {error, paymentIntent} = await stripe.handleNextAction({clientSecret});
    show(error ? "error:" + error.code : paymentIntent.status);
  };
  window.setup = async (clientSecret) => {  // save a card without paying
    const elements = stripe.elements({mode: "setup", currency: "usd"});
    elements.create("payment").mount("#payment-element");
    window.go = async () => {
      await elements.submit();
      const {error, setupIntent} = await stripe.confirmSetup({elements, clientSecret, redirect: "if_required"});
      show(error ? "error:" + error.message : setupIntent.status);
    };
  };
  window.redirecting = async (clientSecret) => {  // default redirect: "always"
    const elements = stripe.elements({mode: "payment", amount: 800, currency: "usd"});
    elements.create("payment").mount("#payment-element");
    window.go = async () => {
      await elements.submit();
      await stripe.confirmPayment({elements, clientSecret, confirmParams: {return_url: location.origin + "/done"}});
    };
  };
</script></body></html>
"""


@pytest.mark.browser
def test_stripe_js_next_action_setup_and_redirect(
    client: stripe.StripeClient, fake: FakeStripe, base_url: str
) -> None:
    async def page(request: Request) -> Response:
        return HTMLResponse(FLOWS_PAGE)

    shop = Starlette(routes=[Route("/", page), Route("/done", page)])
    customer = client.v1.customers.create()
    saved = client.v1.payment_methods.attach("pm_card_authenticationRequired", params={"customer": customer.id})
    with serve_app(shop) as shop_url, _browser_page(base_url) as tab:
        # Saved card + handleNextAction, with the 3-D Secure dialog answered by "the customer".
        for button, expected in [("stripe-3ds-fail", "error:payment_intent_authentication_failure"),
                                 ("stripe-3ds-complete", "succeeded")]:
            pi = client.v1.payment_intents.create(params={
                "amount": 1500, "currency": "usd", "customer": customer.id, "payment_method": saved.id,
                "confirm": True, "return_url": f"{shop_url}/done"})
            assert pi.status == "requires_action"
            tab.goto(shop_url)
            tab.evaluate("window.__FAKE_STRIPE_3DS__ = 'manual'")
            tab.evaluate("cs => { window.nextAction(cs); }", pi.client_secret)
            tab.get_by_test_id(button).click()
            tab.wait_for_function("document.getElementById('result').textContent !== ''")
            assert tab.text_content("#result") == expected

        # confirmSetup saves the card to the customer.
        si = client.v1.setup_intents.create(params={"customer": customer.id, "allowed_payment_method_types": ["card"]})
        tab.goto(shop_url)
        tab.evaluate("cs => window.setup(cs)", si.client_secret)
        tab.get_by_test_id("stripe-card-number").fill("5555555555554444")
        tab.evaluate("() => { window.go(); }")
        tab.wait_for_function("document.getElementById('result').textContent !== ''")
        assert tab.text_content("#result") == "succeeded"
        cards = client.v1.payment_methods.list(params={"customer": customer.id, "type": "card"})
        assert sorted(pm.card.last4 for pm in cards.data if pm.card) == ["3184", "4444"]

        # Without redirect: "if_required" a success navigates to return_url, like Stripe.js.
        pi = client.v1.payment_intents.create(params={"amount": 800, "currency": "usd"})
        tab.goto(shop_url)
        tab.evaluate("cs => window.redirecting(cs)", pi.client_secret)
        tab.get_by_test_id("stripe-card-number").fill("4242424242424242")
        with tab.expect_navigation():
            tab.evaluate("() => { window.go(); }")
        assert f"payment_intent={pi.id}" in tab.url and "redirect_status=succeeded" in tab.url
    assert client.v1.payment_intents.retrieve(pi.id).status == "succeeded"
