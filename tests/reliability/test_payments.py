"""Cases 8-14: paying one link many times at once, after it is paid, with an old version, with tampered
fields, with a reused idempotency key, after the ticket was voided, and through a failing gateway.

A real companion (uvicorn on loopback); the client's phone is an HTTP client posting the page's forms
(with the CSRF token the page gave it). Charges are counted where the money moves: the Simulator's
ledger, or the fake Stripe API's charges.
"""

from __future__ import annotations

import concurrent.futures
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from posdesk.companion.models import Payment
from posdesk.companion.pay.security import csrf_token
from posdesk.core.links import hash_token
from posdesk.gateways.simulator import SimulatorGateway
from tests.companion.conftest import Companion, invoice_upload, put_invoice, same_invoice, service_line
from tests.fakes.serve import serve_app
from tests.fakes.stripe_api import FakeStripe, make_fake_stripe
from tests.gateway_setup import connect_stripe
from tests.reliability.programs import CARD, csrf_of

TOTAL = 8165  # the default test invoice: $60 haircut + $20 shampoo + 8.25% tax on the shampoo
WHSEC = "whsec_reliability"


def uploaded(companion: Companion, **kwargs: Any) -> dict[str, Any]:
    body = invoice_upload(**kwargs)
    answer = put_invoice(companion.api, body)
    assert answer.status_code == 200, answer.text
    return body


def form(companion: Companion, token: str, **fields: str) -> dict[str, str]:
    return {"csrf": csrf_token(companion.config, hash_token(token)), "version": "1", "tip": "none", **CARD, **fields}


def charges(companion: Companion, invoice_id: str) -> int:
    """Charges the Simulator made for ``invoice_id`` (what the client's bank statement would show)."""
    ledger = companion.app.state.gateways.ledger
    with ledger.lock:
        return sum(
            1 for p in ledger.payments.values() if p.metadata.get("invoice_id") == invoice_id and p.status.value == "succeeded"
        )


def payment_rows(companion: Companion, invoice_id: str) -> list[Any]:
    with companion.db.read() as session:
        return list(session.execute(select(Payment.status, Payment.amount_minor, Payment.tip_minor).where(Payment.invoice_id == invoice_id)).all())


def paid_events(companion: Companion, invoice_id: str) -> int:
    events = companion.api.get("/api/v1/events", params={"after": 0}).json()["events"]
    return sum(1 for e in events if e["type"] == "invoice.paid" and e["invoice_id"] == invoice_id)


# -- (8) many payers on one link -------------------------------------------------------------------------
def test_double_clicks_tabs_and_phones_on_one_link_charge_once(companion_any_db: Companion) -> None:
    companion = companion_any_db
    body = uploaded(companion)
    token = body["link_token"]
    phones = [companion.client(follow_redirects=False) for _ in range(4)]
    # Four phones, two tabs each, two clicks per tab: 16 posts at once, some with another tip.
    posts = [(phone, tip) for phone in phones for tip in ("2", "2", "none", "2")]
    start = threading.Barrier(len(posts))

    def click(phone_and_tip: tuple[httpx.Client, str]) -> str:
        phone, tip = phone_and_tip
        start.wait()
        answer = phone.post(f"/pay/{token}/pay", data=form(companion, token, tip=tip))
        if answer.status_code == 200 and "This invoice is already paid" in answer.text:
            return "already paid"
        return str(answer.status_code)

    with concurrent.futures.ThreadPoolExecutor(len(posts)) as pool:
        answers = list(pool.map(click, posts))
    # One is charged (303 to its receipt); the others see that payment, see it in progress (409), or
    # once it is done are told the invoice is already paid.
    assert "303" in answers and set(answers) <= {"303", "409", "already paid"}, answers
    per_link = charges(companion, body["invoice_id"])
    assert per_link == 1
    assert [row.status for row in payment_rows(companion, body["invoice_id"])] == ["succeeded"]
    assert paid_events(companion, body["invoice_id"]) == 1
    print(f"\nFIGURE case 8: {len(posts)} concurrent posts, charges per link {per_link}")


# -- (9) a paid link opened again -------------------------------------------------------------------------
def test_a_paid_link_reopened_says_already_paid_and_tries_no_charge(companion: Companion) -> None:
    body = uploaded(companion)
    token = body["link_token"]
    phone = companion.client(follow_redirects=False)
    assert phone.post(f"/pay/{token}/pay", data=form(companion, token)).status_code == 303
    attempts_before = len(companion.app.state.gateways.ledger.idempotency)

    reopened = phone.get(f"/pay/{token}")
    assert reopened.status_code == 200 and "This invoice is already paid" in reopened.text
    assert 'name="sim_number"' not in reopened.text, "no card form on a paid link"
    again = phone.post(f"/pay/{token}/pay", data=form(companion, token))
    assert again.status_code == 303 and again.headers["location"] == f"/pay/{token}"
    assert len(companion.app.state.gateways.ledger.idempotency) == attempts_before, "no new charge attempt"
    assert charges(companion, body["invoice_id"]) == 1 and len(payment_rows(companion, body["invoice_id"])) == 1


