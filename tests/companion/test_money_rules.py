"""Money rules on the payment page: what the client sees for a version is what is charged, on every path.

A real companion on loopback, the invoice uploaded through the POS API, the page driven without
JavaScript (the page's script is checked in Chromium in ``tests/e2e/test_pay_tip_parsing.py``).
"""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posdesk.core.money import Money
from posdesk.core.pricing import Promotion
from tests.companion.conftest import (
    Companion,
    invoice_upload,
    product_line,
    put_invoice,
    same_invoice,
    service_line,
)
from tests.companion.test_pay_page import Page, events, payments_of, uploaded
from tests.companion.test_receipt_email import ask_receipt, paid_page, shop  # noqa: F401

VIP25 = {"code": "VIP25", "name": "VIP", "percent": "0.25"}


def _promotions(companion: Companion, *promos: dict[str, Any]) -> None:
    assert companion.api.put("/api/v1/promotions", json={"promotions": list(promos)}).status_code in (200, 204)


# -- 2. a version's figures are frozen when accepted -------------------------------------------------------
def test_a_promotion_edited_after_the_invoice_was_accepted_does_not_change_its_charge(companion: Companion) -> None:
    _promotions(companion, VIP25)
    serum = product_line("Serum", 10000, "0")
    body = uploaded(
        companion,
        lines=[serum],
        promo_codes=["VIP25"],
        promotions={"VIP25": Promotion("VIP25", "VIP", percent=Decimal("0.25"))},
    )
    _promotions(companion, {**VIP25, "percent": "0.10"})
    page = Page(companion, body)
    assert "$75.00" in page.open().text and "$90.00" not in page.html
    page.follow(page.pay(tip="none"))
    [paid] = events(companion, "invoice.paid")
    assert paid["data"]["payment"]["amount"] == 7500
    [payment] = payments_of(companion)
    assert payment.amount_minor == 7500


def test_a_changed_promotion_applies_to_the_next_version(companion: Companion) -> None:
    _promotions(companion, VIP25)
    serum = product_line("Serum", 10000, "0")
    frozen = {"VIP25": Promotion("VIP25", "VIP", percent=Decimal("0.25"))}
    body = uploaded(companion, lines=[serum], promo_codes=["VIP25"], promotions=frozen)
    _promotions(companion, {**VIP25, "percent": "0.10"})
    # The POS sends version 2 priced with the old terms: refused, the companion prices with today's.
    old_terms = same_invoice(body, lines=[serum], promo_codes=["VIP25"], promotions=frozen)
    assert put_invoice(companion.api, old_terms).status_code == 422
    todays = {"VIP25": Promotion("VIP25", "VIP", percent=Decimal("0.10"))}
    new_terms = same_invoice(body, lines=[serum], promo_codes=["VIP25"], promotions=todays)
    assert put_invoice(companion.api, new_terms).status_code in (200, 201)
    page = Page(companion, body)
    assert "$90.00" in page.open().text
    page.follow(page.pay(version=2))
    assert payments_of(companion)[0].amount_minor == 9000


def test_a_promo_code_added_on_the_page_keeps_the_terms_of_codes_already_applied(companion: Companion) -> None:
    welcome = {"code": "WELCOME5", "name": "Welcome", "amount": 500}
    _promotions(companion, VIP25, welcome)
    serum = product_line("Serum", 10000, "0")
    body = uploaded(
        companion, lines=[serum], promo_codes=["VIP25"], promotions={"VIP25": Promotion("VIP25", "VIP", percent=Decimal("0.25"))}
    )
    _promotions(companion, {**VIP25, "percent": "0.10"}, welcome)
    page = Page(companion, body)
    page.open()
    assert page.post("/promo", version="1", promo_code="WELCOME5").status_code == 200
    page.open()
    page.follow(page.pay(version=2))
    assert payments_of(companion)[0].amount_minor == 7000  # 25% off (frozen), then $5 off (today's terms)


_percent = st.decimals(min_value=Decimal("0.01"), max_value=1, places=2)
_promotion = st.builds(
    lambda code, percent, amount, stackable: Promotion(
        code, code, percent=percent if amount is None else None, amount=None if amount is None else Money(amount, "USD"),
        stackable=stackable,
    ),
    st.sampled_from(["A", "B", "C"]),
    _percent,
    st.one_of(st.none(), st.integers(min_value=1, max_value=20000)),
    st.booleans(),
)  # fmt: skip


