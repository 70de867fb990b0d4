"""Tests of the fake Cloud9 gateway (tests/fakes/cloud9_api.py): the fake is itself a test
dependency, so its promises to the driver's tests are checked here, over real HTTP.

One uvicorn server (tests/fakes/serve.py) runs for the whole module and forwards to the current
test's fresh fake, so client timeouts and dropped connections are real. (Starlette's TestClient is
not used: with plain httpx it emits a deprecation warning, which this suite treats as an error.)
One test drives the fake in-process through ``httpx.ASGITransport`` as a driver's unit test would.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tests.fakes.cloud9_api import FakeCloud9, cloud9_seed, make_fake_cloud9
from tests.fakes.serve import serve_app

GMID, GTID, GMPW = "1110222484", "GT1120095178", "GMPW3010300378"
CREDS = {"GMID": GMID, "GTID": GTID, "GMPW": GMPW}
CARD = {"AccountNum": "4788250000028291", "ExpDate": "1230", "CVVNum": "123"}
NOW = datetime(2026, 3, 14, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def fake() -> FakeCloud9:
    f = make_fake_cloud9()
    f.freeze(NOW)
    return f


class _Switch:
    """ASGI app forwarding to whichever fake the current test installed (one server per module)."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # the fakes need no startup/shutdown work
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[str, _Switch]]:
    switch = _Switch()
    with serve_app(switch) as base_url:
        yield base_url, switch


@pytest.fixture
def base_url(fake: FakeCloud9, gateway: tuple[str, _Switch]) -> Iterator[str]:
    url, switch = gateway
    switch.app = fake.app
    yield url
    fake.release_hangs()  # a handler still hanging must not hold the server at shutdown


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=5) as c:
        yield c


def call(client: httpx.Client, trans_type: str, **fields: Any) -> dict[str, str]:
    """POST one flat JSON object to /restApi; the fake always answers 200 with string values."""
    r = client.post("/restApi", json={"TransType": trans_type, **CREDS, **fields})
    assert r.status_code == 200, r.text
    body = r.json()
    assert all(isinstance(v, str) for v in body.values()), body
    return body


def sale(client: httpx.Client, **fields: Any) -> dict[str, str]:
    return call(client, "Sale", **{**CARD, "MainAmt": "1000", "InvoiceNum": "INV-1", **fields})


# ------------------------------------------------------------------------------------------ Sale


def test_sale_approved_answers_every_documented_field(client: httpx.Client, fake: FakeCloud9) -> None:
    r = sale(client, MainAmt="1000", TipAmt="150", IncTaxAmt="80")
    assert r["Status"] == "success" and r["ErrorCode"] == "000" and r["ResponseCode"] == "00"
    assert re.fullmatch(r"[0-9A-F]{32}", r["GTRC"])
    assert (r["MainAmt"], r["TipAmt"], r["IncTaxAmt"], r["AuthAmt"]) == ("1000", "150", "80", "1150")
    assert r["AccountNum"] == "478825XXXXXX8291"
    assert (r["Brand"], r["Medium"], r["ExpDate"], r["InvoiceNum"]) == ("Visa", "Credit", "1230", "INV-1")
    assert re.fullmatch(r"[A-Z0-9]{6}", r["AuthCode"])
    assert (r["AuthDate"], r["AuthTime"]) == ("20260314", "120000")
    assert "CardToken" not in r  # only with RequestCardToken=Y or a token sale
    txn = fake.transactions[r["GTRC"]]
    assert (txn.trans_type, txn.state, txn.auth_amt) == ("Sale", "captured", 1150)
    assert fake.approved_sales["INV-1"] == 1
    assert fake.net_captured("INV-1") == 1150


@pytest.mark.parametrize("trans_type", ["sale", "SALE", "sAlE", "Sale"])
def test_trans_type_in_any_letter_case(client: httpx.Client, trans_type: str) -> None:
    assert call(client, trans_type, **CARD, MainAmt="500")["Status"] == "success"


@pytest.mark.parametrize("amount", [1001, "1001", " 1001 "])
def test_numbers_as_strings_or_integers(client: httpx.Client, amount: object) -> None:
    r = call(client, "Sale", **CARD, MainAmt=amount, TipAmt=99)
    assert (r["MainAmt"], r["TipAmt"], r["AuthAmt"]) == ("1001", "99", "1100")


