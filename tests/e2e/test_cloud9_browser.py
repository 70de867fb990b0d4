"""A client pays a Cloud9 store's invoice in Debian's Chromium: Cloud9's card form in an iframe (the
fake), the companion on a real uvicorn, everything on loopback."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from posdesk.gateways.cloud9 import invoice_number
from posdesk.gateways.cloud9.codes import DECLINE_MESSAGES, DUPLICATE
from tests.companion.test_cloud9_page import SANDBOX, TIMEOUT_CARD, Cloud9Shop
from tests.companion.test_cloud9_page import cloud9_shop as cloud9_shop  # the fixture, re-exported
from tests.fakes.cloud9_api import DECLINE_CARDS


def open_link(page: Page, shop: Cloud9Shop, body: dict[str, Any]) -> None:
    response = page.goto(f"{shop.url}/pay/{body['link_token']}")
    assert response is not None and response.ok


def enter_card(page: Page, pan: str = SANDBOX, exp: str = "1239", cvv: str = "123") -> None:
    """Type the card into Cloud9's frame and submit it there; wait until the page has the token."""
    frame = page.frame_locator("#c9-frame")
    frame.get_by_test_id("c9-card-number").fill(pan)
    frame.get_by_test_id("c9-exp").fill(exp)
    frame.get_by_test_id("c9-cvv").fill(cvv)
    frame.get_by_test_id("c9-submit").click()
    expect(page.get_by_test_id("c9-status")).to_contain_text("is ready")


def sales(shop: Cloud9Shop) -> list[dict[str, Any]]:
    return [r for r in shop.fake.requests if str(r.get("TransType", "")).lower() == "sale"]


def inv(body: dict[str, Any]) -> str:
    return invoice_number({"invoice_id": body["invoice_id"]})


def test_new_card_with_a_tip(phone_page: Page, cloud9_shop: Cloud9Shop) -> None:
    body = cloud9_shop.invoice()
    open_link(phone_page, cloud9_shop, body)
    # A token posted by any other window or origin is ignored: only Cloud9's frame is listened to.
    phone_page.evaluate("window.postMessage({Status: 'success', CardToken: 'AB'.repeat(16)}, '*')")
    phone_page.wait_for_timeout(200)
    assert phone_page.locator("#c9-token").input_value() == ""
    phone_page.get_by_test_id("tip-option").nth(2).click()
    expect(phone_page.get_by_test_id("pay-button")).to_have_text("Pay $93.65")
    enter_card(phone_page)
    expect(phone_page.get_by_test_id("c9-status")).to_contain_text("Visa •••• 8291")
    phone_page.get_by_test_id("pay-button").click()
    confirmation = phone_page.get_by_test_id("confirmation")
    expect(confirmation).to_contain_text("$93.65")
    expect(confirmation).to_contain_text("$12.00")
    expect(confirmation).to_contain_text("Visa •••• 8291")
    [sale] = sales(cloud9_shop)
    assert (sale["MainAmt"], sale["TipAmt"], sale["CheckDuplicate"]) == ("8165", "1200", "Y")
    assert cloud9_shop.fake.net_captured(inv(body)) == 9365
    assert len(cloud9_shop.events("invoice.paid")) == 1


def test_a_tip_on_the_confirmation_page_is_a_second_sale_on_the_same_card(
    phone_page: Page, cloud9_shop: Cloud9Shop
) -> None:
    body = cloud9_shop.invoice()
    open_link(phone_page, cloud9_shop, body)
    enter_card(phone_page)
    phone_page.get_by_test_id("pay-button").click()
    expect(phone_page.get_by_test_id("confirmation")).to_contain_text("$81.65")
    phone_page.get_by_test_id("tip-option").first.click()
    phone_page.get_by_test_id("add-tip-button").click()
    expect(phone_page.get_by_test_id("tip-added")).to_have_text("$9.00")
    first, tip = sales(cloud9_shop)
    assert tip["CardToken"] == first["CardToken"] and tip["MainAmt"] == "900"
    assert cloud9_shop.fake.net_captured(inv(body)) == 8165 + 900
    assert len(cloud9_shop.events("tip.added")) == 1


def test_save_a_card_reuse_it_then_remove_it(phone_page: Page, cloud9_shop: Cloud9Shop) -> None:
    open_link(phone_page, cloud9_shop, cloud9_shop.invoice())
    enter_card(phone_page, "4012000098765439")
    phone_page.locator("#save-card").check()
    phone_page.get_by_test_id("pay-button").click()
    expect(phone_page.get_by_test_id("confirmation")).to_be_visible()

    open_link(phone_page, cloud9_shop, cloud9_shop.invoice())
    saved = phone_page.get_by_test_id("saved-card")
    expect(saved).to_have_count(1)
    expect(saved).to_contain_text("5439")
    phone_page.get_by_test_id("use-card").click()
    expect(phone_page.locator("#c9-frame")).to_be_hidden()  # a saved card needs no card form
    phone_page.get_by_test_id("pay-button").click()
    expect(phone_page.get_by_test_id("confirmation")).to_contain_text("5439")
    first, second = sales(cloud9_shop)
    assert second["CardToken"] == first["CardToken"]
    assert len(cloud9_shop.events("invoice.paid")) == 2

    open_link(phone_page, cloud9_shop, cloud9_shop.invoice())
    phone_page.get_by_role("button", name="Remove").click()
    expect(phone_page.get_by_test_id("saved-card")).to_have_count(0)
    assert first["CardToken"] not in cloud9_shop.fake.tokens  # deleted at Cloud9 too


