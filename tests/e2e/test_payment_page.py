"""The payment page in Debian's Chromium at phone size, against a real companion on loopback.

Set ``POSDESK_SCREENSHOT_DIR`` to keep the screenshots these tests take (the page before paying, the
confirmation) for a person to look at.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from posdesk.core.invoice import InvoiceClient
from posdesk.gateways.simulator import APPROVES, ASKS_3DS, DECLINES
from tests.companion.conftest import Companion, invoice_upload, put_invoice, same_invoice, service_line
from tests.companion.conftest import make_companion as make_companion  # the fixture, re-exported


@pytest.fixture
def shop(make_companion: Any, tmp_path: Path) -> Companion:
    """A companion (real uvicorn on loopback) with a store, a paired terminal and the Simulator."""
    made: Companion = make_companion(f"sqlite+pysqlite:///{tmp_path / 'companion.db'}")
    return made


def uploaded(shop: Companion, **kwargs: Any) -> dict[str, Any]:
    body = invoice_upload(**kwargs)
    assert put_invoice(shop.api, body).status_code in (200, 201)
    return body


def open_link(page: Page, shop: Companion, body: dict[str, Any]) -> Any:
    return page.goto(f"{shop.url}/pay/{body['link_token']}")


def enter_card(page: Page, number: str) -> None:
    page.locator("#sim_number").fill(number)
    page.locator("#sim_exp").fill("1239")
    page.locator("#sim_cvc").fill("123")


def pay_new_invoice(page: Page, shop: Companion, card: str) -> dict[str, Any]:
    """The client opens the link of a new invoice, enters ``card`` and taps Pay; the invoice's upload."""
    body = uploaded(shop)
    open_link(page, shop, body)
    enter_card(page, card)
    page.get_by_test_id("pay-button").click()
    return body


def screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    path = Path(os.environ.get("POSDESK_SCREENSHOT_DIR") or tmp_path) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def event_types(shop: Companion) -> list[str]:
    return [e["type"] for e in shop.api.get("/api/v1/events").json()["events"]]


def test_pay_with_a_20_percent_tip_and_see_the_confirmation(phone_page: Page, shop: Companion, tmp_path: Path) -> None:
    body = uploaded(shop)
    response = open_link(phone_page, shop, body)
    assert response is not None and response.ok
    expect(phone_page.get_by_test_id("balance-due")).to_contain_text("$81.65")
    screenshot(phone_page, tmp_path, "payment-page")
    phone_page.get_by_test_id("tip-option").nth(2).click()
    expect(phone_page.locator("#sum-total")).to_have_text("$93.65")
    expect(phone_page.get_by_test_id("pay-button")).to_have_text("Pay $93.65")
    enter_card(phone_page, APPROVES)
    phone_page.get_by_test_id("pay-button").click()
    confirmation = phone_page.get_by_test_id("confirmation")
    expect(confirmation).to_be_visible()
    expect(confirmation).to_contain_text("$93.65")
    expect(confirmation).to_contain_text("$12.00")
    expect(confirmation).to_contain_text("Visa •••• 4242")
    expect(confirmation).to_contain_text("Test Salon")
    screenshot(phone_page, tmp_path, "confirmation")
    assert event_types(shop).count("invoice.paid") == 1


def test_a_declined_card_shows_a_clear_error(phone_page: Page, shop: Companion) -> None:
    pay_new_invoice(phone_page, shop, DECLINES)
    expect(phone_page.get_by_test_id("error")).to_have_text("Your card was declined")
    assert "invoice.paid" not in event_types(shop)


def test_3d_secure_approve(phone_page: Page, shop: Companion) -> None:
    pay_new_invoice(phone_page, shop, ASKS_3DS)
    expect(phone_page.get_by_test_id("authenticate")).to_contain_text("Confirm your payment")
    phone_page.get_by_test_id("approve-3ds").click()
    expect(phone_page.get_by_test_id("confirmation")).to_be_visible()
    assert event_types(shop).count("invoice.paid") == 1