@pytest.mark.parametrize("amount", ["10.01", 10.01, -5, "-5", True, "abc", 0, None])
def test_bad_amounts_are_invalid_data(client: httpx.Client, fake: FakeCloud9, amount: object) -> None:
    r = call(client, "Sale", **CARD, MainAmt=amount)
    assert (r["Status"], r["ErrorCode"]) == ("invalidData", "109")
    assert fake.transactions == {}


@pytest.mark.parametrize(("field", "code"), [("GMID", "101"), ("GTID", "102"), ("GMPW", "103")])
def test_bad_credentials(client: httpx.Client, fake: FakeCloud9, field: str, code: str) -> None:
    body = {"TransType": "Sale", **CREDS, **CARD, "MainAmt": "100", field: "WRONG"}
    r = client.post("/restApi", json=body)
    assert r.status_code == 200
    assert (r.json()["Status"], r.json()["ErrorCode"]) == ("fail", code)
    assert fake.transactions == {}


def test_malformed_requests_still_answer_200_json(client: httpx.Client) -> None:
    assert client.post("/restApi", content=b"not json").json()["Status"] == "invalidData"
    assert client.post("/restApi", json=[1, 2]).json()["Status"] == "invalidData"
    assert call(client, "Teleport")["Status"] == "invalidData"
    assert call(client, "Sale", MainAmt="100")["ErrorText"] == "AccountNum or CardToken is required"
    assert (
        call(client, "Sale", MainAmt="100", AccountNum="4788250000028292", ExpDate="1230")["ErrorText"]
        == "Invalid AccountNum"
    )  # Luhn
    assert call(client, "Sale", **{**CARD, "ExpDate": "1330"}, MainAmt="100")["Status"] == "invalidData"


def test_new_gtrc_is_used_and_a_repeat_returns_the_same_transaction(
    client: httpx.Client, fake: FakeCloud9
) -> None:
    mine = "7c0c3b1e9f2a4d5b8e6f0a1b2c3d4e5f"
    first = sale(client, NewGTRC=mine)
    assert first["GTRC"] == mine.upper()
    again = sale(client, NewGTRC=mine, MainAmt="2000")  # a retry: amounts ignored, nothing charged
    assert again == first
    assert len(fake.transactions) == 1 and fake.approved_sales["INV-1"] == 1
    assert call(client, "Sale", **CARD, MainAmt="100", NewGTRC="not-a-uuid")["Status"] == "invalidData"


def test_check_duplicate_within_60_seconds(client: httpx.Client, fake: FakeCloud9) -> None:
    assert sale(client, CheckDuplicate="Y")["Status"] == "success"
    dup = sale(client, CheckDuplicate="Y")
    assert (dup["Status"], dup["ErrorCode"]) == ("fail", "146")
    # Different amount, different invoice, or no CheckDuplicate: not a duplicate.
    assert sale(client, CheckDuplicate="Y", MainAmt="1001")["Status"] == "success"
    assert sale(client, CheckDuplicate="Y", InvoiceNum="INV-2")["Status"] == "success"
    assert sale(client)["Status"] == "success"
    fake.advance(61)
    assert sale(client, CheckDuplicate="y")["Status"] == "success"
    assert fake.approved_sales["INV-1"] == 4


@pytest.mark.parametrize(
    ("overrides", "code", "response_code"),
    [
        ({"AccountNum": "4000000000000002"}, "005", "05"),
        ({"MainAmt": "1005"}, "005", "05"),
        ({"AccountNum": "4000000000009995"}, "051", "51"),
        ({"MainAmt": 2051}, "051", "51"),
        ({"AccountNum": "4000000000000069"}, "054", "54"),
        ({"MainAmt": "354"}, "054", "54"),
        ({"ExpDate": "0226"}, "054", "54"),  # February 2026, the clock says March 2026
        ({"CVVNum": "000"}, "0N7", "N7"),
        ({"AccountNum": "4000000000000127"}, "0N7", "N7"),
    ],
)
def test_magic_declines(
    client: httpx.Client, fake: FakeCloud9, overrides: dict[str, Any], code: str, response_code: str
) -> None:
    r = sale(client, **overrides)
    assert (r["Status"], r["ErrorCode"], r["ResponseCode"]) == ("fail", code, response_code)
    assert r["AuthAmt"] == "0" and "AuthCode" not in r
    assert fake.transactions[r["GTRC"]].state == "declined"  # recorded: it reached the processor
    assert fake.approved_sales["INV-1"] == 0


