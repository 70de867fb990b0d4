"""The payment page of a store on Cloud9 (the fake), over real HTTP: card form, charges, callbacks.

``cloud9_shop`` is a companion on its own port (so Cloud9's server callback can reach it) whose store's
gateway is Cloud9 pointing at the fake; the browser scenarios in ``tests/e2e`` use it too.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from posdesk.companion.app import create_app
from posdesk.gateways.cloud9 import invoice_number
from posdesk.gateways.cloud9.codes import UNAVAILABLE
from tests.companion.conftest import Companion, add_store, demo_config, invoice_upload, put_invoice
from tests.fakes.cloud9_api import FakeCloud9, make_fake_cloud9
from tests.fakes.serve import serve_app
from tests.waiting import free_port

SANDBOX = "4788250000028291"
TIMEOUT_CARD = "4000000000000119"


@dataclass
class Cloud9Shop:
    """A companion whose store takes cards through (fake) Cloud9."""

    companion: Companion
    fake: FakeCloud9
    fake_url: str

    @property
    def url(self) -> str:
        return self.companion.url

    def configure(self, **secrets: str) -> httpx.Response:
        public = {
            "environment": "test",
            "api_url": f"{self.fake_url}/restApi",
            "frame_url": self.fake_url,
            "timeout": "1",
        }
        creds = {"GMID": self.fake.gmid, "GTID": self.fake.gtid, "GMPW": self.fake.gmpw, **secrets}
        return self.companion.api.put(
            "/api/v1/gateway", json={"kind": "cloud9", "public": public, "secrets": creds}
        )

    def invoice(self, **kwargs: Any) -> dict[str, Any]:
        body = invoice_upload(**kwargs)
        response = put_invoice(self.companion.api, body)
        assert response.status_code in (200, 201), response.text
        return body

    def events(self, type_: str) -> list[dict[str, Any]]:
        found = self.companion.api.get("/api/v1/events", params={"after": 0}).json()["events"]
        return [e for e in found if e["type"] == type_]

    def card_token(self, pan: str = SANDBOX, exp: str = "1239") -> str:
        body = {"TransType": "CreateCardToken", "AccountNum": pan, "ExpDate": exp}
        return self.fake.process(
            {**body, "GMID": self.fake.gmid, "GTID": self.fake.gtid, "GMPW": self.fake.gmpw}
        ).fields["CardToken"]




@pytest.fixture
def cloud9_shop(tmp_path: Path) -> Iterator[Cloud9Shop]:
    fake = make_fake_cloud9()
    with contextlib.ExitStack() as stack:
        fake_url = stack.enter_context(serve_app(fake.app))
        stack.callback(fake.release_hangs)
        port = free_port()
        app = create_app(
            demo_config(f"sqlite+pysqlite:///{tmp_path / 'companion.db'}", f"http://127.0.0.1:{port}")
        )
        app.state.test_clients = []
        stack.callback(app.state.db.dispose)
        url = stack.enter_context(serve_app(app, port=port))
        stack.callback(lambda: [c.close() for c in app.state.test_clients])
        terminal = add_store(app)
        companion = Companion(app, app.state.config, url, terminal, api=httpx.Client())
        companion.api = companion.client(headers=terminal.headers)
        shop = Cloud9Shop(companion, fake, fake_url)
        assert shop.configure().status_code == 200
        yield shop


class PayPage:
    """One client on one link, without JavaScript: the form as the page's script would post it."""

    def __init__(self, shop: Cloud9Shop, body: dict[str, Any]) -> None:
        self.shop = shop
        self.token = body["link_token"]
        self.client = shop.companion.client(follow_redirects=False)
        self.response = httpx.Response(0)

    @property
    def html(self) -> str:
        return self.response.text

    def open(self) -> httpx.Response:
        self.response = self.client.get(f"/pay/{self.token}")
        return self.response

    def frame_src(self) -> str:
        found = re.search(r'id="c9-frame" data-testid="c9-frame" src="([^"]+)"', self.html)
        assert found, "the page has no Cloud9 card form"
        return unescape(found.group(1))

    def field(self, name: str) -> str:
        found = re.search(rf'name="{name}" value="([^"]*)"', self.html)
        assert found, f"the page has no {name} field"
        return found.group(1)

    def pay(self, tip: str = "none", **card: str) -> httpx.Response:
        data = {
            "csrf": self.field("csrf"),
            "version": self.field("version"),
            "tip": tip,
            "card": "new",
            **card,
        }
        self.response = self.client.post(f"/pay/{self.token}/pay", data=data)
        return self.response