# -- (10) the ticket was edited after sending ---------------------------------------------------------------
def test_an_old_version_cannot_be_paid_and_the_page_shows_the_new_total(companion: Companion) -> None:
    body = uploaded(companion)
    token = body["link_token"]
    phone = companion.client(follow_redirects=False)
    assert "$81.65" in phone.get(f"/pay/{token}").text
    newer = invoice_upload(
        invoice_id=body["invoice_id"], ticket_id=body["ticket_id"], version=2, lines=[service_line(price=9000)], link_token=token
    )
    assert put_invoice(companion.api, newer).status_code == 200
    refused = phone.post(f"/pay/{token}/pay", data=form(companion, token, version="1"))
    assert refused.status_code == 409 and "$90.00" in refused.text
    assert charges(companion, body["invoice_id"]) == 0 and payment_rows(companion, body["invoice_id"]) == []
    page = phone.get(f"/pay/{token}").text
    assert "$90.00" in page and "$81.65" not in page
    assert phone.get(f"/pay/{token}/status").json()["version"] == 2


# -- (11) tampered requests -----------------------------------------------------------------------------------
TAMPERED: list[dict[str, str]] = [
    {"amount": "1"},
    {"amount_minor": "100"},
    {"total": "0.01"},
    {"due_now": "1"},
    {"currency": "EUR"},
    {"version": "0"},
    {"version": "2"},
    {"version": "-1"},
    {"version": "1e3"},
    {"tip": "custom", "tip_custom": "60.01"},  # over the cap: 100% of the $60 service
    {"tip": "custom", "tip_custom": "-5"},
    {"tip": "custom", "tip_custom": "1e9"},
    {"tip": "custom", "tip_custom": "NaN"},
    {"tip": "7"},  # no such preset
    {"tip": "99"},
    {"tip": "percent:0.99"},
    {"csrf": "0" * 64},
]


def test_tampered_requests_are_refused_and_nothing_is_charged(companion: Companion) -> None:
    body = uploaded(companion)
    token = body["link_token"]
    phone = companion.client(follow_redirects=False)
    phone.get(f"/pay/{token}")
    accepted = [fields for fields in TAMPERED if phone.post(f"/pay/{token}/pay", data=form(companion, token, **fields)).status_code == 303]
    assert accepted == []
    assert charges(companion, body["invoice_id"]) == 0 and payment_rows(companion, body["invoice_id"]) == []
    # The untampered request charges what the companion computes: total plus an 18% tip on the $60 service.
    assert phone.post(f"/pay/{token}/pay", data=form(companion, token, tip="1")).status_code == 303
    [(status, amount, tip)] = payment_rows(companion, body["invoice_id"])
    assert (status, amount, tip) == ("succeeded", TOTAL, 1080)
    print(f"\nFIGURE case 11: tampered requests accepted 0 of {len(TAMPERED)}")


# -- (12) one idempotency key, two bodies; the same key while the first runs ----------------------------------
def test_the_same_invoice_version_with_another_body_is_refused(companion: Companion) -> None:
    body = uploaded(companion)
    other = same_invoice(body, version=1, lines=[service_line(price=100)])
    refused = put_invoice(companion.api, other)
    assert refused.status_code == 422 and "already uploaded with different content" in refused.json()["detail"]
    assert put_invoice(companion.api, body).status_code == 200  # the same body again: the same answer
    assert companion.api.get(f"/api/v1/invoices/{body['invoice_id']}").json()["amount_due"] == TOTAL


def test_a_second_charge_while_the_first_is_at_the_gateway_is_not_made(companion: Companion, monkeypatch: pytest.MonkeyPatch) -> None:
    body = uploaded(companion)
    token = body["link_token"]
    at_gateway = threading.Event()
    real_charge = SimulatorGateway.charge

    def slow_charge(self: SimulatorGateway, request: Any) -> Any:
        at_gateway.set()
        time.sleep(1.5)  # a slow bank
        return real_charge(self, request)

    monkeypatch.setattr(SimulatorGateway, "charge", slow_charge)
    first_phone, second_phone = companion.client(follow_redirects=False), companion.client(follow_redirects=False)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(first_phone.post, f"/pay/{token}/pay", data=form(companion, token, tip="2"))
        assert at_gateway.wait(10)
        same = second_phone.post(f"/pay/{token}/pay", data=form(companion, token, tip="2"))
        other = second_phone.post(f"/pay/{token}/pay", data=form(companion, token, tip="none"))
        assert first.result().status_code == 303
    # The same request while the first runs is shown that payment (processing), never charged again;
    # a different one is refused while the first runs.
    assert same.status_code == 303 and same.headers["location"] == first.result().headers["location"]
    assert other.status_code == 409 and "already being paid" in other.text
    assert charges(companion, body["invoice_id"]) == 1 and len(payment_rows(companion, body["invoice_id"])) == 1