def test_card_valid_through_the_end_of_its_month(client: httpx.Client) -> None:
    assert sale(client, ExpDate="0326")["Status"] == "success"


# ------------------------------------------------------------------------------------- Auth flow


def test_auth_then_finalize_then_batch(client: httpx.Client, fake: FakeCloud9) -> None:
    auth = call(client, "Auth", **CARD, MainAmt="2000", InvoiceNum="INV-A")
    assert (auth["Status"], auth["TransType"]) == ("success", "Auth")
    assert fake.net_captured("INV-A") == 0
    fin = call(client, "Finalize", GTRC=auth["GTRC"], MainAmt="1800")
    assert (fin["Status"], fin["GTRC"], fin["TransType"], fin["AuthAmt"]) == (
        "success",
        auth["GTRC"],
        "Sale",
        "1800",
    )
    again = call(client, "Finalize", GTRC=auth["GTRC"])
    assert again["ErrorCode"] == "114"
    call(client, "Batch")
    assert fake.transactions[auth["GTRC"]].state == "settled"
    assert fake.net_captured("INV-A") == 1800


def test_add_tip_turns_an_auth_into_a_sale(client: httpx.Client, fake: FakeCloud9) -> None:
    auth = call(client, "AUTH", **CARD, MainAmt="1000")
    r = call(client, "AddTip", GTRC=auth["GTRC"], TipAmt=200)
    assert (r["Status"], r["TransType"], r["TipAmt"], r["AuthAmt"]) == ("success", "Sale", "200", "1200")
    assert fake.transactions[auth["GTRC"]].state == "captured"
    s = sale(client)
    assert call(client, "AddTip", GTRC=s["GTRC"], TipAmt=100)["ErrorCode"] == "113"
    assert call(client, "Finalize", GTRC=s["GTRC"])["ErrorCode"] == "113"
    assert call(client, "AddTip", GTRC="0" * 32, TipAmt=100)["ErrorCode"] == "104"


def test_pending_auth_is_not_settled_by_batch(client: httpx.Client, fake: FakeCloud9) -> None:
    auth = call(client, "Auth", **CARD, MainAmt="1000")
    call(client, "Batch")
    assert fake.transactions[auth["GTRC"]].state == "authorized"
    assert call(client, "Refund", GTRC=auth["GTRC"])["ErrorCode"] == "114"


def test_modify_before_settlement_only(client: httpx.Client) -> None:
    s = sale(client, MainAmt="1000")
    r = call(client, "Modify", GTRC=s["GTRC"], MainAmt="900", TipAmt="50")
    assert (r["Status"], r["MainAmt"], r["AuthAmt"]) == ("success", "900", "950")
    call(client, "Batch")
    assert call(client, "Modify", GTRC=s["GTRC"], MainAmt="800")["ErrorCode"] == "114"


# ----------------------------------------------------------------------------- Void and Refund


def test_void_only_before_batch(client: httpx.Client, fake: FakeCloud9) -> None:
    s = sale(client)
    v = call(client, "Void", GTRC=s["GTRC"])
    assert (v["Status"], v["GTRC"]) == ("success", s["GTRC"])
    assert fake.transactions[s["GTRC"]].voided
    assert call(client, "void", GTRC=s["GTRC"])["ErrorCode"] == "115"
    assert call(client, "Refund", GTRC=s["GTRC"])["ErrorCode"] == "115"
    assert fake.net_captured("INV-1") == 0
    settled = sale(client)
    call(client, "Batch")
    refused = call(client, "Void", GTRC=settled["GTRC"])
    assert (refused["Status"], refused["ErrorCode"]) == ("fail", "114")
    assert not fake.transactions[settled["GTRC"]].voided
    assert fake.batches == [[settled["GTRC"]]]  # the voided sale was not settled