def a_second_invoice_with_a_saved_card(shop: Cloud9Shop) -> tuple[PayPage, dict[str, Any], str]:
    """The client paid a first invoice and saved the card; the page of a second offers it (its id)."""
    first = PayPage(shop, shop.invoice())
    first.open()
    assert first.pay(gw_c9_token=shop.card_token(), save_card="on").status_code == 303
    body = shop.invoice()
    page = PayPage(shop, body)
    page.open()
    saved = re.search(r'name="card" value="([0-9a-f]{32})"', page.html)
    assert saved, "the saved card is not offered"
    return page, body, saved.group(1)


def _iframe_submit(src: str, pan: str, exp: str = "1239") -> str:
    """What a client does in Cloud9's frame: open it, type a card, submit. Returns the result page."""
    with httpx.Client(timeout=10) as http:
        form = http.get(src).text
        session = re.search(r'name="C9Session" value="([^"]+)"', form)
        assert session, form
        path = urlsplit(src).path
        origin = f"{urlsplit(src).scheme}://{urlsplit(src).netloc}"
        return http.post(
            f"{origin}{path}",
            data={"C9Session": session.group(1), "AccountNum": pan, "ExpDate": exp, "CVVNum": "123"},
        ).text


def test_the_page_embeds_a_freshly_seeded_card_form_and_allows_only_its_origin(
    cloud9_shop: Cloud9Shop,
) -> None:
    page = PayPage(cloud9_shop, cloud9_shop.invoice())
    first = page.open()
    src = page.frame_src()
    assert src.startswith(f"{cloud9_shop.fake_url}/CreateCardToken?")
    csp = first.headers["content-security-policy"]
    [frame_src] = [d for d in csp.split("; ") if d.startswith("frame-src")]
    assert frame_src.split()[1:] == ["'self'", cloud9_shop.fake_url]
    assert cloud9_shop.fake.gmpw not in first.text and cloud9_shop.fake.gmid not in first.text
    params = parse_qs(urlsplit(src).query)
    assert params["CallbackUrl"] == [
        f"{cloud9_shop.url}/webhooks/cloud9/{cloud9_shop.companion.terminal.store_id}/card-token"
    ]
    assert params["CallbackContext"] == [page.field("gw_c9_ref")]
    page.open()
    assert page.frame_src() != src  # a fresh Seed for every render


def test_a_token_from_the_page_pays_and_the_invoice_is_paid_once(cloud9_shop: Cloud9Shop) -> None:
    body = cloud9_shop.invoice()
    page = PayPage(cloud9_shop, body)
    page.open()
    paid = page.pay(tip="0", gw_c9_token=cloud9_shop.card_token())
    assert paid.status_code == 303 and "/payments/" in paid.headers["location"]
    [event] = cloud9_shop.events("invoice.paid")
    assert event["data"]["payment"]["amount"] == 8165 and event["data"]["payment"]["tip"] == 900
    assert event["data"]["payment"]["card_last4"] == "8291"
    inv = invoice_number({"invoice_id": body["invoice_id"]})
    assert cloud9_shop.fake.approved_sales[inv] == 1 and cloud9_shop.fake.net_captured(inv) == 9065


def test_cloud9s_server_callback_stands_in_when_the_page_got_no_message(cloud9_shop: Cloud9Shop) -> None:
    page = PayPage(cloud9_shop, cloud9_shop.invoice())
    page.open()
    result = _iframe_submit(page.frame_src(), SANDBOX)
    assert 'data-status="success"' in result
    [callback] = cloud9_shop.fake.callbacks
    assert callback["status_code"] == 200, callback
    paid = page.pay(gw_c9_ref=page.field("gw_c9_ref"))  # no token: the page's message was lost
    assert paid.status_code == 303, paid.text
    assert len(cloud9_shop.events("invoice.paid")) == 1


def test_a_forged_callback_token_is_confirmed_and_refused(cloud9_shop: Cloud9Shop) -> None:
    page = PayPage(cloud9_shop, cloud9_shop.invoice())
    page.open()
    store_id = cloud9_shop.companion.terminal.store_id
    forged = {"Status": "success", "CardToken": "AB" * 16, "CallbackContext": page.field("gw_c9_ref")}
    assert page.client.post(f"/webhooks/cloud9/{store_id}/card-token", json=forged).status_code == 200
    refused = page.pay(gw_c9_ref=page.field("gw_c9_ref"))
    assert refused.status_code == 400 and "We could not read this card" in refused.text
    assert page.client.post("/webhooks/cloud9/no-such-store/card-token", json=forged).status_code == 404
    assert cloud9_shop.events("invoice.paid") == []


