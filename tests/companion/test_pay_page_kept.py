"""The payment page is rendered once per view and kept (``posdesk.companion.pay.rendering``): what the
client sees must still follow every change at once -- a new version, a payment, a saved card, the
language -- and a kept page never carries another link's CSRF token."""

from __future__ import annotations

import re

from tests.companion.conftest import Companion, put_invoice, same_invoice, service_line
from tests.companion.test_pay_page import Page, csrf_of, uploaded


def due_now(html: str) -> str:
    found = re.search(r'id="hero-amount">([^<]+)<', html)
    assert found, "the page shows no amount"
    return found.group(1)


def test_a_kept_page_follows_a_new_version_and_then_a_payment(companion: Companion) -> None:
    body = uploaded(companion, lines=[service_line(price=6000)])
    page = Page(companion, body)
    first, again = page.open().text, page.open().text
    assert first == again and due_now(again) == "$60.00"

    newer = same_invoice(body, lines=[service_line(price=9000)])
    assert put_invoice(companion.api, newer).status_code in (200, 201)
    assert due_now(page.open().text) == "$90.00"

    paid = page.pay(version=2)
    assert paid.status_code == 303
    shown = page.open()
    assert shown.status_code == 200 and "This invoice is already paid" in shown.text
    assert 'data-testid="pay-button"' not in shown.text


def test_identical_invoices_on_two_links_keep_their_own_csrf_tokens(companion: Companion) -> None:
    one, other = Page(companion, uploaded(companion)), Page(companion, uploaded(companion))
    html_one, html_other = one.open().text, other.open().text
    assert csrf_of(html_one) != csrf_of(html_other)
    assert csrf_of(one.open().text) == csrf_of(html_one)  # the kept page is this link's own
    assert one.token in html_one and other.token not in html_one
    posted = other.post("/promo", promo_code="NOPE", version="1", csrf=csrf_of(html_one))
    assert posted.status_code == 403  # one link's token does not open another's forms


def test_a_kept_page_follows_the_language_and_a_saved_card(companion: Companion) -> None:
    body = uploaded(companion)
    page = Page(companion, body)
    english = page.open().text
    spanish = page.client.get(f"/pay/{page.token}", params={"lang": "es"}).text
    assert 'lang="en"' in english and 'lang="es"' in spanish
    assert page.open().text == english

    second = Page(companion, uploaded(companion))  # Ana's next invoice, opened before she saves a card
    before = second.open().text
    assert 'data-testid="saved-card"' not in before and second.open().text == before
    assert page.pay(save_card="on").status_code == 303  # she saves her card paying the first one
    after = second.open().text
    assert after.count('data-testid="saved-card"') == 1 and "•••• 4242" in after
