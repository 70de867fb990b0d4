"""A Stripe store in Colombian pesos, in Chromium: the page shows whole pesos, Stripe is asked for
centavos (COP 50,000 is ``amount=5000000``), and the Payment Element mirrors that same amount."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from posdesk.core.catalog import ItemKind
from posdesk.core.money import Money
from posdesk.core.ticket import TicketLine
from tests.e2e.test_stripe_page import StripeShop, open_page, pay_with_new_card, shop  # noqa: F401


def test_a_cop_invoice_is_charged_in_stripes_unit(phone_page: Page, shop: StripeShop) -> None:  # noqa: F811
    current = shop.api.get("/api/v1/settings").json()
    assert shop.api.put("/api/v1/settings", json={**current, "currency": "COP"}).status_code == 200
    line = TicketLine(
        id=uuid.uuid4().hex, item_id="svc", kind=ItemKind.APPOINTMENT, name="Corte", unit_price=Money(50_000, "COP")
    )
    token, body = shop.invoice(lines=[line], currency="COP")
    open_page(phone_page, shop, token)
    phone_page.locator("#tip-custom-radio").check(force=True)
    phone_page.locator("#tip-custom").fill("5,000")
    expect(phone_page.get_by_test_id("pay-button")).to_contain_text("55,000")
    pay_with_new_card(phone_page, "4242424242424242", save=False)
    expect(phone_page.get_by_test_id("confirmation")).to_be_visible()
    [confirmation] = shop.fake.browser_confirmations
    assert confirmation["intent_amount"] == 5_500_000  # centavos at Stripe
    assert confirmation["elements"]["amount"] == 5_500_000  # the element showed the same amount
    [paid] = shop.wait_for("invoice.paid")
    assert (paid["data"]["payment"]["amount"], paid["data"]["payment"]["tip"]) == (50_000, 5_000)
    assert body["currency"] == "COP"
