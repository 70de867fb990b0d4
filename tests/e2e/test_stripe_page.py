"""The payment page of a Stripe store in Debian's Chromium: the Payment Element (the Stripe.js stand-in),
the companion on uvicorn, the fake Stripe API behind ``https://api.stripe.com`` (routed by Playwright,
so the page's Content-Security-Policy stays exactly Stripe's), webhooks signed and delivered."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from posdesk.companion.app import create_app
from posdesk.companion.models import Payment, SavedCard
from tests.companion.conftest import add_store, demo_config, invoice_upload, put_invoice
from tests.fakes.serve import serve_app
from tests.fakes.stripe_api import FakeStripe, make_fake_stripe
from tests.gateway_setup import connect_stripe

STAND_IN = Path(__file__).resolve().parent.parent / "fakes" / "stripe_js" / "stripe.js"
WHSEC = "whsec_browser_test"


@dataclass
class StripeShop:
    url: str
    api: httpx.Client
    fake: FakeStripe
    app: Any
    stripe_base: str  # where the fake Stripe API really listens

    def invoice(self, **kw: Any) -> tuple[str, dict[str, Any]]:
        body = invoice_upload(**kw)
        assert put_invoice(self.api, body).status_code == 200
        return body["link_token"], body

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.api.get("/api/v1/events").json()["events"] if e["type"] == kind]

    def wait_for(self, kind: str, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(found := self.events(kind)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return found

    def saved_cards(self) -> list[str]:
        with self.app.state.db.read() as session:
            return [card.last4 for card in session.query(SavedCard).filter(SavedCard.removed_at.is_(None))]


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[StripeShop]:
    with make_fake_stripe(webhook_secret=WHSEC) as fake, serve_app(fake.app) as stripe_base:
        app = create_app(demo_config(f"sqlite+pysqlite:///{tmp_path / 'companion.db'}"))
        try:
            with serve_app(app) as url, httpx.Client(base_url=url, timeout=10) as plain:
                terminal = add_store(app)
                api = httpx.Client(base_url=url, timeout=10, headers=terminal.headers)
                connect_stripe(api, stripe_base, WHSEC, key="browser")
                fake.webhook_url = f"{url}/webhooks/stripe"
                yield StripeShop(url, api, fake, app, stripe_base)
                fake.wait_for_webhooks()
                api.close()
                plain.close()
        finally:
            app.state.db.dispose()


def open_page(page: Page, shop: StripeShop, token: str, three_d_secure: str = "succeed") -> None:
    """The page with Stripe.js's stand-in, talking to the fake as if it were api.stripe.com."""
    base = shop.stripe_base

    def stripe_js(route: Route) -> None:
        route.fulfill(status=200, content_type="text/javascript", body=STAND_IN.read_text())

    def stripe_api(route: Route) -> None:
        target = re.sub(r"^https://api\.stripe\.com", base, route.request.url)
        route.fulfill(response=route.fetch(url=target))

    page.route("https://js.stripe.com/**", stripe_js)
    page.route("https://api.stripe.com/**", stripe_api)
    page.add_init_script(
        f"window.__FAKE_STRIPE_BASE__ = 'https://api.stripe.com'; window.__FAKE_STRIPE_3DS__ = '{three_d_secure}';"
    )
    page.goto(f"{shop.url}/pay/{token}")
    expect(page.get_by_test_id("stripe-card-number")).to_be_attached()  # hidden while a saved card is chosen


def pay_with_new_card(page: Page, number: str, *, save: bool | None = None) -> None:
    page.get_by_test_id("stripe-card-number").fill(number)
    if save is not None:
        page.locator("#save-card").set_checked(save)
    page.get_by_test_id("pay-button").click()


def test_new_card_with_a_tip(phone_page: Page, shop: StripeShop) -> None:
    token, body = shop.invoice()
    open_page(phone_page, shop, token)
    phone_page.get_by_test_id("tip-option").nth(2).click()  # 20%
    tip = 1200  # 20% of the $60.00 service
    expect(phone_page.locator("#sum-tip")).to_have_text("$12.00")
    pay_with_new_card(phone_page, "4242424242424242", save=False)
    expect(phone_page.get_by_test_id("confirmation")).to_be_visible()
    expect(phone_page.get_by_test_id("receipt-tip")).to_have_text("$12.00")
    expect(phone_page.get_by_test_id("receipt-card")).to_contain_text("4242")
    [confirmation] = shop.fake.browser_confirmations
    assert confirmation["intent_amount"] == body["totals"]["balance_due"] + tip
    assert (
        confirmation["elements"]["amount"] == body["totals"]["balance_due"] + tip
    )  # the element followed the tip
    [closed] = shop.wait_for("invoice.paid")
    assert closed["data"]["payment"]["tip"] == tip
    assert shop.fake.charge_count(invoice_id=body["invoice_id"]) == 1