def test_refund_never_more_than_captured(client: httpx.Client, fake: FakeCloud9) -> None:
    s = sale(client, MainAmt="1000", TipAmt="200")
    call(client, "Batch")
    r1 = call(client, "Refund", GTRC=s["GTRC"], MainAmt="700")
    assert (r1["Status"], r1["TransType"], r1["AuthAmt"]) == ("success", "Refund", "700")
    assert r1["GTRC"] != s["GTRC"] and r1["InvoiceNum"] == "INV-1"
    too_much = call(client, "Refund", GTRC=s["GTRC"], MainAmt=600)
    assert (too_much["Status"], too_much["ErrorCode"]) == ("fail", "109")
    assert call(client, "Refund", GTRC=s["GTRC"], MainAmt="500")["Status"] == "success"
    assert call(client, "Refund", GTRC=s["GTRC"], MainAmt="1")["ErrorCode"] == "109"
    assert fake.net_captured("INV-1") == 0
    # A voided refund gives its amount back; a full refund (no MainAmt) takes what is left.
    assert call(client, "Void", GTRC=r1["GTRC"])["Status"] == "success"
    full = call(client, "Refund", GTRC=s["GTRC"])
    assert (full["Status"], full["AuthAmt"]) == ("success", "700")
    assert call(client, "Refund", GTRC="F" * 32)["ErrorCode"] == "104"


def test_refund_before_batch_and_sale_with_refunds_cannot_be_voided(client: httpx.Client) -> None:
    s = sale(client, MainAmt="1000")
    r = call(client, "Refund", GTRC=s["GTRC"], MainAmt="100")
    assert r["Status"] == "success"
    assert call(client, "Void", GTRC=s["GTRC"])["ErrorCode"] == "114"
    assert call(client, "Refund", GTRC=r["GTRC"])["ErrorCode"] == "113"  # a refund of a refund


def test_refund_is_idempotent_with_new_gtrc(client: httpx.Client, fake: FakeCloud9) -> None:
    s = sale(client, MainAmt="1000")
    key = "ABCDEF0123456789ABCDEF0123456789"
    first = call(client, "Refund", GTRC=s["GTRC"], MainAmt="400", NewGTRC=key)
    assert call(client, "Refund", GTRC=s["GTRC"], MainAmt="400", NewGTRC=key) == first
    assert fake.net_captured("INV-1") == 600


# ------------------------------------------------------------------------------------ Tokens


def test_card_token_lifecycle(client: httpx.Client, fake: FakeCloud9) -> None:
    t = call(client, "CreateCardToken", **CARD)
    assert t["Status"] == "success" and re.fullmatch(r"[0-9A-F]{32}", t["CardToken"])
    assert (t["AccountNum"], t["Brand"], t["ExpDate"]) == ("478825XXXXXX8291", "Visa", "1230")
    info = call(client, "GetCardTokenInfo", CardToken=t["CardToken"])
    assert (info["Status"], info["AccountNum"], info["ExpDate"]) == ("success", "478825XXXXXX8291", "1230")
    s = call(client, "Sale", CardToken=t["CardToken"], MainAmt="1500", InvoiceNum="INV-T")
    assert (s["Status"], s["CardToken"], s["AccountNum"]) == ("success", t["CardToken"], "478825XXXXXX8291")
    assert call(client, "DeleteCardToken", CardToken=t["CardToken"])["Status"] == "success"
    assert call(client, "DeleteCardToken", CardToken=t["CardToken"])["ErrorCode"] == "105"
    assert call(client, "GetCardTokenInfo", CardToken=t["CardToken"])["ErrorCode"] == "105"
    assert call(client, "Sale", CardToken=t["CardToken"], MainAmt="100")["ErrorCode"] == "105"
    assert fake.tokens == {}


def test_sale_can_request_a_token_and_tokens_keep_magic_behaviour(client: httpx.Client) -> None:
    s = sale(client, RequestCardToken="Y")
    assert s["Status"] == "success" and len(s["CardToken"]) == 32
    assert call(client, "Sale", CardToken=s["CardToken"], MainAmt="100")["Status"] == "success"
    bad = call(client, "CreateCardToken", AccountNum="4000000000000002", ExpDate="1230")
    assert bad["Status"] == "success"  # no VerifyCard: format only
    assert call(client, "Sale", CardToken=bad["CardToken"], MainAmt="100")["ErrorCode"] == "005"
    verified = call(client, "CreateCardToken", AccountNum="4000000000000002", ExpDate="1230", VerifyCard="Y")
    assert (verified["Status"], verified["ErrorCode"]) == ("fail", "005")
    assert "CardToken" not in verified


