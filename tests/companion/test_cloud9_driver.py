"""The Cloud9 driver against the faithful fake of Cloud9's API and card iframe, over real HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from posdesk.core.money import Money
from posdesk.gateways import build_gateway
from posdesk.gateways.base import (
    ChargeRequest,
    ChargeStatus,
    ClientInfo,
    Declined,
    Misconfigured,
    NewCard,
    Unavailable,
)
from posdesk.gateways.cloud9 import Cloud9Gateway, invoice_number, transaction_ref
from posdesk.gateways.cloud9.codes import DECLINE_MESSAGES, DUPLICATE, UNAVAILABLE, Kind, meaning
from posdesk.gateways.cloud9.driver import CARD_UNREADABLE, ENTER_CARD
from tests.fakes.cloud9_api import DECLINE_CARDS, FakeCloud9, make_fake_cloud9
from tests.fakes.serve import serve_app

INVOICE_ID = "0123456789abcdef0123456789abcdef"
SANDBOX = "4788250000028291"


@pytest.fixture
def fake() -> FakeCloud9:
    return make_fake_cloud9()


@pytest.fixture
def fake_url(fake: FakeCloud9) -> Iterator[str]:
    with serve_app(fake.app) as url:
        yield url
        fake.release_hangs()


def make_gateway(fake: FakeCloud9, url: str, **secrets: str) -> Cloud9Gateway:
    public = {"environment": "test", "api_url": f"{url}/restApi", "frame_url": url, "timeout": "1"}
    creds = {"GMID": fake.gmid, "GTID": fake.gtid, "GMPW": fake.gmpw, **secrets}
    gateway = build_gateway("cloud9", public, creds, store_id="store-1", public_url="http://companion.test")
    assert isinstance(gateway, Cloud9Gateway)
    return gateway


@pytest.fixture
def gateway(fake: FakeCloud9, fake_url: str) -> Cloud9Gateway:
    return make_gateway(fake, fake_url)


def card_token(fake: FakeCloud9, pan: str = SANDBOX, exp: str = "1239") -> str:
    outcome = fake.process(
        {
            "TransType": "CreateCardToken",
            "GMID": fake.gmid,
            "GTID": fake.gtid,
            "GMPW": fake.gmpw,
            "AccountNum": pan,
            "ExpDate": exp,
        }
    )
    return outcome.fields["CardToken"]


def charge_request(
    token: str, *, key: str = "inv:v1:a1", amount: int = 5000, tip: int = 750, saved: bool = False, **kw
) -> ChargeRequest:
    card = {"method_ref": token} if saved else {"new_card": NewCard(token)}
    return ChargeRequest(
        amount=Money(amount, "USD"),
        tip=Money(tip, "USD"),
        idempotency_key=key,
        metadata={"invoice_id": INVOICE_ID, "payment_id": "p1", "invoice_version": "1"},
        **card,
        **kw,
    )


def sales(fake: FakeCloud9) -> list[dict]:
    return [r for r in fake.requests if str(r.get("TransType", "")).lower() == "sale"]


def operations(fake: FakeCloud9) -> list[str]:
    names = []
    for r in fake.requests:
        name = str(r.get("TransType"))
        if name == "GetTransInfo":
            name += "(GTRC)" if r.get("GTRC") else "(InvoiceNum)"
        names.append(name)
    return names


INVOICE_NUM = invoice_number({"invoice_id": INVOICE_ID})


# -- connection and secrets ---------------------------------------------------------------------------
def test_test_connection_accepts_good_credentials(gateway):
    check = gateway.test_connection()
    assert check.ok and "accepted" in check.message


@pytest.mark.parametrize(
    ("field", "words"), [("GMID", "merchant ID"), ("GTID", "terminal ID"), ("GMPW", "merchant password")]
)
def test_test_connection_names_the_refused_credential(fake, fake_url, field, words):
    gateway = make_gateway(fake, fake_url, **{field: "WRONG123"})
    with pytest.raises(Misconfigured, match=words):
        gateway.test_connection()


def test_test_connection_tells_an_unreachable_gateway_from_bad_credentials(fake):
    with serve_app(fake.app) as url:
        pass  # the port is closed again: nothing listens there now
    with pytest.raises(Unavailable, match="could not be reached"):
        make_gateway(fake, url).test_connection()


def test_the_password_is_never_in_a_repr_a_page_or_a_log(fake, fake_url, caplog):
    caplog.set_level(logging.DEBUG)
    gateway = make_gateway(fake, fake_url, GMPW="WRONGPASSWORD9")
    integration = gateway.page_integration()
    with pytest.raises(Misconfigured) as refused:
        gateway.charge(charge_request(card_token(fake)))
    assert refused.value.message == UNAVAILABLE  # the client sees no configuration detail
    assert "merchant password" in caplog.text  # the manager's reason is logged
    for text in (
        repr(gateway),
        repr(gateway.client),
        repr(gateway.client.credentials),
        str(integration),
        caplog.text,
    ):
        assert "WRONGPASSWORD9" not in text


def test_the_password_is_only_read_from_secrets(fake):
    with pytest.raises(Misconfigured, match="GMPW"):
        build_gateway("cloud9", {"GMPW": fake.gmpw}, {"GMID": fake.gmid, "GTID": fake.gtid})


# -- the card form ------------------------------------------------------------------------------------
def test_card_form_has_a_fresh_seed_the_iframe_accepts(gateway, fake, fake_url):
    first, second = gateway.page_integration(), gateway.page_integration()
    assert first.client_config["src"] != second.client_config["src"]
    assert first.frame_origins == (fake_url,)
    src = first.client_config["src"]
    assert fake.gmpw not in src and f"GMID={fake.gmid}" not in src
    assert "CallbackUrl=http%3A%2F%2Fcompanion.test%2Fwebhooks%2Fcloud9%2Fstore-1%2Fcard-token" in src
    page = httpx.get(src).text
    assert 'data-testid="c9-card-number"' in page


def test_an_expired_seed_is_refused_by_the_iframe(gateway, fake):
    src = gateway.page_integration().client_config["src"]
    fake.advance(timedelta(minutes=5, seconds=30).total_seconds())
    page = httpx.get(src).text
    assert "Seed expired" in page and "c9-card-number" not in page


def test_a_token_from_the_page_is_confirmed_with_cloud9(gateway, fake):
    token = card_token(fake)
    card = gateway.read_new_card({"gw_c9_token": token.lower()})
    assert (card.token, card.brand, card.last4) == (token, "visa", "8291")
    assert fake.requests[-1]["TransType"] == "GetCardTokenInfo"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, ENTER_CARD),
        ({"gw_c9_token": "not-a-token"}, CARD_UNREADABLE),
        ({"gw_c9_token": "AB" * 16}, CARD_UNREADABLE),
    ],
)
def test_a_missing_or_unknown_token_is_refused(gateway, fields, message):
    with pytest.raises(Declined, match=message):
        gateway.read_new_card(fields)


def test_the_server_callback_stands_in_for_a_lost_page_message(fake, fake_url):
    token = card_token(fake)

    class Hints:
        def token_for(self, store_id: str, form_ref: str) -> str | None:
            return token if (store_id, form_ref) == ("store-1", "PDCREF") else None

    gateway = build_gateway(
        "cloud9",
        {"environment": "test", "api_url": f"{fake_url}/restApi", "timeout": "1"},
        {"GMID": fake.gmid, "GTID": fake.gtid, "GMPW": fake.gmpw},
        store_id="store-1",
        cloud9_card_hints=Hints(),
    )
    assert gateway.read_new_card({"gw_c9_ref": "PDCREF"}).token == token
    with pytest.raises(Declined, match=ENTER_CARD):
        gateway.read_new_card({"gw_c9_ref": "PDCOTHER"})


# -- charging ----------------------------------------------------------------------------------------
def test_a_sale_sends_what_the_companion_computed_and_saves_the_card(gateway, fake):
    token = card_token(fake)
    result = gateway.charge(charge_request(token, save_card=True, customer_ref="c9_client-1"))
    assert result.status is ChargeStatus.SUCCEEDED
    assert (result.amount, result.tip) == (Money(5000, "USD"), Money(750, "USD"))
    assert (result.card_brand, result.card_last4, result.method_ref) == ("visa", "8291", token)
    saved = result.saved_method
    assert saved is not None and (saved.ref, saved.last4, saved.exp_month, saved.exp_year) == (
        token,
        "8291",
        12,
        2039,
    )
    [sale] = sales(fake)
    assert sale["CardToken"] == token and sale["MainAmt"] == "5000" and sale["TipAmt"] == "750"
    assert sale["InvoiceNum"] == INVOICE_NUM and sale["CheckDuplicate"] == "Y"
    assert sale["NewGTRC"] == result.ref == transaction_ref(fake.gmid, "inv:v1:a1")
    assert fake.net_captured(INVOICE_NUM) == 5750


@pytest.mark.parametrize(("pan", "code"), DECLINE_CARDS.items())  # the fake's cards that always decline
def test_each_decline_gives_the_client_a_clear_message(gateway, fake, pan, code):
    result = gateway.charge(charge_request(card_token(fake, pan)))
    assert result.status is ChargeStatus.FAILED
    assert result.message == DECLINE_MESSAGES[code]
    assert fake.net_captured(INVOICE_NUM) == 0


def test_an_expired_card_is_declined_as_expired(gateway, fake):
    result = gateway.charge(charge_request(card_token(fake, exp="0120")))
    assert result.message == DECLINE_MESSAGES["054"]


def test_a_duplicate_within_a_minute_is_refused_then_allowed_after(gateway, fake):
    token = card_token(fake)
    assert gateway.charge(charge_request(token, key="k1")).status is ChargeStatus.SUCCEEDED
    again = gateway.charge(charge_request(token, key="k2"))
    assert again.status is ChargeStatus.FAILED and again.message == DUPLICATE
    assert fake.approved_sales[INVOICE_NUM] == 1
    fake.advance(61)
    assert gateway.charge(charge_request(token, key="k3")).status is ChargeStatus.SUCCEEDED


def test_retrying_the_same_attempt_does_not_charge_twice(gateway, fake):
    token = card_token(fake)
    first = gateway.charge(charge_request(token))
    second = gateway.charge(charge_request(token))
    assert first.ref == second.ref and second.status is ChargeStatus.SUCCEEDED
    assert fake.approved_sales[INVOICE_NUM] == 1


@pytest.mark.parametrize("mode", ["hang", "disconnect", "status"])
def test_an_approved_sale_whose_answer_was_lost_is_found_not_charged_again(gateway, fake, mode):
    fake.timeout_mode = mode
    result = gateway.charge(charge_request(card_token(fake, "4000000000000119")))
    assert result.status is ChargeStatus.SUCCEEDED
    assert (result.amount, result.tip) == (Money(5000, "USD"), Money(750, "USD"))
    assert fake.approved_sales[INVOICE_NUM] == 1
    assert operations(fake)[-2:] == ["Sale", "GetTransInfo(GTRC)"]


def test_a_sale_that_never_arrived_is_looked_up_then_sent_again_with_the_same_gtrc(gateway, fake):
    fake.fail_next(1, mode="http500")  # lost before Cloud9 processed it
    result = gateway.charge(charge_request(card_token(fake)))
    assert result.status is ChargeStatus.SUCCEEDED
    assert operations(fake)[1:] == ["Sale", "GetTransInfo(GTRC)", "GetTransInfo(InvoiceNum)", "Sale"]
    assert sales(fake)[0]["NewGTRC"] == sales(fake)[1]["NewGTRC"]
    assert fake.approved_sales[INVOICE_NUM] == 1


def test_when_even_the_lookup_fails_the_outcome_is_unknown_not_failed(gateway, fake):
    fake.fail_next(1, mode="disconnect", process=True)
    fake.fail_next(1, mode="http500")
    result = gateway.charge(charge_request(card_token(fake)))
    assert result.status is ChargeStatus.PROCESSING  # never "not charged": it was
    found = gateway.lookup(result.ref)
    assert found is not None and found.status is ChargeStatus.SUCCEEDED
    assert gateway.lookup(metadata={"idempotency_key": "inv:v1:a1"}).ref == result.ref


def test_an_unreachable_gateway_charges_nothing(fake):
    with serve_app(fake.app) as url:
        pass
    gateway = make_gateway(fake, url)
    with pytest.raises(Unavailable):
        gateway.charge(charge_request("AB" * 16))


def test_a_tip_alone_is_a_second_sale_on_the_same_token(gateway, fake):
    token = card_token(fake)
    gateway.charge(charge_request(token, tip=0))
    tip = gateway.charge(charge_request(token, key="tip:p1:a1", amount=0, tip=900, saved=True))
    assert tip.status is ChargeStatus.SUCCEEDED and (tip.amount.minor, tip.tip.minor) == (0, 900)
    assert sales(fake)[-1]["MainAmt"] == "900" and sales(fake)[-1]["CardToken"] == token
    assert fake.net_captured(INVOICE_NUM) == 5900


# -- refunds and saved cards ------------------------------------------------------------------------------
def test_a_full_refund_before_settlement_is_a_void(gateway, fake):
    paid = gateway.charge(charge_request(card_token(fake)))
    refund = gateway.refund(paid.ref, Money(5750, "USD"), "refund-1")
    assert refund.succeeded and fake.transactions[paid.ref].voided
    assert fake.net_captured(INVOICE_NUM) == 0
    assert gateway.lookup(paid.ref).status is ChargeStatus.REFUNDED


def test_partial_refunds_by_gtrc_never_exceed_the_sale(gateway, fake):
    paid = gateway.charge(charge_request(card_token(fake)))
    gateway.refund(paid.ref, Money(2000, "USD"), "r1")
    gateway.refund(paid.ref, Money(2000, "USD"), "r1")  # a retry of the same refund
    assert fake.net_captured(INVOICE_NUM) == 3750
    with pytest.raises(Declined, match="more than what is left"):
        gateway.refund(paid.ref, Money(5000, "USD"), "r2")


def test_after_settlement_a_full_refund_is_a_refund(gateway, fake):
    paid = gateway.charge(charge_request(card_token(fake)))
    fake.process({"TransType": "Batch", "GMID": fake.gmid, "GTID": fake.gtid, "GMPW": fake.gmpw})
    assert gateway.refund(paid.ref, Money(5750, "USD"), "r1").succeeded
    assert not fake.transactions[paid.ref].voided and fake.net_captured(INVOICE_NUM) == 0


def test_saved_cards_are_tokens_removed_with_delete(gateway, fake):
    token = card_token(fake, "4012000098765439")
    customer = gateway.ensure_customer(ClientInfo("client-1", "Ana"))
    saved = gateway.add_method(customer, NewCard(token))
    assert (saved.ref, saved.brand, saved.last4) == (token, "visa", "5439")
    gateway.remove_method(customer, token)
    assert token not in fake.tokens
    gateway.remove_method(customer, token)  # already gone: fine


# -- answers -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("answer", "kind", "code"),
    [
        ({"Status": "success", "ErrorCode": "000"}, Kind.APPROVED, "000"),
        (
            {"Status": "fail", "ErrorCode": "005", "ResponseCode": "51"},
            Kind.DECLINED,
            "005",
        ),  # ErrorCode first
        ({"Status": "fail", "ResponseCode": "51"}, Kind.DECLINED, "051"),  # then ResponseCode
        ({"Status": "fail", "ErrorCode": "0zz", "ResponseCode": "N7"}, Kind.DECLINED, "0ZZ"),
        ({"Status": "fail", "ErrorCode": "103"}, Kind.MISCONFIGURED, "103"),
        ({"Status": "fail", "ErrorCode": "146"}, Kind.DUPLICATE, "146"),
        ({"Status": "timeout", "ErrorCode": "117"}, Kind.TIMEOUT, "117"),
        ({"Status": "fail", "ErrorCode": "202"}, Kind.NO_RECORD, "202"),
        ({"Status": "invalidData", "ErrorCode": "100"}, Kind.INVALID, "100"),
    ],
)
def test_error_mapping_reads_error_code_before_response_code(answer, kind, code):
    found = meaning(answer)
    assert (found.kind, found.code) == (kind, code)
