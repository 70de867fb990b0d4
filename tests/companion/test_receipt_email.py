"""The confirmation page's "email me a receipt": a real companion on loopback whose email channel is a
real SMTP server (aiosmtpd); the invoice is paid with the Simulator, then the receipt is asked for as a
browser without JavaScript would, and once in Chromium at phone size.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page as BrowserPage
from playwright.sync_api import expect

from posdesk.core.invoice import InvoiceClient
from posdesk.gateways.simulator import APPROVES
from tests.companion.conftest import Companion
from tests.companion.test_messages import communicator_companion
from tests.companion.test_pay_page import Page, uploaded
from tests.plugins.smtp import SmtpTestServer

ANA_NO_CONSENT = InvoiceClient(id="client-2", name="Ana Díaz", email="ana@example.com", email_consent=False)


@pytest.fixture
def shop(tmp_path: Path, smtp_server: SmtpTestServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Companion]:
    """A companion ("Salon Élan") that sends email through ``smtp_server``, as a :class:`Companion`."""
    with communicator_companion(tmp_path / "companion.db", smtp_server, monkeypatch) as comm:
        comm.app.state.test_clients = []
        try:
            yield Companion(comm.app, comm.app.state.config, comm.url, comm.terminal, comm.api)
        finally:
            for made in comm.app.state.test_clients:
                made.close()


def paid_page(shop: Companion, tip: str = "2", **invoice: Any) -> tuple[Page, str]:
    """A client's page on a paid invoice, showing the confirmation; and the confirmation's path."""
    page = Page(shop, uploaded(shop, **invoice))
    page.open()
    paid = page.pay(tip=tip)
    confirmation = paid.headers["location"]
    page.follow(paid)
    assert 'data-testid="confirmation"' in page.html
    return page, confirmation.split(page.token)[1].split("?")[0]


def prefilled(page_html: str) -> str | None:
    found = re.search(r'<input id="receipt-email"[^>]* value="([^"]*)"', page_html)
    return html.unescape(found.group(1)) if found else None


def ask_receipt(page: Page, confirmation: str, email: str, **fields: Any) -> Any:
    response = page.post(confirmation + "/receipt", email=email, **fields)
    page.html = response.text
    return response


def receipt_messages(shop: Companion) -> list[dict[str, Any]]:
    events = shop.api.get("/api/v1/events", params={"after": 0, "limit": 500}).json()["events"]
    return [
        e["data"]
        for e in events
        if e["type"] == "message.status" and e["data"]["message_id"].startswith("receipt-")
    ]


def test_the_receipt_goes_to_the_prefilled_address_with_the_payments_figures(
    shop: Companion, smtp_server: SmtpTestServer
) -> None:
    page, confirmation = paid_page(shop, tip="2")  # 20% of the $60 service
    assert prefilled(page.html) == "ana@example.com"  # on the invoice, and Ana agreed to emails
    assert 'data-testid="send-receipt"' in page.html
    paid_on = html.unescape(re.search(r"<dt>Date</dt><dd>([^<]+)</dd>", page.html).group(1))

    answer = ask_receipt(page, confirmation, "ana@example.com")
    assert answer.status_code == 200
    assert "Receipt sent to a***@example.com" in answer.text
    assert 'data-testid="receipt-email"' not in answer.text  # the form stepped aside

    [mail] = smtp_server.wait_for(1)
    assert mail.rcpt_tos == ("ana@example.com",)
    assert mail.subject == "Your receipt from Salon Élan"
    text = mail.body(("plain",))
    assert "Thank you for your payment to Salon Élan." in text
    for line in (
        "Amount: $81.65",
        "Tip: $12.00",
        "Total: $93.65",
        "Card: Visa •••• 4242",
        f"Date: {paid_on}",
    ):
        assert line in text.splitlines(), line
    assert "$93.65" in mail.body(("html",))
    # It is in Ana's conversation on every terminal, tied to the ticket, as sent.
    [*_, last] = receipt_messages(shop)
    assert (last["client_id"], last["channel"], last["status"]) == ("client-1", "email", "sent")
    assert last["ticket_id"] is not None


def test_the_receipt_is_itemised_with_the_invoice_number_and_how_to_reach_the_store(
    shop: Companion, smtp_server: SmtpTestServer
) -> None:
    settings = shop.api.get("/api/v1/settings").json()
    settings.update(phone="+1 415 555 0100", email="hello@salon-elan.example")
    assert shop.api.put("/api/v1/settings", json=settings).status_code == 200
    page, confirmation = paid_page(shop, tip="none")
    page_date = re.search(r'id="items-heading">Invoice #7 · ([^<]+)</h2>', page.html)
    assert page_date is not None  # the page's receipt says the same
    ask_receipt(page, confirmation, "ana@example.com")

    [mail] = smtp_server.wait_for(1)
    text = mail.body(("plain",)).splitlines()
    items = text.index(f"Invoice #7 · {html.unescape(page_date.group(1))}")
    assert text[items + 1 : items + 8] == [
        "Haircut (Service with Rosa): $60.00",
        "Shampoo (Product): $20.00",
        "Subtotal: $80.00",
        "Tax: $1.65",
        "Total: $81.65",
        "Paid: −$81.65",
        "",
    ]
    assert text[-4:] == ["Salon Élan", "1 Test Street", "+1 415 555 0100", "hello@salon-elan.example"]
    rich = mail.body(("html",))
    for shown in ("Invoice #7", "Haircut", "Shampoo", "+1 415 555 0100", "hello@salon-elan.example"):
        assert shown in rich, shown


def test_asking_twice_sends_one_receipt(shop: Companion, smtp_server: SmtpTestServer) -> None:
    page, confirmation = paid_page(shop)
    ask_receipt(page, confirmation, "ana@example.com")
    page.open(confirmation)  # back on the confirmation, as after a reload
    again = ask_receipt(page, confirmation, "  ANA@example.com ")
    assert again.status_code == 200 and "Receipt sent to A***@example.com" in again.text
    smtp_server.wait_for(1)
    time.sleep(0.3)
    assert len(smtp_server.messages) == 1
    assert len({m["message_id"] for m in receipt_messages(shop)}) == 1


@pytest.mark.parametrize(
    "address",
    [
        "ana@example.com\r\nBcc: everyone@evil.example",
        "ana@example.com, boss@evil.example",
        '"><script>alert(1)</script>@example.com',
        "ana@",
        "",
        "a" * 250 + "@example.com",
    ],
)
def test_a_hostile_or_broken_address_is_refused_inline(
    shop: Companion, smtp_server: SmtpTestServer, address: str
) -> None:
    page, confirmation = paid_page(shop)
    answer = ask_receipt(page, confirmation, address)
    assert answer.status_code == 400
    assert re.search(r'data-testid="receipt-email-error">Enter a valid email address<', answer.text)
    assert "<script>alert(1)" not in answer.text
    assert 'data-testid="receipt-email"' in answer.text  # the form is still there to correct it
    time.sleep(0.2)
    assert smtp_server.messages == [] and receipt_messages(shop) == []


def test_no_prefill_without_consent_or_for_a_walk_in_and_asking_is_not_consent(
    shop: Companion, smtp_server: SmtpTestServer
) -> None:
    walk_in, _ = paid_page(shop, client=None)
    assert prefilled(walk_in.html) == ""
    page, confirmation = paid_page(shop, client=ANA_NO_CONSENT)
    assert prefilled(page.html) == ""

    assert "Receipt sent to a***@example.com" in ask_receipt(page, confirmation, "ana@example.com").text
    smtp_server.wait_for(1)
    # The store still may not email Ana: her receipt request changed nothing about her consent.
    refused = shop.api.post(
        "/api/v1/messages",
        json={
            "message_id": "offer-1",
            "client": {
                "id": "client-2",
                "first_name": "Ana",
                "email": "ana@example.com",
                "email_consent": False,
            },
            "channel": "email",
            "subject": "Spring offer",
            "text": "20% off colour this week",
        },
    ).json()
    assert refused["status"] == "failed" and "has not agreed to receive emails" in refused["reason"]


def test_receipts_of_one_payment_go_to_a_few_addresses_at_most(
    shop: Companion, smtp_server: SmtpTestServer
) -> None:
    page, confirmation = paid_page(shop)
    for n in range(3):
        assert ask_receipt(page, confirmation, f"person{n}@example.com").status_code == 200
        page.open(confirmation)
    refused = ask_receipt(page, confirmation, "stranger@example.com")
    assert refused.status_code == 429 and "No more receipts can be sent for this payment" in refused.text
    assert ask_receipt(page, confirmation, "person0@example.com").status_code == 200  # already sent: fine
    smtp_server.wait_for(3)
    time.sleep(0.2)
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == [f"person{n}@example.com" for n in range(3)]


def test_the_receipt_speaks_the_pages_language(shop: Companion, smtp_server: SmtpTestServer) -> None:
    page, confirmation = paid_page(shop)
    page.open(confirmation + "?lang=es")
    answer = page.client.post(
        f"/pay/{page.token}{confirmation}/receipt?lang=es",
        data={"csrf": page.csrf, "lang": "es", "email": "ana@example.com"},
    )
    assert "Recibo enviado a a***@example.com" in answer.text
    [mail] = smtp_server.wait_for(1)
    assert mail.subject == "Tu recibo de Salon Élan"
    assert "Gracias por tu pago a Salon Élan." in mail.body(("plain",))


def test_the_already_paid_page_offers_the_receipt_too(shop: Companion, smtp_server: SmtpTestServer) -> None:
    page, _ = paid_page(shop)
    again = page.open()
    assert "This invoice is already paid" in again.text and prefilled(again.text) == "ana@example.com"
    action = re.search(r'action="(/pay/[^"]+/receipt)"', again.text).group(1)
    answer = ask_receipt(page, action.split(page.token)[1].removesuffix("/receipt"), "ana@example.com")
    assert "Receipt sent to a***@example.com" in answer.text
    smtp_server.wait_for(1)


def test_forged_or_foreign_requests_send_nothing(shop: Companion, smtp_server: SmtpTestServer) -> None:
    page, confirmation = paid_page(shop)
    forged = page.client.post(
        f"/pay/{page.token}{confirmation}/receipt", data={"csrf": "0" * 64, "email": "ana@example.com"}
    )
    assert forged.status_code == 403
    cross_site = page.client.post(
        f"/pay/{page.token}{confirmation}/receipt",
        data={"csrf": page.csrf, "email": "ana@example.com"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross_site.status_code == 403
    _, other_confirmation = paid_page(shop)
    foreign = ask_receipt(page, other_confirmation, "ana@example.com")  # another link's payment
    assert foreign.status_code == 404 and "being prepared or is no longer active" in foreign.text
    time.sleep(0.2)
    assert smtp_server.messages == []


def test_without_an_email_channel_there_is_no_form_and_a_request_says_so(companion: Companion) -> None:
    assert companion.app.state.messaging.channel("email") is None  # the plain companion has no SMTP
    page, confirmation = paid_page(companion)
    assert 'data-testid="receipt-email"' not in page.html
    answer = ask_receipt(page, confirmation, "ana@example.com")
    assert answer.status_code == 503
    assert re.search(r'data-testid="receipt-email-error">Email receipts are not available<', answer.text)
    assert 'data-testid="confirmation"' in answer.text  # still the client's receipt page


# -- in the browser ---------------------------------------------------------------------------------


def test_email_me_a_receipt_in_chromium(
    phone_page: BrowserPage, shop: Companion, smtp_server: SmtpTestServer
) -> None:
    body = uploaded(shop)
    phone_page.goto(f"{shop.url}/pay/{body['link_token']}")
    phone_page.locator("#sim_number").fill(APPROVES)
    phone_page.locator("#sim_exp").fill("1239")
    phone_page.locator("#sim_cvc").fill("123")
    phone_page.get_by_test_id("pay-button").click()
    expect(phone_page.get_by_test_id("confirmation")).to_be_visible()

    field = phone_page.get_by_test_id("receipt-email")
    expect(field).to_have_value("ana@example.com")
    field.fill("not an address")
    phone_page.get_by_test_id("send-receipt").click()
    expect(phone_page.get_by_test_id("receipt-email-error")).to_have_text("Enter a valid email address")
    expect(phone_page.get_by_test_id("receipt-email")).to_have_value("not an address")

    phone_page.get_by_test_id("receipt-email").fill("ana.diaz@example.com")
    phone_page.get_by_test_id("send-receipt").click()
    expect(phone_page.get_by_test_id("receipt-sent")).to_have_text("Receipt sent to a***@example.com")
    expect(phone_page.get_by_test_id("confirmation")).to_contain_text("Visa •••• 4242")
    [mail] = smtp_server.wait_for(1)
    assert mail.rcpt_tos == ("ana.diaz@example.com",) and "Amount: $81.65" in mail.body(("plain",))