def test_verify_update_token_and_reverse(client: httpx.Client, fake: FakeCloud9) -> None:
    v = call(client, "Verify", **CARD)
    assert (v["Status"], v["AuthAmt"], v["TransType"]) == ("success", "0", "Verify")
    assert call(client, "Verify", **{**CARD, "CVVNum": "000"})["ErrorCode"] == "0N7"
    assert fake.approved_sales == {}
    t = call(client, "CreateCardToken", **CARD)
    u = call(client, "UpdateCardTokenInfo", CardToken=t["CardToken"], ExpDate="0931")
    assert (u["Status"], u["ExpDate"]) == ("success", "0931")
    s = sale(client)
    assert call(client, "Reverse", GTRC=s["GTRC"])["Status"] == "success"
    assert fake.transactions[s["GTRC"]].voided


# ------------------------------------------------------------------------------- GetTransInfo


def test_get_trans_info_by_gtrc(client: httpx.Client) -> None:
    s = sale(client, TipAmt="100")
    info = call(client, "GetTransInfo", GTRC=s["GTRC"].lower())
    assert info["Status"] == "success" and info["IsVoided"] == "N"
    assert {k: info[k] for k in s} == s
    declined = sale(client, MainAmt="1005")
    d = call(client, "GetTransInfo", GTRC=declined["GTRC"])
    assert (d["Status"], d["ErrorCode"]) == ("fail", "005")
    none = call(client, "GetTransInfo", GTRC="0" * 32)
    assert (none["Status"], none["ErrorCode"]) == ("fail", "202")


def test_get_trans_info_by_invoice_returns_a_json_string(client: httpx.Client) -> None:
    first = sale(client, InvoiceNum="INV-9")
    second = sale(client, InvoiceNum="INV-9", MainAmt="1200")
    sale(client, InvoiceNum="OTHER")
    call(client, "Void", GTRC=first["GTRC"])
    r = call(client, "GetTransInfo", InvoiceNum="INV-9")
    assert r["Status"] == "success"
    assert isinstance(r["TransactionList"], str)
    entries = json.loads(r["TransactionList"])
    assert [(e["GTRC"], e["IsVoided"], e["AuthAmt"]) for e in entries] == [
        (first["GTRC"], "Y", "1000"),
        (second["GTRC"], "N", "1200"),
    ]
    assert call(client, "GetTransInfo", InvoiceNum="NOPE")["ErrorCode"] == "202"


# --------------------------------------------------------------- timeouts and transport faults


@pytest.mark.parametrize("trigger", [{"AccountNum": "4000000000000119"}, {"MainAmt": "9999"}])
def test_timeout_card_is_approved_and_found_by_get_trans_info(
    fake: FakeCloud9, base_url: str, trigger: dict[str, str]
) -> None:
    fake.timeout_hang_seconds = 10
    gtrc = "0123456789ABCDEF0123456789ABCDEF"
    with httpx.Client(base_url=base_url, timeout=0.5) as http, pytest.raises(httpx.ReadTimeout):
        http.post(
            "/restApi",
            json={
                "TransType": "Sale",
                **CREDS,
                **CARD,
                "MainAmt": "1000",
                "InvoiceNum": "INV-TO",
                "NewGTRC": gtrc,
                **trigger,
            },
        )
    with httpx.Client(base_url=base_url, timeout=5) as http:
        info = call(http, "GetTransInfo", GTRC=gtrc)
        assert (info["Status"], info["ErrorCode"]) == ("success", "000")
        listed = json.loads(call(http, "GetTransInfo", InvoiceNum="INV-TO")["TransactionList"])
        assert [e["GTRC"] for e in listed] == [gtrc]
        # The safe retry (same NewGTRC) replays the recorded answer at once and charges nothing.
        replay = call(http, "Sale", **{**CARD, "MainAmt": "1000", "NewGTRC": gtrc, **trigger})
        assert replay["GTRC"] == gtrc
    assert fake.approved_sales["INV-TO"] == 1