@settings(deadline=None, max_examples=150)
@given(
    accepted=st.lists(_promotion, max_size=3, unique_by=lambda p: p.code),
    edited=st.lists(_promotion, max_size=3, unique_by=lambda p: p.code),
    codes=st.lists(st.sampled_from(["A", "B", "C", "D"]), max_size=3),
    prices=st.lists(st.integers(min_value=0, max_value=50000), min_size=1, max_size=4),
)
def test_a_stored_version_prices_to_its_accepted_figures_whatever_the_promotions_become(
    accepted: list[Promotion], edited: list[Promotion], codes: list[str], prices: list[int]
) -> None:
    from posdesk.companion.invoices import version_promotions, with_promotion_terms
    from posdesk.companion.models import Store
    from posdesk.companion.stores import store_promotions_wire
    from posdesk.core.invoice import Invoice, totals_of

    body = invoice_upload(
        lines=[product_line(f"P{i}", price, "0.0825") for i, price in enumerate(prices)],
        promo_codes=codes,
        promotions={p.code: p for p in accepted},
    )
    document = Invoice.from_wire(body)
    store = Store(id="s", name="S", currency="USD", promotions=store_promotions_wire({p.code: p for p in accepted}))
    stored = with_promotion_terms(document.to_wire(), version_promotions({}, store))
    store.promotions = store_promotions_wire({p.code: p for p in edited})  # the manager edits them
    repriced = Invoice.from_wire(stored).price(version_promotions(stored, store))
    assert totals_of(repriced) == dict(document.totals)


# -- 1, 5, 6: tips on part payments, presets as seen, never above the cap ------------------------------------
def _settings(companion: Companion, **changes: Any) -> None:
    current = companion.api.get("/api/v1/settings").json()
    assert companion.api.put("/api/v1/settings", json={**current, **changes}).status_code == 200


def _tip_values(html: str) -> dict[str, str]:
    """The tip buttons on a page: their label -> the value each posts."""
    found = re.findall(r'name="tip" value="([^"]+)"[^>]*>.*?<b>([^<]+)</b>', html)
    return {label: value for value, label in found if value not in ("custom", "none")}


def _haircut_with_tax() -> Any:
    return dataclasses.replace(service_line("Haircut", 10000), tax_rate=Decimal("0.0825"))


def test_each_part_payment_tips_on_its_share_and_twenty_percent_twice_is_twenty_dollars(companion: Companion) -> None:
    haircut = _haircut_with_tax()
    body = uploaded(companion, lines=[haircut], amount_requested=5000)
    page = Page(companion, body)
    page.open()
    assert "$46.19" in page.html  # the tips are suggested on this part's share of the $100 service
    page.follow(page.pay(tip=_tip_values(page.html)["20%"]))
    second = same_invoice(body, lines=[haircut])
    assert put_invoice(companion.api, second).status_code in (200, 201)
    page.open()
    assert "$53.81" in page.html
    page.follow(page.pay(version=2, tip=_tip_values(page.html)["20%"]))
    first, rest = sorted(payments_of(companion), key=lambda p: p.invoice_version)
    assert (first.amount_minor, first.tip_minor) == (5000, 924)
    assert (rest.amount_minor, rest.tip_minor) == (5825, 1076)
    assert first.tip_minor + rest.tip_minor == 2000  # 20% of the $100 service, not $40
    # 8. The paid page lists each part and the total, not only the last part.
    paid = page.open().text
    parts = re.findall(r'data-testid="paid-part"><dt>([^<]*)</dt><dd>([^<]+)</dd>', paid)
    assert [amount for _, amount in parts] == ["$59.24", "$69.01"]
    assert "Tip $9.24" in parts[0][0] and "Tip $10.76" in parts[1][0]
    assert re.search(r'data-testid="paid-total"><dt>Paid</dt><dd>\$128\.25</dd>', paid)


def test_the_tip_cap_holds_for_the_invoice_across_parts(companion: Companion) -> None:
    _settings(companion, tip_max_rate="0.30")
    haircut = _haircut_with_tax()
    body = uploaded(companion, lines=[haircut], amount_requested=5000)
    page = Page(companion, body)
    page.open()
    page.follow(page.pay(tip="custom", tip_custom="30.00"))
    second = same_invoice(body, lines=[haircut])
    assert put_invoice(companion.api, second).status_code in (200, 201)
    page.open()
    assert 'id="tip-custom"' not in page.html  # the cap is used up: no tip is offered on this part
    refused = page.pay(version=2, tip="custom", tip_custom="30.00")
    assert refused.status_code == 400 and "at most $0.00" in refused.text
    assert [p.tip_minor for p in payments_of(companion)] == [3000]


def test_a_preset_changed_while_the_page_was_open_is_refused_with_the_new_choices(companion: Companion) -> None:
    body = uploaded(companion, lines=[service_line("Haircut", 10000)])
    page = Page(companion, body)
    page.open()
    seen = _tip_values(page.html)["15%"]
    _settings(companion, tip_presets=[{"percent": "0.25"}])
    refused = page.pay(tip=seen)
    assert refused.status_code == 400
    assert "The tip choices have changed" in refused.text
    assert list(_tip_values(refused.text)) == ["25%"]  # the new choices are on the page
    assert payments_of(companion) == [] and companion.app.state.gateways.ledger.payments == {}