def test_paying_without_entering_a_card_says_what_to_do(cloud9_shop: Cloud9Shop) -> None:
    page = PayPage(cloud9_shop, cloud9_shop.invoice())
    page.open()
    refused = page.pay()
    assert refused.status_code == 400 and "Enter your card details in the card form" in refused.text


def test_a_lost_answer_is_found_and_charged_once(cloud9_shop: Cloud9Shop) -> None:
    body = cloud9_shop.invoice()
    page = PayPage(cloud9_shop, body)
    page.open()
    paid = page.pay(gw_c9_token=cloud9_shop.card_token(TIMEOUT_CARD))
    assert paid.status_code == 303
    assert len(cloud9_shop.events("invoice.paid")) == 1
    assert cloud9_shop.fake.approved_sales[invoice_number({"invoice_id": body["invoice_id"]})] == 1


def test_bad_credentials_show_the_client_a_generic_message_and_the_manager_the_reason(
    cloud9_shop: Cloud9Shop,
) -> None:
    token = cloud9_shop.card_token()
    assert cloud9_shop.configure(GMPW="GMPW0000000000").status_code == 200
    page = PayPage(cloud9_shop, cloud9_shop.invoice())
    page.open()
    refused = page.pay(gw_c9_token=token)
    assert refused.status_code == 502 and UNAVAILABLE in unescape(refused.text)
    assert "GMPW" not in refused.text and "merchant password" not in refused.text
    check = cloud9_shop.companion.api.post("/api/v1/gateway/test").json()
    assert check["ok"] is False and "merchant password (GMPW)" in check["message"]
    assert "GMPW0000000000" not in str(check)
    assert cloud9_shop.configure().status_code == 200
    assert cloud9_shop.companion.api.post("/api/v1/gateway/test").json()["ok"] is True


def test_an_unconfirmed_sale_waits_as_processing_until_reconciliation_finds_it(
    cloud9_shop: Cloud9Shop,
) -> None:
    from datetime import timedelta

    from posdesk.companion.payments import gateway_directory, reconcile

    page, body, card = a_second_invoice_with_a_saved_card(cloud9_shop)
    cloud9_shop.fake.fail_next(1, mode="disconnect", process=True)  # the Sale is approved, its answer lost
    cloud9_shop.fake.fail_next(1, mode="http500")  # ... and the lookup gets no answer either
    paid = page.pay(card=card)
    assert paid.status_code == 303
    waiting = page.client.get(paid.headers["location"])
    assert 'data-testid="processing"' in waiting.text  # never "you were not charged"

    def paid_events() -> list[dict[str, Any]]:
        return [e for e in cloud9_shop.events("invoice.paid") if e["invoice_id"] == body["invoice_id"]]

    assert paid_events() == []
    app = cloud9_shop.companion.app
    assert reconcile.reconcile(app.state.db, gateway_directory(app.state), settle_time=timedelta(0)) == 1
    assert len(paid_events()) == 1
    assert cloud9_shop.fake.approved_sales[invoice_number({"invoice_id": body["invoice_id"]})] == 1


class Killed(BaseException):
    """The companion process dying (SIGKILL): nothing after it runs, no handler catches it."""


def _reconcile_after_restart(shop: Cloud9Shop) -> int:
    """The restarted companion's first reconciliation pass (a fresh gateway directory, no settle time)."""
    from datetime import timedelta

    from posdesk.companion.payments import GatewayDirectory, reconcile

    app = shop.companion.app
    return reconcile.reconcile(app.state.db, GatewayDirectory(app.state.config), settle_time=timedelta(0))


