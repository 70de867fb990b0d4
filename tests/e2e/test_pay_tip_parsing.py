"""The page's tip parser in Chromium: the same grammar as the server's, in en-US, de-DE, ja-JP and a
three-decimal currency; what it refuses, Pay refuses before anything is posted."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Page, expect

from posdesk.core.amount_input import AmountInputError, amount_rules, read_amount
from posdesk.core.catalog import ItemKind
from posdesk.core.money import Money
from posdesk.core.ticket import TicketLine
from tests.companion.conftest import Companion, invoice_upload, put_invoice
from tests.companion.conftest import make_companion as make_companion  # the fixture, re-exported

PAGE_LOCALES = (("USD", "en_US"), ("EUR", "de_DE"), ("JPY", "ja_JP"), ("KWD", "en_US"), ("EUR", "fr_FR"))
CORPUS = (
    "", " ", "0", "5", "12", "12.5", "12,5", "12.50", "12,50", "1,234", "1.234", "1,234.50", "1.234,50",
    "2,500", "2.500", "-20", "−20", "+3", "$5", "€ 5", "¥2,500", "￥2,500", "1 234,5", "1\u202f234,5",
    "12.", ".5", ",5", "1,23,456", "1e3", "NaN", "１２", "1" * 16, "0.001", "1.2345", "KWD 1.250", "--5",
)  # fmt: skip


@pytest.fixture
def shop(make_companion: Any, tmp_path: Path) -> Companion:
    made: Companion = make_companion(f"sqlite+pysqlite:///{tmp_path / 'companion.db'}")
    return made


def python_reads(text: str, currency: str, locale: str) -> dict[str, Any]:
    try:
        money = read_amount(text, amount_rules(currency, locale))
    except AmountInputError as exc:
        return {"error": exc.reason}
    return {"minor": abs(money.minor), "negative": money.minor < 0 or text.strip().startswith(("-", "−"))}


def page_reads(page: Page, texts: list[str], currency: str, locale: str) -> list[dict[str, Any]]:
    rules = amount_rules(currency, locale).to_json()
    answers: list[dict[str, Any]] = page.evaluate(
        "([texts, rules]) => texts.map((t) => window.posdeskReadAmount(t, rules))", [texts, rules]
    )
    return answers


def comparable(answer: dict[str, Any]) -> dict[str, Any]:
    if "error" in answer:
        return {"error": answer["error"]}
    return {"minor": answer["minor"], "negative": bool(answer["negative"]) and answer["minor"] > 0}


def _line(name: str, minor: int, currency: str) -> TicketLine:
    return TicketLine(
        id=uuid.uuid4().hex, item_id="svc", kind=ItemKind.APPOINTMENT, name=name, unit_price=Money(minor, currency)
    )


def open_invoice(page: Page, shop: Companion, currency: str, locale: str, price: int) -> dict[str, Any]:
    if currency != "USD":
        current = shop.api.get("/api/v1/settings").json()
        assert shop.api.put("/api/v1/settings", json={**current, "currency": currency}).status_code == 200
    body = invoice_upload(lines=[_line("Colour", price, currency)], currency=currency)
    body["locale"] = locale
    assert put_invoice(shop.api, body).status_code in (200, 201)
    assert page.goto(f"{shop.url}/pay/{body['link_token']}") is not None
    return body


def test_the_page_and_the_server_read_every_input_alike(phone_page: Page, shop: Companion) -> None:
    open_invoice(phone_page, shop, "USD", "en_US", 6000)
    for currency, locale in PAGE_LOCALES:
        texts = list(CORPUS)
        on_page = [comparable(a) for a in page_reads(phone_page, texts, currency, locale)]
        on_server = [comparable(python_reads(t, currency, locale)) for t in texts]
        assert dict(zip(texts, on_page, strict=True)) == dict(zip(texts, on_server, strict=True)), (currency, locale)


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(st.text(alphabet="0123456789.,-−+ \u00a0\u202f$€¥￥KWD", max_size=12), min_size=1, max_size=30),
    pair=st.sampled_from(PAGE_LOCALES),
)
def test_random_inputs_are_read_alike_on_both_sides(phone_page: Page, shop: Companion, texts: list[str], pair: Any) -> None:
    if not phone_page.url.startswith(shop.url):
        open_invoice(phone_page, shop, "USD", "en_US", 6000)
    currency, locale = pair
    on_page = [comparable(a) for a in page_reads(phone_page, texts, currency, locale)]
    assert on_page == [comparable(python_reads(t, currency, locale)) for t in texts]


def _custom_tip(page: Page, text: str) -> None:
    page.locator("#tip-custom-radio").check(force=True)
    page.locator("#tip-custom").fill(text)


@pytest.mark.parametrize(
    ("currency", "locale", "price", "typed", "shown_total", "tip_minor"),
    [
        ("USD", "en_US", 200000, "1,234.50", "$3,234.50", 123450),
        ("EUR", "de_DE", 200000, "1.234,50", "3.234,50", 123450),
        ("JPY", "ja_JP", 20000, "2,500", "22,500", 2500),
        ("KWD", "en_US", 20000, "1.250", "21.250", 1250),
    ],
)
def test_a_grouped_custom_tip_shows_and_charges_the_same_amount(
    phone_page: Page, shop: Companion, currency: str, locale: str, price: int, typed: str, shown_total: str, tip_minor: int
) -> None:
    open_invoice(phone_page, shop, currency, locale, price)
    _custom_tip(phone_page, typed)
    expect(phone_page.get_by_test_id("pay-button")).to_contain_text(shown_total)
    expect(phone_page.get_by_test_id("pay-button")).to_be_enabled()
    phone_page.locator("#sim_number").fill("4242424242424242")
    phone_page.locator("#sim_exp").fill("1239")
    phone_page.locator("#sim_cvc").fill("123")
    phone_page.get_by_test_id("pay-button").click()
    expect(phone_page.get_by_test_id("confirmation")).to_be_visible()
    from posdesk.companion.models import Payment

    with shop.db.read() as session:
        [payment] = session.query(Payment).all()
        assert (payment.amount_minor, payment.tip_minor, payment.currency) == (price, tip_minor, currency)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("-20", "A tip cannot be negative"),
        ("12,50", "This is not an amount"),
        ("12.505", "Too many decimal places for this currency"),
        ("90", "A tip can be at most $60.00"),
    ],
)
def test_what_the_server_would_refuse_keeps_pay_disabled_with_the_reason(
    phone_page: Page, shop: Companion, typed: str, message: str
) -> None:
    open_invoice(phone_page, shop, "USD", "en_US", 6000)
    _custom_tip(phone_page, typed)
    expect(phone_page.locator("#tip-error")).to_have_text(message)
    expect(phone_page.get_by_test_id("pay-button")).to_be_disabled()
    expect(phone_page.get_by_test_id("pay-button")).not_to_contain_text("$63.30")