@pytest.mark.parametrize(("pan", "code"), DECLINE_CARDS.items())  # the fake's cards that always decline
def test_each_decline_shows_its_message(
    phone_page: Page, cloud9_shop: Cloud9Shop, pan: str, code: str
) -> None:
    body = cloud9_shop.invoice()
    open_link(phone_page, cloud9_shop, body)
    enter_card(phone_page, pan)
    phone_page.get_by_test_id("pay-button").click()
    expect(phone_page.get_by_test_id("error")).to_have_text(DECLINE_MESSAGES[code])
    assert cloud9_shop.fake.net_captured(inv(body)) == 0
    assert cloud9_shop.events("invoice.paid") == []
    enter_card(phone_page)  # another card, on the fresh form
    phone_page.get_by_test_id("pay-button").click()
    expect(phone_page.get_by_test_id("confirmation")).to_be_visible()


def test_a_duplicate_within_a_minute_is_refused(phone_page: Page, cloud9_shop: Cloud9Shop) -> None:
    # The cashier asks for $40.00 now; the client pays with a saved card. The cashier then asks for
    # another $40.00 and the client pays at once with the same card: Cloud9 refuses the repeat.
    first = cloud9_shop.invoice(amount_requested=4000)
    open_link(phone_page, cloud9_shop, first)
    enter_card(phone_page)
    phone_page.locator("#save-card").check()
    phone_page.get_by_test_id("pay-button").click()
    expect(phone_page.get_by_test_id("confirmation")).to_contain_text("$40.00")
    second = cloud9_shop.invoice(
        invoice_id=first["invoice_id"],
        ticket_id=first["ticket_id"],
        version=2,
        amount_requested=4000,
        link_token=first["link_token"],
    )
    open_link(phone_page, cloud9_shop, second)
    expect(phone_page.get_by_test_id("pay-button")).to_have_text("Pay $40.00")
    phone_page.get_by_test_id("pay-button").click()
    expect(phone_page.get_by_test_id("error")).to_have_text(DUPLICATE)
    assert cloud9_shop.fake.approved_sales[inv(first)] == 1
    cloud9_shop.fake.advance(61)
    phone_page.get_by_test_id("pay-button").click()
    expect(phone_page.get_by_test_id("confirmation")).to_contain_text("$40.00")
    assert cloud9_shop.fake.approved_sales[inv(first)] == 2


def test_a_timed_out_sale_that_was_approved_is_found_not_charged_again(
    phone_page: Page, cloud9_shop: Cloud9Shop
) -> None:
    body = cloud9_shop.invoice()
    open_link(phone_page, cloud9_shop, body)
    enter_card(phone_page, TIMEOUT_CARD)
    phone_page.get_by_test_id("pay-button").click()
    expect(phone_page.get_by_test_id("confirmation")).to_contain_text("$81.65")
    assert cloud9_shop.fake.approved_sales[inv(body)] == 1
    assert any(r.get("TransType") == "GetTransInfo" for r in cloud9_shop.fake.requests)
    assert len(cloud9_shop.events("invoice.paid")) == 1


def test_an_expired_seed_is_refused(phone_page: Page, cloud9_shop: Cloud9Shop) -> None:
    body = cloud9_shop.invoice()
    cloud9_shop.fake.advance(5 * 60 + 30)  # the form reaches Cloud9 after its Seed lapsed
    open_link(phone_page, cloud9_shop, body)
    expect(phone_page.frame_locator("#c9-frame").get_by_test_id("c9-error")).to_have_text("Seed expired")
    phone_page.get_by_test_id("pay-button").click()
    expect(phone_page.get_by_test_id("error")).to_contain_text("Enter your card details in the card form")
    assert cloud9_shop.fake.approved_sales[inv(body)] == 0
    cloud9_shop.fake.advance(-(5 * 60 + 30))
    open_link(phone_page, cloud9_shop, body)  # a fresh render is a fresh Seed
    enter_card(phone_page)
    phone_page.get_by_test_id("pay-button").click()
    expect(phone_page.get_by_test_id("confirmation")).to_be_visible()


def test_refund_part_then_the_rest(phone_page: Page, cloud9_shop: Cloud9Shop) -> None:
    body = cloud9_shop.invoice()
    open_link(phone_page, cloud9_shop, body)
    enter_card(phone_page)
    phone_page.get_by_test_id("pay-button").click()
    expect(phone_page.get_by_test_id("confirmation")).to_be_visible()
    payment_id = phone_page.url.split("/payments/")[1].split("?")[0]
    api = cloud9_shop.companion.api
    part = api.post(f"/api/v1/payments/{payment_id}/refund", json={"amount": 2000})
    assert part.status_code == 200, part.text
    assert cloud9_shop.fake.net_captured(inv(body)) == 8165 - 2000
    rest = api.post(f"/api/v1/payments/{payment_id}/refund", json={})
    assert rest.status_code == 200 and rest.json()["refunded_total"] == 8165
    assert cloud9_shop.fake.net_captured(inv(body)) == 0
    assert [e["data"]["amount"] for e in cloud9_shop.events("payment.refunded")] == [2000, 6165]
