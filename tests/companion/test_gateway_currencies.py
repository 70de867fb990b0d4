"""The gateway edge: the Stripe driver sends and reads amounts in Stripe's unit, through the real
stripe-python client against the fake Stripe API (the converter itself: tests/unit/test_currencies.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from posdesk.core.money import Money
from posdesk.gateways.base import ChargeRequest, GatewayError, NewCard
from posdesk.gateways.stripe import StripeGateway
from tests.companion.test_stripe_driver import base, saved_card, stripe_gateway  # noqa: F401
from tests.fakes.stripe_api import FakeStripe


@pytest.fixture
def gateway(base: str) -> Iterator[StripeGateway]:  # noqa: F811
    yield stripe_gateway(base)


def _request(amount: Money, tip: Money, key: str, **kw: object) -> ChargeRequest:
    metadata = {"store_id": "s1", "invoice_id": "inv1", "invoice_version": "1", "payment_id": f"p-{key}", "kind": "invoice"}
    if "method_ref" not in kw:
        kw["new_card"] = NewCard("element")
    return ChargeRequest(amount=amount, tip=tip, idempotency_key=key, metadata=metadata, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "tip", "at_stripe"),
    [
        (Money(50_000, "COP"), Money(5_000, "COP"), 5_500_000),  # the COP 50,000, not COP 500.00
        (Money(12_345, "HUF"), Money(0, "HUF"), 1_234_500),
        (Money(150_000, "IDR"), Money(0, "IDR"), 15_000_000),
        (Money(2_500, "JPY"), Money(300, "JPY"), 2_800),
        (Money(1_230, "KWD"), Money(100, "KWD"), 1_330),
    ],
)
def test_the_intent_is_for_the_amount_in_stripes_unit_and_reads_back(
    fake: FakeStripe,
    gateway: StripeGateway,
    amount: Money,
    tip: Money,
    at_stripe: int,
) -> None:
    state = gateway.prepare_payment(_request(amount, tip, f"{amount.currency}:v1:a1"))
    intent = fake.payment_intents[state.ref]
    assert (intent["amount"], intent["currency"]) == (at_stripe, amount.currency.lower())
    assert state.amount_minor == (amount + tip).minor  # the page's figures stay in the store's unit
    _, method = saved_card(fake, gateway)
    paid = gateway.charge(_request(amount, tip, f"{amount.currency}:v1:a2", method_ref=method))
    assert (paid.amount, paid.tip) == (amount, tip)
    refund = gateway.refund(paid.ref, amount, f"r-{amount.currency}")
    assert refund.amount == amount


def test_an_amount_stripe_cannot_take_is_refused_before_any_call(fake: FakeStripe, gateway: StripeGateway) -> None:
    with pytest.raises(GatewayError, match="steps of"):
        gateway.prepare_payment(_request(Money(1_235, "KWD"), Money(0, "KWD"), "kwd:v1:a1"))
    with pytest.raises(GatewayError, match="cannot charge"):
        gateway.prepare_payment(_request(Money(1_000, "IQD"), Money(0, "IQD"), "iqd:v1:a1"))
    assert not [r for r in fake.requests if r.path == "/v1/payment_intents"]
