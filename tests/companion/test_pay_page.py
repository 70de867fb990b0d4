"""The payment page over HTTP: reading an invoice, paying once with the Simulator, what the POS hears.

A real companion (uvicorn on loopback) with a store and a paired terminal; the invoice is uploaded
through the POS API as a terminal would, and the page is driven as a browser without JavaScript would.
"""

from __future__ import annotations

import concurrent.futures
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from posdesk.core.ticket import Coverage
from posdesk.gateways.simulator import APPROVES, ASKS_3DS, DECLINES
from tests.companion.conftest import Companion, invoice_upload, put_invoice, same_invoice, service_line

HAIRCUT_AND_SHAMPOO_TOTAL = 8165  # 60.00 service + 20.00 product + 8.25% tax on the product


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


class Page:
    """One client's browser on one link (no JavaScript)."""

    def __init__(self, companion: Companion, body: dict[str, Any]) -> None:
        self.companion = companion
        self.token = body["link_token"]
        self.client = companion.client(follow_redirects=False)
        self.html = ""
        self.csrf = ""

    def open(self, path: str = "") -> httpx.Response:
        response = self.client.get(f"/pay/{self.token}{path}")
        self.html = response.text
        return response

    def post(self, path: str, **fields: Any) -> httpx.Response:
        if 'name="csrf"' in self.html:
            self.csrf = csrf_of(self.html)
        data = {"csrf": self.csrf, **fields}
        return self.client.post(f"/pay/{self.token}{path}", data=data)

    def pay(self, *, version: int = 1, tip: str = "none", number: str | None = APPROVES, **fields: Any) -> httpx.Response:
        card = {"sim_number": number, "sim_exp": "12 / 39", "sim_cvc": "123"} if number else {}
        return self.post("/pay", version=str(version), tip=tip, **card, **fields)

    def follow(self, response: httpx.Response) -> httpx.Response:
        assert response.status_code == 303, response.text
        followed = self.client.get(response.headers["location"])
        self.html = followed.text
        return followed


def uploaded(companion: Companion, **kwargs: Any) -> dict[str, Any]:
    body = invoice_upload(**kwargs)
    response = put_invoice(companion.api, body)
    assert response.status_code in (200, 201), response.text
    return body


def events(companion: Companion, type_: str | None = None) -> list[dict[str, Any]]:
    found = companion.api.get("/api/v1/events", params={"after": 0}).json()["events"]
    return [e for e in found if type_ is None or e["type"] == type_]


def payments_of(companion: Companion) -> list[Any]:
    from posdesk.companion.models import Payment

    with companion.db.read() as session:
        rows = list(session.query(Payment).all())
        session.expunge_all()
        return rows


# -- reading -------------------------------------------------------------------------------------------
def test_page_shows_the_invoice_with_balance_due_and_tip_options(companion: Companion) -> None:
    page = Page(companion, uploaded(companion))
    response = page.open()
    assert response.status_code == 200
    html = response.text
    assert "Test Salon" in html and "Haircut" in html and "Shampoo" in html
    assert re.search(r'data-testid="balance-due"><dt>Balance due</dt><dd>\$81\.65</dd>', html)
    assert html.count('data-testid="tip-option"') == 3 and "$12.00" in html  # 20% of the $60 service
    assert 'data-testid="promo-code"' in html and 'data-testid="pay-button"' in html
    assert "Simulated payment — no real card is charged" in html
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"


def test_every_tip_button_says_what_it_is_based_on(companion: Companion) -> None:
    settings = companion.api.get("/api/v1/settings").json()
    settings["tip_presets"] = [{"percent": "0.15"}, {"amount": 500}]
    assert companion.api.put("/api/v1/settings", json=settings).status_code == 200
    page = Page(companion, uploaded(companion))
    html = page.open().text
    names = re.findall(r'<input type="radio" name="tip" value="[^"]+" data-amount="\d+" aria-label="([^"]+)"', html)
    assert names == ["15% of $60.00 services: $9.00", "Fixed tip of $5.00, not a share of the $60.00 of services"]
    spanish = page.open("?lang=es").text
    assert "Propina fija de $5.00, no un porcentaje de los $60.00 de servicios" in spanish


def test_first_open_is_reported_once(companion: Companion) -> None:
    page = Page(companion, uploaded(companion))
    page.open()
    page.open()
    opened = events(companion, "invoice.opened")
    assert [e["data"] for e in opened] == [{"version": 1}]


