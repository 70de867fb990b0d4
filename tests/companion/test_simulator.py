"""The Simulator gateway behaves like a real one: test cards, idempotent charges, signed webhooks."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

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
)
from posdesk.gateways.signing import sign
from posdesk.gateways.simulator import APPROVES, ASKS_3DS, DECLINES, SIGNATURE_HEADER, SimulatorLedger

SECRET = "whsec_" + "x" * 40


class Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []

    def __call__(self, raw: bytes, headers: Mapping[str, str]) -> None:
        self.received.append((raw, dict(headers)))


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def gateway(inbox: Inbox):
    return build_gateway(
        "simulator", {}, {"webhook_secret": SECRET}, ledger=SimulatorLedger(), webhook_sink=inbox
    )


def card(gateway, number: str):
    return gateway.read_new_card({"sim_number": number, "sim_exp": "12 / 39", "sim_cvc": "123"})


def request(new_card=None, method_ref=None, key="k1", amount=5000, tip=1000, **kw) -> ChargeRequest:
    return ChargeRequest(
        amount=Money(amount, "USD"),
        tip=Money(tip, "USD"),
        idempotency_key=key,
        metadata={"invoice_id": "inv1", "payment_id": "p1"},
        new_card=new_card,
        method_ref=method_ref,
        **kw,
    )


def test_4242_approves_and_reports_a_signed_webhook(gateway, inbox):
    result = gateway.charge(request(card(gateway, APPROVES)))
    assert result.status is ChargeStatus.SUCCEEDED
    assert (result.card_brand, result.card_last4) == ("visa", "4242")
    [(raw, headers)] = inbox.received
    event = gateway.verify_and_parse_webhook(raw, headers)
    assert event.type == "payment.succeeded"
    assert event.payment.ref == result.ref and event.payment.amount == Money(5000, "USD")
    assert event.payment.metadata["invoice_id"] == "inv1"


def test_0002_declines_with_a_clear_message(gateway):
    result = gateway.charge(request(card(gateway, DECLINES)))
    assert result.status is ChargeStatus.FAILED
    assert result.message == "Your card was declined"


def test_3155_asks_for_3d_secure_then_approve_or_fail(gateway, inbox):
    first = gateway.charge(request(card(gateway, ASKS_3DS), key="a"))
    assert first.status is ChargeStatus.REQUIRES_ACTION and first.action["type"] == "three_d_secure"
    assert gateway.confirm_action(first.ref, {"outcome": "approve"}).status is ChargeStatus.SUCCEEDED
    second = gateway.charge(request(card(gateway, ASKS_3DS), key="b"))
    failed = gateway.confirm_action(second.ref, {"outcome": "fail"})
    assert failed.status is ChargeStatus.FAILED and failed.message
    types = [gateway.verify_and_parse_webhook(raw, h).type for raw, h in inbox.received]
    assert types == [
        "payment.requires_action",
        "payment.succeeded",
        "payment.requires_action",
        "payment.failed",
    ]


def test_same_idempotency_key_charges_once(gateway, inbox):
    token = card(gateway, APPROVES)
    first = gateway.charge(request(token))
    again = gateway.charge(request(token))
    assert again.ref == first.ref
    assert len(inbox.received) == 1


@pytest.mark.parametrize(
    ("number", "expiry", "cvc", "message"),
    [
        ("4242 4242 4242 4241", "12/39", "123", "Your card number is invalid"),
        ("", "12/39", "123", "Enter your card number"),
        (APPROVES, "13/39", "123", "The expiry month is invalid"),
        (APPROVES, "01/20", "123", "Your card has expired"),
        (APPROVES, "12/39", "1", "Your card's security code is incomplete"),
    ],
)
def test_bad_card_fields_are_refused_with_the_reason(gateway, number, expiry, cvc, message):
    with pytest.raises(Declined, match=message):
        gateway.read_new_card({"sim_number": number, "sim_exp": expiry, "sim_cvc": cvc})


def test_saved_cards_belong_to_a_customer_and_survive_a_restart(gateway):
    customer = gateway.ensure_customer(ClientInfo(id="c1", name="Ana"))
    result = gateway.charge(request(card(gateway, APPROVES), customer_ref=customer, save_card=True))
    assert result.saved_method is not None and result.saved_method.is_default
    [saved] = gateway.list_methods(customer)
    assert saved.last4 == "4242"
    # A fresh ledger (companion restarted) still charges the saved reference.
    restarted = build_gateway("simulator", {}, {"webhook_secret": SECRET})
    again = restarted.charge(request(method_ref=saved.ref, key="later"))
    assert again.status is ChargeStatus.SUCCEEDED and again.card_last4 == "4242"
    gateway.remove_method(customer, saved.ref)
    assert gateway.list_methods(customer) == []


def test_lookup_finds_a_payment_by_invoice_metadata(gateway):
    result = gateway.charge(request(card(gateway, APPROVES)))
    assert gateway.lookup(metadata={"invoice_id": "inv1"}).ref == result.ref
    assert gateway.lookup(metadata={"invoice_id": "other"}) is None


def test_refund_reports_refunded_when_whole(gateway):
    result = gateway.charge(request(card(gateway, APPROVES)))
    gateway.refund(result.ref, Money(6000, "USD"), "r1")
    assert gateway.lookup(result.ref).status is ChargeStatus.REFUNDED
    with pytest.raises(Declined):
        gateway.refund(result.ref, Money(1, "USD"), "r2")


def _body() -> bytes:
    return json.dumps({"id": "evt_1", "type": "payment.succeeded", "data": {}}).encode()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {SIGNATURE_HEADER: "garbage"},
        {SIGNATURE_HEADER: sign("wrong-secret-" + "y" * 30, _body())},
        {SIGNATURE_HEADER: sign(SECRET, _body(), int(time.time()) - 301)},
        {SIGNATURE_HEADER: sign(SECRET, json.dumps(json.loads(_body()), indent=1).encode())},
    ],
    ids=["missing", "malformed", "wrong-secret", "too-old", "reserialised"],
)
def test_webhooks_that_do_not_verify_are_refused(gateway, headers):
    with pytest.raises(BadSignature):
        gateway.verify_and_parse_webhook(_body(), headers)


def test_unknown_gateway_name_is_a_configuration_error():
    with pytest.raises(Misconfigured):
        build_gateway("paypal", {}, {})
    with pytest.raises(Misconfigured):
        build_gateway("simulator", {}, {})