def test_timeout_card_disconnect_and_status_modes(client: httpx.Client, fake: FakeCloud9) -> None:
    fake.timeout_mode = "disconnect"
    with pytest.raises(httpx.RemoteProtocolError):
        sale(client, AccountNum="4000000000000119", InvoiceNum="INV-D")
    fake.timeout_mode = "status"
    r = sale(client, AccountNum="4000000000000119", InvoiceNum="INV-D")
    assert (r["Status"], r["ErrorCode"]) == ("timeout", "117")
    assert call(client, "GetTransInfo", GTRC=r["GTRC"])["Status"] == "success"
    assert fake.approved_sales["INV-D"] == 2


def test_fail_next_http500_and_disconnect(client: httpx.Client, fake: FakeCloud9) -> None:
    fake.fail_next(2)
    for _ in range(2):
        r = client.post("/restApi", json={"TransType": "Sale", **CREDS, **CARD, "MainAmt": "100"})
        assert r.status_code == 500
    fake.fail_next(1, mode="disconnect")
    with pytest.raises(httpx.RemoteProtocolError):
        sale(client)
    assert fake.transactions == {}  # never reached the gateway
    assert len(fake.requests) == 3
    fake.fail_next(1, process=True)  # processed, answer lost
    assert (
        client.post(
            "/restApi", json={"TransType": "Sale", **CREDS, **CARD, "MainAmt": "100", "InvoiceNum": "INV-L"}
        ).status_code
        == 500
    )
    assert fake.approved_sales["INV-L"] == 1
    assert sale(client)["Status"] == "success"  # back to normal


def test_in_process_through_asgi_transport(fake: FakeCloud9) -> None:
    """A driver's unit tests may skip sockets: faults then surface as the same httpx errors."""

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=fake.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://c9.test") as http:
            body = {"TransType": "sale", **CREDS, **CARD, "MainAmt": 700, "InvoiceNum": "INV-X"}
            assert (await http.post("/restApi", json=body)).json()["Status"] == "success"
            fake.fail_next(1, mode="disconnect")
            with pytest.raises(httpx.RemoteProtocolError):
                await http.post("/restApi", json=body)
            fake.timeout_mode = "disconnect"
            with pytest.raises(httpx.RemoteProtocolError):
                await http.post("/restApi", json={**body, "AccountNum": "4000000000000119"})

    asyncio.run(scenario())
    assert fake.approved_sales["INV-X"] == 2


def test_hang_next_processes_then_answers_late(fake: FakeCloud9, base_url: str) -> None:
    fake.hang_next(10)
    with httpx.Client(base_url=base_url, timeout=0.3) as http, pytest.raises(httpx.ReadTimeout):
        sale(http, InvoiceNum="INV-H")
    assert fake.approved_sales["INV-H"] == 1
    fake.hang_next(0.2)
    with httpx.Client(base_url=base_url, timeout=5) as http:
        assert sale(http, InvoiceNum="INV-H2")["Status"] == "success"  # late but answered


def test_hang_before_processing_processes_nothing_until_it_ends(fake: FakeCloud9, base_url: str) -> None:
    fake.hang_next(0.3, before_processing=True)
    with httpx.Client(base_url=base_url, timeout=5) as http:
        assert sale(http, InvoiceNum="INV-B")["Status"] == "success"
    assert fake.approved_sales["INV-B"] == 1


# ------------------------------------------------------------------------------ Hosted iframe


def test_cloud9_seed_matches_the_documented_recipe() -> None:
    when = datetime(2026, 3, 14, 9, 5, 7, 123456, tzinfo=UTC)
    p = cloud9_seed("INV-1", GMID, GTID, GMPW, when)
    web = hashlib.sha256(GMID.encode()).hexdigest().upper()
    assert p["WebGMID"] == web and p["GTID"] == GTID and p["InvoiceNum"] == "INV-1"
    assert p["SeedTime"] == "14-03-2026:09:05:07:123"
    assert (
        p["Seed"]
        == hashlib.sha256(f"INV-1:{web}:{GTID}:14-03-2026:09:05:07:123:{GMPW}".encode()).hexdigest().upper()
    )
    assert GMPW not in json.dumps(p)