def test_prepaid_lines_show_their_label_and_a_zero_balance(companion: Companion) -> None:
    body = uploaded(companion, lines=[service_line(prepaid=Coverage.PACKAGE)])
    page = Page(companion, body)
    html = page.open().text
    assert "In package" in html and "Nothing to pay" in html
    assert re.search(r'data-testid="balance-due"><dt>Balance due</dt><dd>\$0\.00</dd>', html)
    # A tip alone can still be paid; nothing without one.
    assert page.pay(tip="none").status_code == 400
    assert "There is nothing to pay" in page.html or "nothing to pay" in page.open().text.lower()
    paid = page.pay(tip="2")
    page.follow(paid)
    [payment] = payments_of(companion)
    assert (payment.amount_minor, payment.tip_minor) == (0, 1200)


@pytest.mark.parametrize("lang", ["es", "fr"])
def test_page_speaks_the_chosen_language(companion: Companion, lang: str) -> None:
    page = Page(companion, uploaded(companion))
    html = page.open(f"?lang={lang}").text
    assert f'<html lang="{lang}">' in html
    expected = {"es": "Saldo pendiente", "fr": "Solde dû"}[lang]
    assert expected in html


def test_unknown_expired_and_revoked_links_look_the_same(companion: Companion) -> None:
    expired = uploaded(companion, expires_at=datetime.now(UTC) + timedelta(seconds=1))
    revoked = uploaded(companion)
    assert companion.api.post(f"/api/v1/invoices/{revoked['invoice_id']}/revoke").status_code in (200, 204)
    from posdesk.companion.models import Invoice

    with companion.db.write() as session:
        session.get(Invoice, expired["invoice_id"]).expires_at = datetime.now(UTC) - timedelta(minutes=1)
    answers = set()
    for token in ("x" * 32, expired["link_token"], revoked["link_token"]):
        response = companion.client().get(f"/pay/{token}")
        assert response.status_code == 404
        answers.add(response.text)
    assert len(answers) == 1
    assert "being prepared or is no longer active" in answers.pop()


# -- paying --------------------------------------------------------------------------------------------
def test_pay_with_4242_and_a_20_percent_tip(companion: Companion) -> None:
    body = uploaded(companion)
    page = Page(companion, body)
    page.open()
    confirmation = page.follow(page.pay(tip="2"))
    assert 'data-testid="confirmation"' in confirmation.text
    assert "$93.65" in confirmation.text and "$12.00" in confirmation.text and "4242" in confirmation.text
    [paid] = events(companion, "invoice.paid")
    assert paid["invoice_id"] == body["invoice_id"]
    data = paid["data"]
    assert data["version"] == 1 and data["balance_due"] == 0 and data["paid_total"] == HAIRCUT_AND_SHAMPOO_TOTAL
    assert data["payment"]["amount"] == HAIRCUT_AND_SHAMPOO_TOTAL and data["payment"]["tip"] == 1200
    assert data["payment"]["method"] == "online_card" and data["payment"]["card_last4"] == "4242"
    # The link is spent: reopening shows the receipt-like "already paid" page and charges nothing.
    again = page.open()
    assert "This invoice is already paid" in again.text
    assert len(payments_of(companion)) == 1


def test_a_declined_card_says_so_and_another_card_can_pay(companion: Companion) -> None:
    page = Page(companion, uploaded(companion))
    page.open()
    declined = page.pay(number=DECLINES)
    assert declined.status_code == 402 and "Your card was declined" in declined.text
    [failed] = events(companion, "payment.failed")
    assert failed["data"]["message"] == "Your card was declined"
    page.html = declined.text
    page.follow(page.pay(number=APPROVES))
    assert len(events(companion, "invoice.paid")) == 1


def test_3d_secure_step_approve_and_fail(companion: Companion) -> None:
    page = Page(companion, uploaded(companion))
    page.open()
    challenge = page.follow(page.pay(number=ASKS_3DS))
    assert 'data-testid="authenticate"' in challenge.text
    failed = page.post(re.search(r'action="(/pay/[^"]+/authenticate)"', challenge.text).group(1).split(page.token)[1], outcome="fail")
    assert failed.status_code == 402 and "Your bank could not verify this payment" in failed.text
    page.html = failed.text
    challenge = page.follow(page.pay(number=ASKS_3DS))
    path = re.search(r'action="(/pay/[^"]+/authenticate)"', challenge.text).group(1).split(page.token)[1]
    done = page.follow(page.post(path, outcome="approve"))
    assert 'data-testid="confirmation"' in done.text
    assert len(events(companion, "invoice.paid")) == 1


def test_a_known_client_saves_a_card_then_uses_it(companion: Companion) -> None:
    first = Page(companion, uploaded(companion))
    first.open()
    first.follow(first.pay(save_card="on"))
    second = Page(companion, uploaded(companion))
    html = second.open().text
    assert html.count('data-testid="saved-card"') == 1 and "•••• 4242" in html and 'data-testid="use-card"' in html
    card_id = re.search(r'name="card" value="([0-9a-f]{32})"', html).group(1)
    done = second.follow(second.pay(number=None, card=card_id))
    assert 'data-testid="confirmation"' in done.text and "4242" in done.text


