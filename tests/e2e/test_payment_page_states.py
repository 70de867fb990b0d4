"""Every state of the payment page at phone size (390x844, 2x): axe-core finds no serious or critical
violation, the Pay action is inside the first screen, a declined card keeps what the client chose.

Set ``POSDESK_SCREENSHOT_DIR`` to keep a screenshot of each state (first screen and full page).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from posdesk.core.ticket import Coverage
from posdesk.gateways.simulator import APPROVES, ASKS_3DS, DECLINES
from tests.companion.conftest import Companion, put_invoice, same_invoice, service_line
from tests.companion.conftest import make_companion as make_companion  # the fixture, re-exported
from tests.e2e.test_payment_page import enter_card, open_link, pay_new_invoice, uploaded

VIEWPORT_HEIGHT = 844


@pytest.fixture
def shop(make_companion: Any, tmp_path: Path) -> Companion:
    made: Companion = make_companion(f"sqlite+pysqlite:///{tmp_path / 'companion.db'}")
    return made


def keep(page: Page, name: str) -> None:
    folder = os.environ.get("POSDESK_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"page-{name}.png"))
        page.screenshot(path=str(Path(folder) / f"page-{name}-full.png"), full_page=True)


def inside_first_screen(page: Page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT_HEIGHT


def state_pay(page: Page, shop: Companion) -> None:
    open_link(page, shop, uploaded(shop))
    expect(page.get_by_test_id("pay-button")).to_be_visible()


def state_declined(page: Page, shop: Companion) -> None:
    open_link(page, shop, uploaded(shop))
    page.get_by_test_id("tip-option").nth(2).click()
    enter_card(page, DECLINES)
    page.get_by_test_id("pay-button").click()
    expect(page.get_by_test_id("error")).to_be_visible()


def state_out_of_date(page: Page, shop: Companion) -> None:
    body = uploaded(shop)
    open_link(page, shop, body)
    newer = same_invoice(body, lines=[service_line(price=9000)])
    assert put_invoice(shop.api, newer).status_code in (200, 201)
    expect(page.locator("#version-banner")).to_be_visible(timeout=10_000)


def state_3ds(page: Page, shop: Companion) -> None:
    pay_new_invoice(page, shop, ASKS_3DS)
    expect(page.get_by_test_id("authenticate")).to_be_visible()


def state_paid(page: Page, shop: Companion) -> None:
    pay_new_invoice(page, shop, APPROVES)
    expect(page.get_by_test_id("confirmation")).to_be_visible()


def state_already_paid(page: Page, shop: Companion) -> None:
    body = pay_new_invoice(page, shop, APPROVES)
    expect(page.get_by_test_id("confirmation")).to_be_visible()
    open_link(page, shop, body)
    expect(page.get_by_test_id("already-paid")).to_be_visible()


def state_inactive(page: Page, shop: Companion) -> None:
    page.goto(f"{shop.url}/pay/no-such-link-at-all")
    expect(page.get_by_test_id("link-inactive")).to_be_visible()


def state_nothing_due(page: Page, shop: Companion) -> None:
    open_link(page, shop, uploaded(shop, lines=[service_line(prepaid=Coverage.PACKAGE)]))
    expect(page.locator("#hero-amount")).to_have_text("$0.00")


STATES: dict[str, Callable[[Page, Companion], None]] = {
    "pay": state_pay,
    "declined": state_declined,
    "out-of-date": state_out_of_date,
    "3ds": state_3ds,
    "paid": state_paid,
    "already-paid": state_already_paid,
    "inactive": state_inactive,
    "nothing-due": state_nothing_due,
}


@pytest.mark.parametrize("state", list(STATES))
def test_every_page_state_passes_axe(phone_page: Page, shop: Companion, axe: Any, state: str) -> None:
    STATES[state](phone_page, shop)
    keep(phone_page, state)
    axe(phone_page)


@pytest.mark.parametrize("state", ["pay", "declined", "out-of-date"])
def test_the_pay_button_is_inside_the_first_screen(phone_page: Page, shop: Companion, state: str) -> None:
    STATES[state](phone_page, shop)
    assert inside_first_screen(phone_page, "#pay-button")


def test_a_declined_card_keeps_every_choice_and_says_what_to_do(phone_page: Page, shop: Companion) -> None:
    body = uploaded(shop)
    phone_page.goto(f"{shop.url}/pay/{body['link_token']}?lang=es")
    phone_page.locator("#tip-custom-radio").check(force=True)
    phone_page.get_by_test_id("tip-custom").fill("7.50")
    phone_page.locator("#save-card").check()
    enter_card(phone_page, DECLINES)
    expect(phone_page.get_by_test_id("pay-button")).to_have_text("Pagar $89.15")
    phone_page.get_by_test_id("pay-button").click()

    problem = phone_page.locator("#problem")
    expect(problem).to_be_focused()
    expect(problem).to_contain_text("No se cobró nada")  # what to do next, in the client's language
    assert inside_first_screen(phone_page, "#problem")
    # Beside the card fields, not two screens above them.
    assert phone_page.locator(".charge #problem").count() == 1
    expect(phone_page.locator("#tip-custom-radio")).to_be_checked()
    expect(phone_page.get_by_test_id("tip-custom")).to_have_value("7.50")
    expect(phone_page.locator("#save-card")).to_be_checked()
    expect(phone_page.get_by_test_id("pay-button")).to_have_text("Pagar $89.15")

    enter_card(phone_page, APPROVES)
    phone_page.get_by_test_id("pay-button").click()
    expect(phone_page.get_by_test_id("receipt-tip")).to_have_text("$7.50")


def test_a_preset_tip_survives_a_decline(phone_page: Page, shop: Companion) -> None:
    open_link(phone_page, shop, uploaded(shop))
    phone_page.get_by_test_id("tip-option").nth(2).click()
    enter_card(phone_page, DECLINES)
    phone_page.get_by_test_id("pay-button").click()
    expect(phone_page.get_by_test_id("error")).to_have_text("Your card was declined")
    expect(phone_page.get_by_test_id("tip-option").nth(2).locator("input")).to_be_checked()
    expect(phone_page.get_by_test_id("pay-button")).to_have_text("Pay $93.65")


def test_an_out_of_date_page_says_what_changed_and_offers_a_review(phone_page: Page, shop: Companion) -> None:
    state_out_of_date(phone_page, shop)
    expect(phone_page.locator("#hero-amount")).to_have_text("$90.00")
    expect(phone_page.locator("#hero-label")).to_have_text("New amount due (was $81.65)")
    button = phone_page.get_by_test_id("pay-button")
    expect(button).to_have_text("The amount changed to $90.00")
    expect(button).to_be_disabled()
    phone_page.locator("#review-link").click()
    expect(phone_page.locator("#hero-amount")).to_have_text("$90.00")
    expect(phone_page.get_by_test_id("pay-button")).to_have_text("Pay $90.00")


def test_a_visit_with_nothing_due_shows_the_card_form_only_for_a_tip(phone_page: Page, shop: Companion) -> None:
    state_nothing_due(phone_page, shop)
    expect(phone_page.get_by_test_id("promo-code")).to_have_count(0)
    expect(phone_page.get_by_test_id("pay-button")).to_be_hidden()
    expect(phone_page.locator("#sim_number")).to_be_hidden()
    phone_page.get_by_test_id("tip-option").nth(0).click()
    expect(phone_page.get_by_test_id("pay-button")).to_have_text("Pay tip $9.00")
    assert inside_first_screen(phone_page, "#pay-button")


def test_tip_buttons_say_what_they_are_a_share_of(phone_page: Page, shop: Companion) -> None:
    state_pay(phone_page, shop)
    expect(phone_page.get_by_role("radio", name="15% of $60.00 services: $9.00")).to_have_count(1)
    expect(phone_page.locator("#tip-base")).to_contain_text("$60.00 of services")


def test_the_lines_fold_behind_view_details_on_a_phone(phone_page: Page, shop: Companion) -> None:
    state_pay(phone_page, shop)
    expect(phone_page.locator(".line-name").first).to_be_hidden()
    phone_page.get_by_test_id("view-details").click()
    expect(phone_page.get_by_test_id("view-details")).to_have_text("View details (2 items)")
    expect(phone_page.locator(".line-name").first).to_be_visible()


def tiny_png(rgb: tuple[int, int, int] = (26, 127, 90), size: int = 8) -> bytes:
    """A real PNG image, made here (a solid square of ``rgb``)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def brand_the_store(shop: Companion, **changes: Any) -> None:
    import base64

    settings = shop.api.get("/api/v1/settings").json()
    logo = "data:image/png;base64," + base64.b64encode(tiny_png()).decode()
    brand = {"brand_color": "#2bb673", "logo": logo, "phone": "+1 212 555 0142", "email": "hello@test-salon.example"}
    response = shop.api.put("/api/v1/settings", json={**settings, **brand, **changes})
    assert response.status_code == 200, response.text


