"""The Stripe driver against the fake Stripe API, through the real stripe-python client."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from posdesk.core.money import Money
from posdesk.gateways import build_gateway
from posdesk.gateways.base import (
    BadSignature,
    ChargeRequest,
    ChargeStatus,
    ClientInfo,
    Declined,
    Misconfigured,
    NewCard,
)
from posdesk.gateways.stripe import StripeGateway, refund_of
from tests.companion.conftest import STRIPE_WHSEC
from tests.fakes.serve import serve_app
from tests.fakes.stripe_api import FakeStripe, sign_webhook_payload

ANA = ClientInfo(id="client-1", name="Ana Díaz", email="ana@example.com")


@pytest.fixture
def base(fake: FakeStripe) -> Iterator[str]:
    with serve_app(fake.app) as url:
        yield url


def stripe_gateway(base: str, secret_key: str = "sk_test_posdesk") -> StripeGateway:
    gateway = build_gateway(
        "stripe",
        {"publishable_key": "pk_test_posdesk", "stripe_api_base": base, "max_network_retries": "0"},
        {"secret_key": secret_key, "webhook_secret": STRIPE_WHSEC},
    )
    assert isinstance(gateway, StripeGateway)
    return gateway


@pytest.fixture
def gateway(base: str) -> StripeGateway:
    return stripe_gateway(base)


def request(
    *, key: str = "inv1:v1:a1", amount: int = 5000, tip: int = 0, kind: str = "invoice", **kw: object
) -> ChargeRequest:
    metadata = {
        "store_id": "s1",
        "invoice_id": "inv1",
        "invoice_version": "1",
        "payment_id": f"pay-{key}",
        "kind": kind,
    }
    if "new_card" not in kw and "method_ref" not in kw:
        kw["new_card"] = NewCard("element")
    return ChargeRequest(
        amount=Money(amount, "USD"), tip=Money(tip, "USD"), idempotency_key=key, metadata=metadata, **kw
    )  # type: ignore[arg-type]


def saved_card(fake: FakeStripe, gateway: StripeGateway, test_card: str = "pm_card_visa") -> tuple[str, str]:
    """A customer with ``test_card`` saved through a paid, saved intent: ``(customer, pm id)``."""
    customer = gateway.ensure_customer(ANA)
    state = gateway.prepare_payment(request(key="save", customer_ref=customer, save_card=True))
    fake.confirm_from_browser(state.client_secret, test_card)
    if fake.payment_intents[state.ref]["status"] == "requires_action":
        fake.complete_action(state.ref)
    [method] = gateway.list_methods(customer)
    return customer, method.ref


# -- configuration -------------------------------------------------------------------------------------
def test_test_connection_names_the_account(gateway: StripeGateway) -> None:
    check = gateway.test_connection()
    assert check.ok and "Posdesk Test Shop" in check.message and "test mode" in check.message


def test_a_refused_key_is_misconfigured_with_a_clear_message(base: str) -> None:
    with pytest.raises(Misconfigured, match=r"Stripe refused the secret key.*Settings > Payments"):
        stripe_gateway(base, secret_key="sk_test_").test_connection()


def test_an_unreachable_stripe_is_reported_not_raised() -> None:
    gateway = stripe_gateway("http://127.0.0.1:9")  # discard port: nothing listens
    check = gateway.test_connection()
    assert not check.ok and "Stripe did not answer" in check.message


@pytest.mark.parametrize(
    ("public", "secrets", "message"),
    [
        ({"publishable_key": "pk_test_x"}, {}, "secret key"),
        ({}, {"secret_key": "sk_test_x"}, "publishable key"),
        ({"publishable_key": "pk_live_x"}, {"secret_key": "sk_test_x"}, "different modes"),
        (
            {"publishable_key": "pk_test_x", "stripe_api_base": "https://evil.example"},
            {"secret_key": "sk_test_x"},
            "not allowed",
        ),
    ],
)
def test_build_refuses_unusable_settings(
    public: dict[str, str], secrets: dict[str, str], message: str
) -> None:
    with pytest.raises(Misconfigured, match=message):
        build_gateway("stripe", public, secrets)


def test_the_api_base_defaults_to_stripe_and_the_operators_wins() -> None:
    keys = {"secret_key": "sk_test_x"}
    assert stripe_gateway_base({"publishable_key": "pk_test_x"}, keys) == "https://api.stripe.com"
    operator = "https://stripe-proxy.internal.example/"  # POSDESK_STRIPE_API_BASE, via the configuration
    assert (
        stripe_gateway_base({"publishable_key": "pk_test_x"}, keys, operator)
        == "https://stripe-proxy.internal.example"
    )


def stripe_gateway_base(public: dict[str, str], secrets: dict[str, str], operator: str = "") -> str:
    gateway = build_gateway("stripe", public, secrets, stripe_api_base=operator)
    assert isinstance(gateway, StripeGateway)
    return gateway.base


def test_the_page_gets_exactly_stripes_origins_and_the_publishable_key(gateway: StripeGateway) -> None:
    page = gateway.page_integration()
    assert page.script_origins == ("https://js.stripe.com",)
    assert page.frame_origins == ("https://js.stripe.com", "https://hooks.stripe.com")
    assert page.connect_origins == ("https://api.stripe.com",)
    assert page.client_config == {"publishable_key": "pk_test_posdesk"}
    assert not page.simulated


# -- the new card's intent ------------------------------------------------------------------------------
def test_prepared_intent_charges_amount_plus_tip_and_records_the_tip(
    fake: FakeStripe, gateway: StripeGateway
) -> None:
    state = gateway.prepare_payment(request(amount=5000, tip=900))
    intent = fake.payment_intents[state.ref]
    assert (intent["amount"], intent["currency"], intent["status"]) == (
        5900,
        "usd",
        "requires_payment_method",
    )
    assert intent["metadata"]["tip"] == "900" and intent["metadata"]["invoice_id"] == "inv1"
    assert intent["metadata"]["invoice_version"] == "1"
    assert intent["setup_future_usage"] is None and intent["customer"] is None
    assert state.client_secret.startswith(state.ref)
    [create] = [r for r in fake.requests if r.path == "/v1/payment_intents"]
    # The key names the attempt and is derived from every parameter: it never carries other ones.
    assert create.idempotency_key.startswith("posdesk:inv1:v1:a1:") and len(create.idempotency_key) > 24


def test_the_same_request_gets_the_same_intent(fake: FakeStripe, gateway: StripeGateway) -> None:
    first = gateway.prepare_payment(request(tip=900))
    again = gateway.prepare_payment(request(tip=900))
    assert again.ref == first.ref and len(fake.payment_intents) == 1


def test_saving_the_card_sets_up_future_usage_for_the_customer(
    fake: FakeStripe, gateway: StripeGateway
) -> None:
    customer = gateway.ensure_customer(ANA)
    assert gateway.ensure_customer(ANA, customer) == customer
    state = gateway.prepare_payment(request(customer_ref=customer, save_card=True))
    intent = fake.payment_intents[state.ref]
    assert intent["setup_future_usage"] == "off_session" and intent["customer"] == customer
    fake.confirm_from_browser(state.client_secret, "pm_card_visa")
    payment = gateway.intent(state.ref).payment
    assert payment is not None and payment.status is ChargeStatus.SUCCEEDED
    assert payment.saved_method is not None and payment.saved_method.last4 == "4242"
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")
    assert [m.ref for m in gateway.list_methods(customer)] == [payment.saved_method.ref]


def test_an_unconfirmed_intent_is_no_payment_yet(gateway: StripeGateway) -> None:
    state = gateway.prepare_payment(request())
    assert state.payment is None and state.confirmable
    assert gateway.lookup(state.ref) is None
    assert gateway.cancel(state.ref).status == "canceled"


# -- server-side charges ------------------------------------------------------------------------------
def test_use_a_saved_card_charges_it_on_the_server(fake: FakeStripe, gateway: StripeGateway) -> None:
    _, method = saved_card(fake, gateway)
    payment = gateway.charge(request(key="inv2:v1:a1", method_ref=method, tip=500))
    assert payment.status is ChargeStatus.SUCCEEDED and payment.card_last4 == "4242"
    assert (payment.amount, payment.tip) == (Money(5000, "USD"), Money(500, "USD"))
    assert payment.method_ref == method  # reusable: a tip afterwards can go on it
    again = gateway.charge(request(key="inv2:v1:a1", method_ref=method, tip=500))
    assert again.ref == payment.ref
    assert fake.charge_count(payment_intent=payment.ref) == 1


def test_a_saved_card_asking_for_3d_secure_goes_back_to_the_page(
    fake: FakeStripe, gateway: StripeGateway
) -> None:
    _, method = saved_card(fake, gateway, "pm_card_authenticationRequired")
    payment = gateway.charge(request(key="inv3:v1:a1", method_ref=method))
    assert payment.status is ChargeStatus.REQUIRES_ACTION and payment.action["type"] == "stripe_next_action"
    assert gateway.confirm_action(payment.ref, {}).status is ChargeStatus.REQUIRES_ACTION  # not done yet
    fake.complete_action(payment.ref)
    assert gateway.confirm_action(payment.ref, {}).status is ChargeStatus.SUCCEEDED


def test_failed_3d_secure_reads_as_failed(fake: FakeStripe, gateway: StripeGateway) -> None:
    _, method = saved_card(fake, gateway, "pm_card_authenticationRequired")
    payment = gateway.charge(request(key="inv4:v1:a1", method_ref=method))
    fake.complete_action(payment.ref, succeed=False)
    after = gateway.confirm_action(payment.ref, {})
    assert after.status is ChargeStatus.FAILED and "authentication" in after.message


def test_a_declined_card_reads_as_failed_with_stripes_message(
    fake: FakeStripe, gateway: StripeGateway
) -> None:
    payment = gateway.charge(request(new_card=NewCard("pm_card_chargeDeclined")))
    assert payment.status is ChargeStatus.FAILED and payment.message == "Your card was declined."
    assert fake.charge_count(invoice_id="inv1") == 0


def test_a_tip_afterwards_is_on_session_on_the_same_card(fake: FakeStripe, gateway: StripeGateway) -> None:
    _, method = saved_card(fake, gateway)
    tip = gateway.charge(request(key="tip:p1:a1", amount=0, tip=700, kind="tip", method_ref=method))
    assert tip.status is ChargeStatus.SUCCEEDED and (tip.amount.minor, tip.tip.minor) == (0, 700)
    [confirm] = [r for r in fake.requests if r.path.endswith(f"{tip.ref}/confirm")]
    assert "off_session" not in confirm.params  # the client is on the page: 3-D Secure can be done there


def test_a_card_gone_at_stripe_is_a_decline_the_client_can_act_on(gateway: StripeGateway) -> None:
    with pytest.raises(Declined, match="no longer available"):
        gateway.charge(request(method_ref="pm_doesNotExist"))


def test_lookup_by_metadata_finds_the_payment_after_a_lost_answer(
    fake: FakeStripe, gateway: StripeGateway
) -> None:
    _, method = saved_card(fake, gateway)
    paid = gateway.charge(request(key="inv5:v1:a1", method_ref=method))
    assert gateway.lookup(metadata={"payment_id": "pay-inv5:v1:a1"}) is None  # Search lags writes, as Stripe's
    assert gateway.lookup(paid.ref) is not None  # the intent's own id always finds it
    fake.search_lag = 0
    found = gateway.lookup(metadata={"payment_id": "pay-inv5:v1:a1"})
    assert found is not None and found.ref == paid.ref and found.status is ChargeStatus.SUCCEEDED
    assert gateway.lookup(metadata={"payment_id": "nobody"}) is None


def test_refund_part_of_a_payment(fake: FakeStripe, gateway: StripeGateway) -> None:
    _, method = saved_card(fake, gateway)
    paid = gateway.charge(request(key="inv6:v1:a1", method_ref=method, tip=1000))
    refund = gateway.refund(paid.ref, Money(2500, "USD"), "refund-1")
    assert refund.succeeded and refund.amount == Money(2500, "USD")
    assert fake.charges[fake.payment_intents[paid.ref]["latest_charge"]]["amount_refunded"] == 2500
    with pytest.raises(Exception, match="greater than unrefunded"):
        gateway.refund(paid.ref, Money(5000, "USD"), "refund-2")


# -- saved cards -------------------------------------------------------------------------------------
def test_set_default_and_remove_saved_cards(fake: FakeStripe, gateway: StripeGateway) -> None:
    customer, method = saved_card(fake, gateway)
    gateway.set_default_method(customer, method)
    [listed] = gateway.list_methods(customer)
    assert listed.is_default
    assert fake.customers[customer]["invoice_settings"]["default_payment_method"] == method
    gateway.remove_method(customer, method)
    gateway.remove_method(customer, method)  # twice: already gone is fine
    assert gateway.list_methods(customer) == []


def test_a_card_saved_without_paying(fake: FakeStripe, gateway: StripeGateway) -> None:
    customer = gateway.ensure_customer(ANA)
    setup_ref, secret = gateway.prepare_setup(customer, {"client_id": ANA.id, "store_id": "s1"}, "setup-1")
    fake.confirm_from_browser(secret, "pm_card_mastercard")
    report = gateway.setup_result(setup_ref)
    assert report is not None and report.customer_ref == customer
    saved = gateway.saved_method(customer, report.method_ref)
    assert saved is not None and saved.brand == "mastercard"


# -- webhooks ---------------------------------------------------------------------------------------
def _event(fake: FakeStripe, event_type: str) -> bytes:
    [event] = fake.events_of_type(event_type)[-1:]
    return json.dumps(event, indent=2).encode()


def test_a_signed_event_is_verified_on_its_raw_bytes(fake: FakeStripe, gateway: StripeGateway) -> None:
    _, method = saved_card(fake, gateway)
    paid = gateway.charge(request(key="inv7:v1:a1", method_ref=method, tip=300))
    raw = _event(fake, "payment_intent.succeeded")
    event = gateway.verify_and_parse_webhook(raw, {"stripe-signature": sign_webhook_payload(raw, STRIPE_WHSEC)})
    assert event.type == "payment_intent.succeeded" and event.payment is not None
    assert event.payment.ref == paid.ref and (event.payment.amount.minor, event.payment.tip.minor) == (
        5000,
        300,
    )
    charge = _event(fake, "charge.succeeded")
    from_charge = gateway.verify_and_parse_webhook(
        charge, {"Stripe-Signature": sign_webhook_payload(charge, STRIPE_WHSEC)}
    )
    assert from_charge.payment is not None and from_charge.payment.card_last4 == "4242"


@pytest.mark.parametrize("how", ["wrong secret", "stale", "missing", "re-serialised"])
def test_bad_signatures_are_refused(fake: FakeStripe, gateway: StripeGateway, how: str) -> None:
    gateway.prepare_payment(request())
    raw = _event(fake, "payment_intent.created")
    headers = {"Stripe-Signature": sign_webhook_payload(raw, STRIPE_WHSEC)}
    if how == "wrong secret":
        headers = {"Stripe-Signature": sign_webhook_payload(raw, "whsec_other")}
    elif how == "stale":
        headers = {"Stripe-Signature": sign_webhook_payload(raw, STRIPE_WHSEC, timestamp=1_000_000)}
    elif how == "missing":
        headers = {}
    else:
        raw = json.dumps(json.loads(raw)).encode()  # same event, other bytes
    with pytest.raises(BadSignature):
        gateway.verify_and_parse_webhook(raw, headers)


def test_refund_events_carry_the_refunded_total(fake: FakeStripe, gateway: StripeGateway) -> None:
    _, method = saved_card(fake, gateway)
    paid = gateway.charge(request(key="inv8:v1:a1", method_ref=method))
    gateway.refund(paid.ref, Money(1000, "USD"), "r1")
    gateway.refund(paid.ref, Money(500, "USD"), "r2")
    raw = _event(fake, "charge.refunded")
    report = refund_of(
        gateway.verify_and_parse_webhook(raw, {"Stripe-Signature": sign_webhook_payload(raw, STRIPE_WHSEC)})
    )
    assert (
        report is not None and report.payment_ref == paid.ref and report.refunded_total == Money(1500, "USD")
    )


def test_other_softwares_intents_are_not_posdesks(fake: FakeStripe, gateway: StripeGateway) -> None:
    gateway.client.v1.payment_intents.create(
        {
            "amount": 1000,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
        }
    )
    raw = _event(fake, "payment_intent.succeeded")
    event = gateway.verify_and_parse_webhook(raw, {"Stripe-Signature": sign_webhook_payload(raw, STRIPE_WHSEC)})
    assert event.payment is None  # stored and ignored, never kept for retries