def test_a_new_card_saved_then_used_on_a_second_invoice(phone_page: Page, shop: StripeShop) -> None:
    token, _ = shop.invoice()
    open_page(phone_page, shop, token)
    pay_with_new_card(phone_page, "4242424242424242", save=True)
    expect(phone_page.get_by_test_id("confirmation")).to_be_visible()
    assert shop.saved_cards() == ["4242"]

    second, body = shop.invoice()
    open_page(phone_page, shop, second)
    expect(phone_page.get_by_test_id("saved-card")).to_contain_text("4242")
    phone_page.get_by_test_id("pay-button").click()  # the saved card is chosen: "Use" it
    expect(phone_page.get_by_test_id("confirmation")).to_be_visible()
    assert len(shop.wait_for("invoice.paid", 2)) == 2
    assert len(shop.fake.browser_confirmations) == 1  # the second payment was confirmed by the server
    assert shop.fake.charge_count(invoice_id=body["invoice_id"]) == 1


def test_a_saved_card_needing_3d_secure(phone_page: Page, shop: StripeShop) -> None:
    token, _ = shop.invoice()
    open_page(phone_page, shop, token)
    pay_with_new_card(phone_page, "4000002760003184", save=True)  # always asks; passed on the page
    expect(phone_page.get_by_test_id("confirmation")).to_be_visible()

    second, _ = shop.invoice()
    open_page(phone_page, shop, second, three_d_secure="manual")
    phone_page.get_by_test_id("pay-button").click()
    expect(phone_page.get_by_test_id("authenticate")).to_be_visible()
    phone_page.get_by_test_id("stripe-3ds-complete").click()  # the bank's challenge, passed
    expect(phone_page.get_by_test_id("confirmation")).to_be_visible()
    assert len(shop.wait_for("invoice.paid", 2)) == 2


def test_a_declined_card_says_so_and_another_card_pays(phone_page: Page, shop: StripeShop) -> None:
    token, body = shop.invoice(client=None)  # a walk-in: no saving, no saved cards
    open_page(phone_page, shop, token)
    expect(phone_page.locator("#save-card")).to_have_count(0)
    pay_with_new_card(phone_page, "4000000000000002")
    expect(phone_page.get_by_test_id("stripe-error")).to_have_text("Your card was declined.")
    expect(phone_page.get_by_test_id("pay-button")).to_be_enabled()
    pay_with_new_card(phone_page, "4242424242424242")
    expect(phone_page.get_by_test_id("confirmation")).to_be_visible()
    assert shop.fake.charge_count(invoice_id=body["invoice_id"]) == 1
    with shop.app.state.db.read() as session:
        assert [p.status for p in session.query(Payment).order_by(Payment.created_at)] == [
            "failed",
            "succeeded",
        ]


def test_the_page_keeps_exactly_stripes_origins(phone_page: Page, shop: StripeShop) -> None:
    token, _ = shop.invoice()
    violations: list[str] = []
    phone_page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    open_page(phone_page, shop, token)
    pay_with_new_card(phone_page, "4242424242424242", save=False)
    expect(phone_page.get_by_test_id("confirmation")).to_be_visible()
    assert violations == []


def test_a_card_saved_without_paying_is_then_used_on_the_same_page(phone_page: Page, shop: StripeShop) -> None:
    token, body = shop.invoice()
    open_page(phone_page, shop, token)
    expect(phone_page.get_by_test_id("saved-card")).to_have_count(0)
    phone_page.get_by_test_id("stripe-card-number").fill("5555555555554444")
    phone_page.get_by_test_id("save-card-only").click()  # a SetupIntent, confirmed with confirmSetup
    expect(phone_page.get_by_test_id("saved-card")).to_contain_text("4444")  # the page, reloaded
    assert shop.saved_cards() == ["4444"]
    [setup] = shop.fake.browser_confirmations
    assert setup["intent"].startswith("seti_") and setup["elements"]["mode"] == "setup"
    assert shop.fake.charge_count(invoice_id=body["invoice_id"]) == 0  # saving charged nothing

    phone_page.get_by_test_id("pay-button").click()  # the saved card is chosen: "Use" it
    expect(phone_page.get_by_test_id("confirmation")).to_be_visible()
    expect(phone_page.get_by_test_id("receipt-card")).to_contain_text("4444")
    [closed] = shop.wait_for("invoice.paid")
    assert closed["data"]["payment"]["card_last4"] == "4444" and closed["data"]["balance_due"] == 0
    assert shop.fake.charge_count(invoice_id=body["invoice_id"]) == 1
    assert len(shop.fake.browser_confirmations) == 1  # the payment was confirmed by the server