def test_saved_card_use(phone_page: Page, shop: Companion, tmp_path: Path) -> None:
    open_link(phone_page, shop, uploaded(shop))
    enter_card(phone_page, APPROVES)
    phone_page.locator("#save-card").check()
    phone_page.get_by_test_id("pay-button").click()
    expect(phone_page.get_by_test_id("confirmation")).to_be_visible()

    open_link(phone_page, shop, uploaded(shop))
    expect(phone_page.get_by_test_id("saved-card")).to_have_count(1)
    expect(phone_page.get_by_test_id("saved-card")).to_contain_text("4242")
    phone_page.get_by_test_id("add-card").click()
    expect(phone_page.locator("#sim_number")).to_be_visible()
    phone_page.get_by_test_id("use-card").click()
    expect(phone_page.locator("#sim_number")).to_be_hidden()  # the saved card needs no card fields
    screenshot(phone_page, tmp_path, "saved-card")
    phone_page.get_by_test_id("pay-button").click()
    expect(phone_page.get_by_test_id("confirmation")).to_contain_text("4242")
    assert event_types(shop).count("invoice.paid") == 2


def test_add_a_tip_on_the_confirmation(phone_page: Page, shop: Companion) -> None:
    pay_new_invoice(phone_page, shop, APPROVES)
    expect(phone_page.get_by_test_id("confirmation")).to_be_visible()
    phone_page.get_by_test_id("tip-option").nth(1).click()  # 18% of $60
    phone_page.get_by_test_id("add-tip-button").click()
    expect(phone_page.get_by_test_id("tip-added")).to_have_text("$10.80")
    assert event_types(shop).count("tip.added") == 1


def test_double_click_on_pay_charges_once(phone_page: Page, shop: Companion) -> None:
    open_link(phone_page, shop, uploaded(shop))
    enter_card(phone_page, APPROVES)
    phone_page.get_by_test_id("pay-button").dblclick()
    expect(phone_page.get_by_test_id("confirmation")).to_be_visible()
    assert len(shop.app.state.gateways.ledger.payments) == 1


def test_open_page_learns_of_a_new_version_before_paying(phone_page: Page, shop: Companion) -> None:
    body = uploaded(shop)
    open_link(phone_page, shop, body)
    newer = same_invoice(body, lines=[service_line(price=9000)])
    assert put_invoice(shop.api, newer).status_code in (200, 201)
    expect(phone_page.locator("#version-banner")).to_contain_text("$90.00", timeout=10_000)
    expect(phone_page.get_by_test_id("pay-button")).to_be_disabled()
    phone_page.get_by_role("link", name="Review the new total").click()
    expect(phone_page.get_by_test_id("balance-due")).to_contain_text("$90.00")


def test_expired_link_shows_the_calm_page(phone_page: Page, shop: Companion) -> None:
    from datetime import UTC, datetime, timedelta

    from posdesk.companion.models import Invoice

    body = uploaded(shop)
    with shop.db.write() as session:
        session.get(Invoice, body["invoice_id"]).expires_at = datetime.now(UTC) - timedelta(seconds=1)
    response = open_link(phone_page, shop, body)
    assert response is not None and response.status == 404
    expect(phone_page.get_by_test_id("link-inactive")).to_contain_text("being prepared or is no longer active")


def test_a_client_named_like_a_script_is_shown_as_text(phone_page: Page, shop: Companion) -> None:
    name = "<script>alert(1)</script>"
    dialogs: list[str] = []
    phone_page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    body = uploaded(
        shop,
        client=InvoiceClient(id="x", name=name),
        lines=[service_line(name='"><img src=x onerror=alert(2)>')],
    )
    open_link(phone_page, shop, body)
    expect(phone_page.locator(".eyebrow")).to_contain_text(name)
    expect(phone_page.locator(".line-name").first).to_contain_text('"><img src=x onerror=alert(2)>')
    assert phone_page.locator("img").count() == 0
    assert dialogs == []


def test_security_headers_are_present(phone_page: Page, shop: Companion) -> None:
    response = open_link(phone_page, shop, uploaded(shop))
    assert response is not None
    headers = response.all_headers()
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"


def test_language_selector_switches_to_spanish(phone_page: Page, shop: Companion) -> None:
    open_link(phone_page, shop, uploaded(shop))
    phone_page.get_by_test_id("language-select").select_option("es")
    expect(phone_page.get_by_test_id("balance-due")).to_contain_text("Saldo pendiente")
    expect(phone_page.get_by_test_id("pay-button")).to_have_text(re.compile(r"Pagar"))
