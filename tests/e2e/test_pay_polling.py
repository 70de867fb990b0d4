"""The page's check for a new version: answers that are not 200 change nothing and make it wait longer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import APIResponse, Page, Request, Route, expect

from posdesk.gateways.simulator import APPROVES
from tests.companion.conftest import Companion, invoice_upload, put_invoice
from tests.companion.conftest import make_companion as make_companion  # the fixture, re-exported
from tests.e2e.test_payment_page import enter_card


@pytest.fixture
def shop(make_companion: Any, tmp_path: Path) -> Companion:
    made: Companion = make_companion(f"sqlite+pysqlite:///{tmp_path / 'companion.db'}")
    return made


def run_page_clock(page: Page, seconds: int) -> None:
    """Advance the page's fake clock a second at a time, letting each check's answer arrive between steps
    (the answer comes over the network, so the timer the script sets after it starts in a later step)."""
    for _ in range(seconds):
        page.clock.run_for(1_000)
        page.evaluate("() => fetch('/static/pay/pay.css', {cache: 'no-store'}).then(() => 0)")
        page.evaluate("() => 0")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (429, '{"detail": "Too many requests"}'),
        (500, "Internal Server Error"),
        (502, "<html>Bad gateway</html>"),
        (200, '{"detail": "no version here"}'),  # a 200 that is not a status answer changes nothing either
    ],
)
def test_a_rate_limited_or_failing_status_check_changes_nothing_and_backs_off(
    phone_page: Page, shop: Companion, status: int, body: str
) -> None:
    invoice = invoice_upload()
    assert put_invoice(shop.api, invoice).status_code in (200, 201)
    checks: list[str] = []

    def answer(route: Route) -> None:
        checks.append(route.request.url)
        route.fulfill(status=status, body=body, content_type="application/json")

    phone_page.clock.install()
    phone_page.route("**/status*", answer)
    phone_page.goto(f"{shop.url}/pay/{invoice['link_token']}")
    pay = phone_page.get_by_test_id("pay-button")
    expect(pay).to_have_text("Pay $81.65")
    run_page_clock(phone_page, 60)  # a minute of the page's time, not the test's
    expect(pay).to_have_text("Pay $81.65")
    expect(pay).to_be_enabled()
    assert "undefined" not in phone_page.locator("body").inner_text()
    assert phone_page.locator("#version-banner").is_hidden()
    if status != 200:
        # 3 s doubling: checks at 3, 9, 21 and 45 s of that minute, where a fixed 3 s would make 20.
        assert 3 <= len(checks) <= 5, len(checks)


def test_a_real_new_version_is_still_noticed(phone_page: Page, shop: Companion) -> None:
    invoice = invoice_upload()
    assert put_invoice(shop.api, invoice).status_code in (200, 201)
    phone_page.clock.install()
    phone_page.goto(f"{shop.url}/pay/{invoice['link_token']}")
    changed = invoice_upload(
        invoice_id=invoice["invoice_id"], ticket_id=invoice["ticket_id"], version=2, link_token=invoice["link_token"],
        lines=[],
    )  # fmt: skip
    assert put_invoice(shop.api, changed).status_code in (200, 201)
    run_page_clock(phone_page, 4)
    expect(phone_page.locator("#version-banner")).to_be_visible()
    expect(phone_page.get_by_test_id("pay-button")).to_be_disabled()


def test_a_paid_answer_while_the_payment_is_being_submitted_does_not_cancel_the_confirmation(
    phone_page: Page, shop: Companion
) -> None:
    """The client presses Pay; the card is charged, but the answer is slow to come back. Meanwhile the page's
    status check hears "paid". The page must wait for its own answer (the client's confirmation), not
    reload: a reload cancels the submission and shows "This invoice is already paid" instead."""
    invoice = invoice_upload()
    assert put_invoice(shop.api, invoice).status_code in (200, 201)
    held: list[tuple[Route, APIResponse]] = []
    heard_paid: list[str] = []

    def hold_the_answer(route: Route) -> None:
        # The browser's headers, with the Sec-Fetch-Site it sends but does not show an interceptor: the
        # companion refuses a post that may be cross-site.
        headers = {**route.request.all_headers(), "sec-fetch-site": "same-origin"}
        answer = route.fetch(headers=headers, max_redirects=0)  # the card is charged; the answer is a 303
        held.append((route, answer))  # ... which reaches the page only when the test lets it

    def listen(request: Request) -> None:
        if held and "/status" in request.url:  # asked after the charge: the answer is "paid"
            heard_paid.append(request.url)

    phone_page.route("**/pay/*/pay", hold_the_answer)
    phone_page.goto(f"{shop.url}/pay/{invoice['link_token']}")
    enter_card(phone_page, APPROVES)
    phone_page.on("requestfinished", listen)
    phone_page.get_by_test_id("pay-button").click(no_wait_after=True)
    for _ in range(150):  # the page checks the status every 3 s
        if held and heard_paid:
            break
        phone_page.wait_for_timeout(100)
    assert held, "the payment was never submitted"
    assert heard_paid, "the page's status check never answered while the payment's answer was held"
    assert shop.api.get(f"/pay/{invoice['link_token']}/status").json()["state"] == "paid"
    phone_page.wait_for_timeout(500)  # the page has read that answer

    route, answer = held[0]
    route.fulfill(response=answer)
    expect(phone_page.get_by_test_id("confirmation")).to_be_visible()
    expect(phone_page.locator("body")).not_to_contain_text("already paid")