def test_the_page_wears_the_store_brand_and_says_how_to_reach_it(phone_page: Page, shop: Companion, axe: Any) -> None:
    brand_the_store(shop)
    errors: list[str] = []
    phone_page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    state_pay(phone_page, shop)
    logo = phone_page.locator("img.logo-img")
    expect(logo).to_be_visible()
    assert phone_page.evaluate("() => document.querySelector('img.logo-img').naturalWidth") == 8
    contact = phone_page.get_by_test_id("store-contact")
    expect(contact).to_contain_text("1 Test Street")
    expect(contact.get_by_role("link", name="+1 212 555 0142")).to_have_attribute("href", "tel:+12125550142")
    expect(contact.get_by_role("link", name="hello@test-salon.example")).to_be_visible()
    # The light green is darkened until white on it reads at 4.5:1; the page's CSP lets its one style in.
    background = phone_page.get_by_test_id("pay-button").evaluate("b => getComputedStyle(b).backgroundColor")
    assert background not in ("rgb(88, 80, 236)", "rgb(43, 182, 115)"), background
    assert not [e for e in errors if "Content Security Policy" in e], errors
    expect(phone_page.locator(".eyebrow time")).to_have_count(1)  # the invoice's date
    axe(phone_page)


def test_the_receipt_lists_the_lines_with_the_invoice_number_and_prints(phone_page: Page, shop: Companion, axe: Any) -> None:
    brand_the_store(shop)
    state_paid(phone_page, shop)
    items = phone_page.get_by_test_id("receipt-items")
    expect(items).to_contain_text("Invoice #7")
    expect(items).to_contain_text("Haircut")
    expect(items).to_contain_text("Shampoo")
    expect(phone_page.get_by_test_id("store-contact")).to_contain_text("+1 212 555 0142")
    phone_page.evaluate("() => { window.printed = 0; window.print = () => { window.printed += 1; }; }")
    phone_page.get_by_test_id("print-receipt").click()
    assert phone_page.evaluate("() => window.printed") == 1
    keep(phone_page, "receipt-branded")
    axe(phone_page)