def test_no_page_offers_a_tip_above_the_cap(companion: Companion) -> None:
    _settings(companion, tip_max_rate="0.30", tip_presets=[{"percent": "0.15"}, {"percent": "0.50"}, {"amount": 4000}])
    page = Page(companion, uploaded(companion, lines=[service_line("Haircut", 10000)]))
    page.open()
    assert list(_tip_values(page.html)) == ["15%"]
    receipt = page.follow(page.pay(tip="none"))
    assert 'id="add-tip-form"' in receipt.text
    assert list(_tip_values(receipt.text)) == ["15%"]


# -- 7: the page's summary has the POS's lines and signs --------------------------------------------------
def test_a_covered_visit_adds_up_with_a_negative_prepaid_line(companion: Companion) -> None:
    from posdesk.core.ticket import Coverage

    lines = [service_line("Massage", 4500, prepaid=Coverage.MEMBERSHIP), product_line("Oil", 2400)]
    page = Page(companion, uploaded(companion, lines=lines))
    html = page.open().text
    rows = dict(re.findall(r'<div class="row[^"]*"[^>]*><dt>([^<]+)</dt><dd>([^<]+)</dd></div>', html))
    assert rows["Subtotal"] == "$69.00"
    assert rows["Prepaid"] == "−$45.00"
    assert rows["Tax"] == "$1.98"
    assert rows["Total"] == "$25.98"
    assert "Covered by package or membership" not in html


# -- 11: smaller holes -----------------------------------------------------------------------------------
def test_ten_receipts_at_once_to_different_addresses_send_three(shop: Companion, smtp_server: Any) -> None:  # noqa: F811
    import concurrent.futures
    import time

    page, confirmation = paid_page(shop)
    pages = []
    for _ in range(10):
        other = Page(shop, {"link_token": page.token})
        other.open(confirmation)
        pages.append(other)
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda n: ask_receipt(pages[n], confirmation, f"person{n}@example.com"), range(10)))
    assert sorted(a.status_code for a in answers) == [200] * 3 + [429] * 7
    smtp_server.wait_for(3)
    time.sleep(0.5)  # room for a fourth, which must not come
    assert len(smtp_server.messages) == 3


def test_a_name_with_bidi_controls_is_shown_without_them(companion: Companion) -> None:
    from posdesk.core.invoice import InvoiceClient

    sneaky = InvoiceClient(id="c-rlo", name="Ana \u202eevil\u202c Díaz")
    line = dataclasses.replace(service_line("Cut \u2066x\u2069 \u202etxet"), staff="Rosa")
    html = Page(companion, uploaded(companion, client=sneaky, lines=[line])).open().text
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", html)
    assert "<bdi>Cut  x   txet</bdi>" in html and "Ana  evil  Díaz" in html


@pytest.mark.parametrize(
    "token",
    [
        "A" * 22,  # the issue's: well-formed base64 of 128 zero-ish bits
        "A" * 32,
        "abcdefgh" * 4,  # 8 different symbols where random tokens show about 25
        "0123456789" * 3 + "01",  # a counter
        "short",
        "x" * 31 + "=",
        "a" * 30 + "/../" + "b" * 10,
    ],
)
def test_a_malformed_or_low_entropy_link_token_is_refused(companion: Companion, token: str) -> None:
    response = put_invoice(companion.api, invoice_upload(link_token=token))
    assert response.status_code == 422 and "link_token" in response.text


@pytest.mark.parametrize("after", [str(10**20), str(2**63)])
def test_an_event_cursor_past_any_event_id_is_a_422_not_a_500(companion: Companion, after: str) -> None:
    assert companion.api.get("/api/v1/events", params={"after": after}).status_code == 422
    assert companion.api.get("/api/v1/events", params={"after": str(2**63 - 1)}).status_code == 200


def test_promo_codes_tried_on_one_link_are_limited(companion: Companion) -> None:
    _promotions(companion, {"code": "REAL10", "name": "Real", "percent": "0.10"})
    page = Page(companion, uploaded(companion))
    page.open()
    answers = [page.post("/promo", version="1", promo_code=f"GUESS{n}").status_code for n in range(60)]
    assert answers[:10] == [400] * 10 and set(answers[10:]) == {429}
    # The right code is refused too once the link is over its limit, and nothing changed the invoice.
    late = page.post("/promo", version="1", promo_code="REAL10")
    assert late.status_code == 429 and "Too many promo codes" in late.text
    assert events(companion, "invoice.repriced") == []
    # Another link of the store is not affected.
    other = Page(companion, uploaded(companion))
    other.open()
    assert other.post("/promo", version="1", promo_code="REAL10").status_code == 200