def iframe_query(fake: FakeCloud9, when: datetime | None = None, **extra: str) -> dict[str, str]:
    return {
        **cloud9_seed("INV-42", GMID, GTID, GMPW, when or fake.now()),
        "CallbackUrl": "http://127.0.0.1:9/cloud9/callback",
        "CallbackContext": "ctx-<42>",
        "CallbackVersion": "2.0",
        "MerchantName": "Posdesk Café",
        **extra,
    }


def session_of(page: str) -> str:
    found = re.search(r'name="C9Session" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def posted_message(page: str) -> dict[str, str]:
    found = re.search(r"window\.parent\.postMessage\((\{.*?\}), \"\*\"\)", page)
    assert found, page
    return json.loads(found.group(1))


@pytest.mark.parametrize("path", ["/CreateCardToken", "/checkout"])
def test_fresh_seed_renders_the_card_form(client: httpx.Client, fake: FakeCloud9, path: str) -> None:
    r = client.get(path, params=iframe_query(fake, when=fake.now() - timedelta(minutes=4)))
    assert r.status_code == 200
    for testid in ("c9-card-number", "c9-exp", "c9-cvv", "c9-submit"):
        assert f'data-testid="{testid}"' in r.text
    assert "c9-error" not in r.text and "Posdesk Café" in r.text


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda q: q.update(InvoiceNum="INV-43"), "Invalid seed"),
        (lambda q: q.update(Seed=q["Seed"][:-1] + ("0" if q["Seed"][-1] != "0" else "1")), "Invalid seed"),
        (lambda q: q.update(SeedTime="14-03-2026:11:59:59:999"), "Invalid seed"),
        (lambda q: q.update(SeedTime="2026-03-14T12:00:00"), "Invalid seed"),
        (lambda q: q.pop("Seed"), "Invalid seed"),
        (lambda q: q.update(WebGMID=hashlib.sha256(b"other").hexdigest().upper()), "Invalid WebGMID"),
        (lambda q: q.update(GTID="GT0000000000"), "Invalid GTID"),
    ],
)
def test_tampered_iframe_query_is_refused(
    client: httpx.Client, fake: FakeCloud9, tamper: Any, message: str
) -> None:
    q = iframe_query(fake)
    tamper(q)
    r = client.get("/CreateCardToken", params=q)
    assert 'data-testid="c9-error"' in r.text and message in r.text
    assert "c9-card-number" not in r.text


def test_seed_older_than_five_minutes_is_expired(client: httpx.Client, fake: FakeCloud9) -> None:
    q = iframe_query(fake, when=fake.now() - timedelta(minutes=5, seconds=1))
    r = client.get("/CreateCardToken", params=q)
    assert 'data-testid="c9-error"' in r.text and "Seed expired" in r.text


def test_submit_creates_token_calls_back_and_posts_message(client: httpx.Client, fake: FakeCloud9) -> None:
    received: list[tuple[str, dict[str, Any]]] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append((str(request.url), json.loads(request.content)))
        return httpx.Response(200, json={"ok": True})

    fake.callback_transport = httpx.MockTransport(receiver)
    page = client.get("/CreateCardToken", params=iframe_query(fake)).text
    r = client.post(
        "/CreateCardToken",
        data={
            "C9Session": session_of(page),
            "AccountNum": "4788 2500 0002 8291",
            "ExpDate": "12/30",
            "CVVNum": "123",
        },
    )
    assert 'data-testid="c9-result"' in r.text
    message = posted_message(r.text)
    assert set(message) == {
        "Status",
        "ResponseText",
        "CardToken",
        "Medium",
        "Brand",
        "AccountNum",
        "ExpDate",
        "CallbackContext",
    }
    assert (message["Status"], message["AccountNum"], message["Brand"], message["ExpDate"]) == (
        "success",
        "478825XXXXXX8291",
        "Visa",
        "1230",
    )
    assert (
        message["CallbackContext"] == "ctx-<42>"
        and "</" not in r.text.split("<script>")[1].split("</script>")[0]
    )
    assert message["CardToken"] in fake.tokens
    [(url, payload)] = received
    assert url == "http://127.0.0.1:9/cloud9/callback"
    assert (payload["CardToken"], payload["CallbackContext"], payload["InvoiceNum"]) == (
        message["CardToken"],
        "ctx-<42>",
        "INV-42",
    )
    assert fake.callbacks[0]["status_code"] == 200
    assert fake.requests == []  # the iframe is not a /restApi client
    # The form is single-use once it produced a token.
    again = client.post("/CreateCardToken", data={"C9Session": session_of(page), **CARD})
    assert "Session expired" in again.text