# -- (13) the ticket was voided ----------------------------------------------------------------------------------
def test_a_revoked_link_is_no_longer_payable_at_once(companion: Companion) -> None:
    body = uploaded(companion)
    token = body["link_token"]
    phone = companion.client(follow_redirects=False)
    page = phone.get(f"/pay/{token}")
    assert page.status_code == 200
    csrf = csrf_of(page.text)
    assert companion.api.post(f"/api/v1/invoices/{body['invoice_id']}/revoke").status_code == 200
    # The very next requests, from a page still open on the phone:
    assert phone.get(f"/pay/{token}").status_code == 404
    assert phone.get(f"/pay/{token}/status").json()["state"] == "inactive"
    posted = phone.post(f"/pay/{token}/pay", data={**form(companion, token), "csrf": csrf})
    assert posted.status_code in (303, 404) and charges(companion, body["invoice_id"]) == 0
    assert payment_rows(companion, body["invoice_id"]) == []


# -- (14) the gateway fails: no double charge on retry -------------------------------------------------------------
class LoseConfirmAnswers:
    """ASGI wrapper of the fake Stripe: the next ``lose`` confirms are processed (the card is charged)
    and their answer replaced by a 500; ``refuse`` confirms are refused with a 500 before processing."""

    def __init__(self, fake: FakeStripe) -> None:
        self.fake = fake
        self.lose = 0
        self.refuse = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and re.fullmatch(r"/v1/payment_intents/[^/]+/confirm", scope["path"]):
            if self.lose:
                self.lose -= 1
                self.fake.fail_next(1, 500, after_processing=True)
            elif self.refuse:
                self.refuse -= 1
                self.fake.fail_next(1, 500)
        await self.fake.app(scope, receive, send)


@pytest.fixture
def stripe_shop(companion: Companion) -> Iterator[tuple[Companion, FakeStripe, LoseConfirmAnswers, str]]:
    """A Stripe store whose client has a saved card (paid once with the Payment Element and saved)."""
    with make_fake_stripe(webhook_secret=WHSEC) as fake:
        faults = LoseConfirmAnswers(fake)
        with serve_app(faults) as base:
            fake.webhook_url = f"{companion.url}/webhooks/stripe"
            connect_stripe(companion.api, base, WHSEC, key="reliability")
            first = uploaded(companion)
            token = first["link_token"]
            page = companion.client()
            fields = {"csrf": csrf_token(companion.config, hash_token(token)), "version": "1", "tip": "none", "save_card": "on"}
            intent = page.post(f"/pay/{token}/stripe/intent", data=fields).json()
            fake.confirm_from_browser(
                intent["client_secret"], "pm_card_visa", elements={"mode": "payment", "currency": "usd", "setupFutureUsage": "off_session"}
            )
            page.post(intent["sync_url"], data={"csrf": fields["csrf"]})
            second = uploaded(companion)
            card = re.search(r'name="card" value="([0-9a-f]{32})"', page.get(f"/pay/{second['link_token']}").text)
            assert card, "the saved card is offered"
            yield companion, fake, faults, card.group(1)


def paying_with_the_saved_card(companion: Companion, card: str) -> tuple[dict[str, Any], Callable[[], httpx.Response]]:
    """A new invoice, and the client's click on Pay with the saved ``card`` on its page (each call a click)."""
    body = uploaded(companion)
    token = body["link_token"]
    phone = companion.client(follow_redirects=False)
    return body, lambda: phone.post(f"/pay/{token}/pay", data=form(companion, token, card=card))


def test_a_lost_gateway_answer_is_looked_up_not_charged_again(stripe_shop: Any) -> None:
    companion, fake, faults, card = stripe_shop
    body, pay = paying_with_the_saved_card(companion, card)
    faults.lose = 1
    paid = pay()
    assert paid.status_code == 303 and "/payments/" in paid.headers["location"], paid.text[:300]
    retried = pay()  # the client clicks again
    assert retried.status_code == 303
    assert fake.charge_count(invoice_id=body["invoice_id"]) == 1
    assert companion.api.get(f"/api/v1/invoices/{body['invoice_id']}").json()["status"] == "paid"


def test_a_gateway_500_charges_nothing_and_the_retry_charges_once(stripe_shop: Any) -> None:
    companion, fake, faults, card = stripe_shop
    body, pay = paying_with_the_saved_card(companion, card)
    faults.refuse = 1
    failed = pay()
    assert failed.status_code in (402, 502) and "You were not charged" in failed.text, failed.text[:500]
    assert fake.charge_count(invoice_id=body["invoice_id"]) == 0
    again = pay()
    assert again.status_code == 303, again.text[:500]
    assert fake.charge_count(invoice_id=body["invoice_id"]) == 1
    assert companion.api.get(f"/api/v1/invoices/{body['invoice_id']}").json()["status"] == "paid"