def test_walk_ins_never_see_saved_cards_or_the_save_option(companion: Companion) -> None:
    page = Page(companion, uploaded(companion, client=None))
    html = page.open().text
    assert 'data-testid="saved-card"' not in html and "save_card" not in html


def test_saved_cards_can_be_removed_and_made_default(companion: Companion) -> None:
    for _ in range(2):
        page = Page(companion, uploaded(companion))
        page.open()
        page.follow(page.pay(save_card="on"))
    page = Page(companion, uploaded(companion))
    html = page.open().text
    ids = re.findall(r'name="card" value="([0-9a-f]{32})"', html)
    assert len(ids) == 2
    page.post(f"/cards/{ids[1]}/default")
    html = page.open().text
    assert re.findall(r'name="card" value="([0-9a-f]{32})"', html)[0] == ids[1]  # the default comes first
    page.post(f"/cards/{ids[1]}/remove")
    assert re.findall(r'name="card" value="([0-9a-f]{32})"', page.open().text) == [ids[0]]


def test_another_clients_card_cannot_be_used_or_removed(companion: Companion) -> None:
    from posdesk.core.invoice import InvoiceClient

    owner = Page(companion, uploaded(companion))
    owner.open()
    owner.follow(owner.pay(save_card="on"))
    card_id = re.search(r'name="card" value="([0-9a-f]{32})"', Page(companion, uploaded(companion)).open().text).group(1)
    stranger = Page(companion, uploaded(companion, client=InvoiceClient(id="client-2", name="Bo")))
    stranger.open()
    assert stranger.pay(number=None, card=card_id).status_code == 400
    assert stranger.post(f"/cards/{card_id}/remove").status_code == 404
    assert len(payments_of(companion)) == 1


def test_the_already_paid_page_itemises_the_invoice_as_the_receipt_does(companion: Companion) -> None:
    page = Page(companion, uploaded(companion))
    page.open()
    page.follow(page.pay(tip="none"))
    receipt = page.html
    again = page.open().text
    assert "This invoice is already paid" in again

    def items(html: str) -> str:
        found = re.search(r'<section class="panel receipt-items".*?</section>', html, re.S)
        assert found is not None
        return found.group(0)

    shown = items(again)
    assert shown == items(receipt)
    assert re.search(r'id="items-heading">Invoice #7 · [^<]+</h2>', shown)
    assert "Haircut" in shown and "Shampoo" in shown
    assert re.search(r'data-testid="invoice-total"><dt>Total</dt><dd>\$81\.65</dd>', shown)


def test_add_a_tip_on_the_confirmation_page_once(companion: Companion) -> None:
    page = Page(companion, uploaded(companion))
    page.open()
    receipt_response = page.pay()
    receipt_path = receipt_response.headers["location"]
    page.follow(receipt_response)
    assert 'id="add-tip-form"' in page.html
    after = page.follow(page.post(receipt_path.split(page.token)[1] + "/tip", tip="0"))
    assert 'data-testid="tip-added"' in after.text and "$9.00" in after.text
    [tip] = events(companion, "tip.added")
    assert tip["data"]["payment"]["tip"] == 900 and tip["data"]["payment"]["amount"] == 0
    assert page.post(receipt_path.split(page.token)[1] + "/tip", tip="0").status_code == 400
    assert len(events(companion, "tip.added")) == 1


# -- refusals ------------------------------------------------------------------------------------------
def test_an_old_version_is_refused_with_the_new_total(companion: Companion) -> None:
    body = uploaded(companion)
    page = Page(companion, body)
    page.open()
    newer = same_invoice(body, lines=[service_line(price=9000)])
    assert put_invoice(companion.api, newer).status_code in (200, 201)
    status = page.client.get(f"/pay/{page.token}/status").json()
    assert status["version"] == 2 and status["due_now"] == 9000
    refused = page.pay(version=1)
    assert refused.status_code == 409 and "The new amount due is $90.00" in refused.text
    assert payments_of(companion) == []


@pytest.mark.parametrize(
    "fields",
    [
        {"tip": "7"},  # no such preset
        {"tip": "custom", "tip_custom": "-5"},
        {"tip": "custom", "tip_custom": "61.00"},  # above the cap: 100% of the $60 service
        {"amount": "1"},
        {"currency": "EUR"},
        {"version": "abc"},
    ],
    ids=["preset", "negative", "over-cap", "amount", "currency", "version"],
)
def test_tampered_requests_are_refused_and_charge_nothing(companion: Companion, fields: dict[str, str]) -> None:
    page = Page(companion, uploaded(companion))
    page.open()
    response = page.pay(**fields)
    assert response.status_code in (400, 409)
    assert payments_of(companion) == []