def test_iframe_verify_card_declines_and_lets_the_user_retry(client: httpx.Client, fake: FakeCloud9) -> None:
    fake.callback_transport = httpx.MockTransport(lambda request: httpx.Response(204))
    page = client.get("/checkout", params=iframe_query(fake, VerifyCard="Y")).text
    session = session_of(page)
    r = client.post(
        "/checkout",
        data={"C9Session": session, "AccountNum": "4000000000000002", "ExpDate": "1230", "CVVNum": "123"},
    )
    assert 'data-testid="c9-decline"' in r.text and 'data-testid="c9-card-number"' in r.text
    assert posted_message(r.text)["Status"] == "fail" and fake.tokens == {}
    ok = client.post("/checkout", data={"C9Session": session, **CARD})
    assert posted_message(ok.text)["Status"] == "success"
    assert [c["payload"]["Status"] for c in fake.callbacks] == ["fail", "success"]


def test_no_post_message_without_callback_version_2(client: httpx.Client, fake: FakeCloud9) -> None:
    q = iframe_query(fake, CallbackVersion="1.0")
    del q["CallbackUrl"]
    page = client.get("/CreateCardToken", params=q).text
    r = client.post("/CreateCardToken", data={"C9Session": session_of(page), **CARD})
    assert 'data-testid="c9-result"' in r.text and "postMessage" not in r.text
    assert fake.callbacks == []


def test_callback_reaches_a_real_server_and_refuses_other_hosts(
    client: httpx.Client, fake: FakeCloud9
) -> None:
    got: list[dict[str, Any]] = []

    async def callback(request: Request) -> JSONResponse:
        got.append(await request.json())
        return JSONResponse({"ok": True})

    receiver = Starlette(routes=[Route("/cb", callback, methods=["POST"])])
    with serve_app(receiver) as receiver_url:
        page = client.get(
            "/CreateCardToken", params=iframe_query(fake, CallbackUrl=f"{receiver_url}/cb")
        ).text
        client.post("/CreateCardToken", data={"C9Session": session_of(page), **CARD})
        page = client.get(
            "/CreateCardToken", params=iframe_query(fake, CallbackUrl="http://example.com/cb")
        ).text
        client.post("/CreateCardToken", data={"C9Session": session_of(page), **CARD})
    assert [g["Status"] for g in got] == ["success"]
    assert fake.callbacks[0]["status_code"] == 200
    assert "loopback" in fake.callbacks[1]["error"]


@pytest.mark.browser
def test_iframe_in_a_real_browser_posts_to_the_parent(fake: FakeCloud9, base_url: str, browser: Any) -> None:
    fake.callback_transport = httpx.MockTransport(lambda request: httpx.Response(200))
    page = browser.new_page()
    try:
        src = str(httpx.URL(f"{base_url}/CreateCardToken", params=iframe_query(fake)))
        page.set_content(
            "<script>window.msgs = []; window.addEventListener('message', e => { window.msgs.push(e.data); });</script>"
            f'<iframe id="c9" src="{src.replace("&", "&amp;")}" width="400" height="300"></iframe>'
        )
        frame = page.frame_locator("#c9")
        frame.get_by_test_id("c9-card-number").fill("4012000098765439")
        frame.get_by_test_id("c9-exp").fill("1230")
        frame.get_by_test_id("c9-cvv").fill("999")
        frame.get_by_test_id("c9-submit").click()
        page.wait_for_function("window.msgs.length > 0", timeout=10_000)
        [message] = page.evaluate("window.msgs")
    finally:
        page.close()
    assert message["Status"] == "success" and message["AccountNum"] == "401200XXXXXX5439"
    assert message["CardToken"] in fake.tokens and message["CallbackContext"] == "ctx-<42>"