def test_a_sale_whose_answer_was_lost_before_a_restart_is_found_by_its_gtrc_and_paid_once(
    cloud9_shop: Cloud9Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    from posdesk.companion import payments
    from posdesk.companion.models import Payment
    from posdesk.core.links import hash_token
    from posdesk.core.tips import TipChoice
    from posdesk.gateways.cloud9 import Cloud9Gateway, transaction_ref

    body = cloud9_shop.invoice()
    charge = Cloud9Gateway.charge

    def charge_then_die(gateway: Cloud9Gateway, request: Any) -> Any:
        charge(gateway, request)  # Cloud9 approves the Sale (its answer lost, found by GetTransInfo) ...
        raise Killed  # ... and the companion dies before it records anything

    monkeypatch.setattr(Cloud9Gateway, "charge", charge_then_die)
    app = cloud9_shop.companion.app
    with pytest.raises(Killed):
        payments.pay_invoice(
            app.state.db,
            payments.gateway_directory(app.state),
            hash_token(body["link_token"]),
            payments.PayRequest(
                version=1, tip=TipChoice.none(), card_fields={"gw_c9_token": cloud9_shop.card_token(TIMEOUT_CARD)}
            ),
        )
    monkeypatch.undo()
    with app.state.db.read() as session:
        [(status, ref, key)] = session.query(
            Payment.status, Payment.gateway_payment_id, Payment.idempotency_key
        ).all()
    assert (status, ref) == ("pending", None), "nothing of Cloud9's answer was recorded"
    inv = invoice_number({"invoice_id": body["invoice_id"]})
    assert cloud9_shop.fake.approved_sales[inv] == 1 and cloud9_shop.events("invoice.paid") == []

    assert _reconcile_after_restart(cloud9_shop) == 1
    [paid] = cloud9_shop.events("invoice.paid")
    assert paid["invoice_id"] == body["invoice_id"] and paid["data"]["payment"]["amount"] == 8165
    with app.state.db.read() as session:
        [(status, ref)] = session.query(Payment.status, Payment.gateway_payment_id).all()
    assert (status, ref) == ("succeeded", transaction_ref(cloud9_shop.fake.gmid, key))
    assert _reconcile_after_restart(cloud9_shop) == 0
    assert cloud9_shop.fake.approved_sales[inv] == 1 and len(cloud9_shop.events("invoice.paid")) == 1


def test_a_tip_afterwards_whose_answer_was_lost_is_applied_by_reconciliation(cloud9_shop: Cloud9Shop) -> None:
    body = cloud9_shop.invoice()
    page = PayPage(cloud9_shop, body)
    page.open()
    paid = page.pay(gw_c9_token=cloud9_shop.card_token())
    assert paid.status_code == 303
    payment_id = paid.headers["location"].split("/payments/")[1].split("?")[0]
    page.response = page.client.get(paid.headers["location"])
    assert 'id="add-tip-form"' in page.html
    cloud9_shop.fake.fail_next(1, mode="disconnect", process=True)  # the tip's Sale approved, answer lost
    cloud9_shop.fake.fail_next(1, mode="http500")  # ... and the lookup unanswered: outcome unknown
    tipped = page.client.post(
        f"/pay/{page.token}/payments/{payment_id}/tip", data={"csrf": page.field("csrf"), "tip": "0"}
    )
    assert tipped.status_code == 303
    assert cloud9_shop.events("tip.added") == []
    inv = invoice_number({"invoice_id": body["invoice_id"]})
    assert cloud9_shop.fake.net_captured(inv) == 8165 + 900  # Cloud9 took the tip as a Sale of its own

    assert _reconcile_after_restart(cloud9_shop) == 1
    [added] = cloud9_shop.events("tip.added")
    assert (added["data"]["payment"]["amount"], added["data"]["payment"]["tip"]) == (0, 900)
    assert cloud9_shop.fake.approved_sales[inv] == 2 and cloud9_shop.fake.net_captured(inv) == 9065


def test_a_146_on_a_resend_is_looked_up_again_never_read_as_a_decline(
    cloud9_shop: Cloud9Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Sale's answer is lost; GetTransInfo says "no record" (the Sale lands late); the resend gets 146
    (duplicate) because the first Sale went through after all: that is looked up, not a decline."""
    from posdesk.gateways.cloud9 import Cloud9Gateway

    page, body, card = a_second_invoice_with_a_saved_card(cloud9_shop)
    find = Cloud9Gateway._find
    lookups: list[str] = []

    def lagging_find(gateway: Cloud9Gateway, gtrc: str, invoice_num: str) -> Any:
        lookups.append(gtrc)
        return None if len(lookups) == 1 else find(gateway, gtrc, invoice_num)

    monkeypatch.setattr(Cloud9Gateway, "_find", lagging_find)
    cloud9_shop.fake.resend_sees_duplicate = True
    cloud9_shop.fake.fail_next(1, mode="disconnect", process=True)  # approved, the answer lost
    paid = page.pay(card=card)
    assert paid.status_code == 303, paid.text[:300]
    assert len(lookups) >= 2  # "no record", then 146, then looked up again
    [closed] = [e for e in cloud9_shop.events("invoice.paid") if e["invoice_id"] == body["invoice_id"]]
    assert closed["data"]["payment"]["amount"] > 0
    assert cloud9_shop.events("payment.failed") == []
    assert cloud9_shop.fake.approved_sales[invoice_number({"invoice_id": body["invoice_id"]})] == 1