def test_forms_without_the_csrf_token_or_from_another_site_are_refused(companion: Companion) -> None:
    page = Page(companion, uploaded(companion))
    page.open()
    form = {"version": "1", "tip": "none", "sim_number": APPROVES, "sim_exp": "12/39", "sim_cvc": "123"}
    assert page.client.post(f"/pay/{page.token}/pay", data={**form, "csrf": "0" * 64}).status_code == 403
    cross = page.client.post(
        f"/pay/{page.token}/pay", data={**form, "csrf": csrf_of(page.html)}, headers={"Origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    site = page.client.post(
        f"/pay/{page.token}/pay", data={**form, "csrf": csrf_of(page.html)}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert site.status_code == 403
    assert payments_of(companion) == []


def test_double_click_two_tabs_and_two_phones_make_one_charge(companion: Companion) -> None:
    body = uploaded(companion)
    pages = [Page(companion, body) for _ in range(6)]
    for page in pages:
        page.open()
    with concurrent.futures.ThreadPoolExecutor(len(pages)) as pool:
        answers = list(pool.map(lambda p: p.pay(tip="2"), pages))
    # The first is charged (303 to its receipt); the others see it in progress (409) or already paid.
    assert all(a.status_code in (303, 409) or "already paid" in a.text for a in answers), [a.status_code for a in answers]
    assert len(payments_of(companion)) == 1
    assert len(events(companion, "invoice.paid")) == 1
    assert len(companion.app.state.gateways.ledger.payments) == 1  # the gateway charged once


def test_while_a_lost_answer_is_checked_the_page_says_so_and_offers_no_new_attempt(
    companion: Companion, monkeypatch: pytest.MonkeyPatch
) -> None:
    from posdesk.gateways.base import Unavailable
    from posdesk.gateways.simulator.driver import SimulatorGateway

    def lost(self: SimulatorGateway, request: Any) -> Any:
        raise Unavailable("The payment service did not answer")

    page = Page(companion, uploaded(companion))
    page.open()
    with monkeypatch.context() as patch:
        patch.setattr(SimulatorGateway, "charge", lost)
        waiting = page.follow(page.pay(tip="2"))
    assert 'data-testid="processing"' in waiting.text
    assert "Checking your payment…" in waiting.text and "Please do not pay again" in waiting.text
    [payment] = payments_of(companion)
    assert payment.status == "processing"  # unknown, never "you were not charged"
    # Reopening the link shows the check, not a payment form: no card can be entered meanwhile.
    reopened = page.open()
    assert reopened.status_code == 303 and 'name="sim_number"' not in reopened.text
    assert "Checking your payment…" in page.follow(reopened).text
    # A second try (another tab, a resent form) starts nothing at the gateway.
    for tip in ("2", "none"):
        again = page.pay(tip=tip)
        assert again.status_code == 303
        assert "Checking your payment…" in page.follow(again).text
    assert len(payments_of(companion)) == 1
    assert companion.app.state.gateways.ledger.payments == {}
    assert events(companion, "invoice.paid") == [] and events(companion, "payment.failed") == []


def test_promo_code_on_the_page_makes_a_new_version(companion: Companion) -> None:
    promo = {"code": "WELCOME10", "name": "Welcome", "percent": "0.10"}
    assert companion.api.put("/api/v1/promotions", json={"promotions": [promo]}).status_code in (200, 204)
    body = uploaded(companion)
    page = Page(companion, body)
    page.open()
    bad = page.post("/promo", version="1", promo_code="NOPE")
    assert bad.status_code == 400 and "Unknown or expired promo code" in bad.text
    good = page.post("/promo", version="1", promo_code="welcome10")
    assert good.status_code == 200 and "Promo code WELCOME10 applied" in good.text
    [repriced] = events(companion, "invoice.repriced")
    assert repriced["data"]["version"] == 2 and repriced["data"]["document"]["promo_codes"] == ["WELCOME10"]
    page.html = good.text
    page.follow(page.pay(version=2))
    [paid] = events(companion, "invoice.paid")
    assert paid["data"]["payment"]["amount"] == 7349  # 10% off both lines, tax on the discounted product


def test_page_weight_stays_under_30_kb_compressed(companion: Companion) -> None:
    import gzip

    page = Page(companion, uploaded(companion))
    parts = [page.open().content]
    for asset in ("/static/pay/pay.css", "/static/pay/pay.js"):
        response = page.client.get(asset)
        assert response.status_code == 200
        parts.append(response.content)
    compressed = sum(len(gzip.compress(part, 9)) for part in parts)
    assert compressed < 30 * 1024


def test_guessing_tokens_is_rate_limited_per_address(companion: Companion) -> None:
    client = companion.client()
    statuses = [client.get(f"/pay/guess{n:028d}").status_code for n in range(companion.config.rate_limit_per_minute + 5)]
    assert set(statuses[:100]) == {404}
    assert statuses[-1] == 429