def test_the_inactive_page_shows_no_empty_logo_tile(phone_page: Page, shop: Companion) -> None:
    state_inactive(phone_page, shop)
    expect(phone_page.locator(".logo, img")).to_have_count(0)
    expect(phone_page.locator(".topbar")).to_contain_text("Payment link")


def _contrast(page: Page, first: str, second: str) -> float:
    """The WCAG contrast of two CSS colours as the browser computed them ("rgb(r, g, b)")."""
    return float(page.evaluate(
        """([a, b]) => {
            const lum = (c) => {
                const [r, g, bl] = c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number).map((v) => {
                    v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
                });
                return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
            };
            const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
            return (hi + 0.05) / (lo + 0.05);
        }""",
        [first, second],
    ))  # fmt: skip


def test_controls_are_big_enough_to_tap_and_their_edges_visible(phone_page: Page, shop: Companion) -> None:
    state_pay(phone_page, shop)
    phone_page.get_by_test_id("view-details").click()
    targets = {
        "language": "[data-testid=language-select]",
        "view details": "[data-testid=view-details]",
        "promo code": ".promo summary",
        "tip button": "[data-testid=tip-option] .pill-body",
        "save card": "label.check",
        "pay": "[data-testid=pay-button]",
    }
    for what, selector in targets.items():
        box = phone_page.locator(selector).first.bounding_box()
        assert box is not None and box["height"] >= 44, (what, box)
    # Input borders at 3:1 at least against the panel (WCAG 1.4.11), not the 1.39:1 of a pale grey.
    field = phone_page.locator("#sim_number")
    border = field.evaluate("e => getComputedStyle(e).borderTopColor")
    assert _contrast(phone_page, border, "rgb(255, 255, 255)") >= 3, border
