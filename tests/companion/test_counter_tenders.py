"""Money taken at the counter goes through the payments ledger: it lowers what the invoice's link
charges, under the same lock, once per tender id; and when the client pays online at the moment the
cashier takes cash, no more than was due is ever kept silently (SQLite and PostgreSQL)."""

from __future__ import annotations

import concurrent.futures
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from posdesk.core.money import Money
from posdesk.core.ticket import Payment, PaymentMethod
from tests.companion.conftest import Companion, invoice_upload, product_line, put_invoice, service_line
from tests.companion.test_ledger_invariants import (
    APPROVES,
    V1_TOTAL,
    Phone,
    events,
    eventually,
    payments_of,
    taken,
    ticket,
)
from tests.companion.test_tenders import tender


def counter(invoice: dict[str, Any], amount: int, method: str = "cash", tender_id: str = "") -> dict[str, Any]:
    """What a terminal's outbox posts for a tender on an invoiced ticket."""
    named = {"id": tender_id} if tender_id else {}
    return tender(invoice["ticket_id"], amount, method, invoice_id=invoice["invoice_id"], **named)


def page_amount(companion: Companion, token: str) -> int:
    return int(companion.client().get(f"/pay/{token}/status").json()["due_now"])


def test_cash_at_the_counter_lowers_what_the_link_charges_once_per_tender(companion_any_db: Companion) -> None:
    companion = companion_any_db
    first = ticket(companion, V1_TOTAL)
    cash = counter(first, 2000)
    for _ in range(3):  # the outbox resends after lost answers
        assert companion.api.post("/api/v1/tenders", json=cash).status_code == 200
    [payment] = payments_of(companion, first["invoice_id"])
    assert (payment.id, payment.gateway, payment.status) == (cash["id"], "in_store", "succeeded")
    [partial] = events(companion, "invoice.partially_paid")
    assert partial["data"]["payment"]["id"] == cash["id"] and partial["data"]["balance_due"] == V1_TOTAL - 2000
    assert len(events(companion, "tender.recorded")) == 1
    assert page_amount(companion, first["link_token"]) == V1_TOTAL - 2000

    assert Phone(companion, first["link_token"]).pay(1, APPROVES).status_code == 303  # the rest online
    assert taken(companion, first["invoice_id"]) == V1_TOTAL - 2000
    [paid] = events(companion, "invoice.paid")
    assert paid["data"]["balance_due"] == 0
    other = {**cash, "amount": 2500}  # the same tender id with other figures
    assert companion.api.post("/api/v1/tenders", json=other).status_code == 409


def test_a_refund_of_a_counter_tender_goes_through_the_ledger(companion: Companion) -> None:
    first = ticket(companion, V1_TOTAL)
    cash = counter(first, 2000)
    companion.api.post("/api/v1/tenders", json=cash)
    path = f"/api/v1/tenders/{cash['id']}/refund"
    assert companion.api.post(path, json={"refunded_total": 500}).json()["refunded_total"] == 500
    assert companion.api.post(path, json={"refunded_total": 300}).json()["refunded_total"] == 500  # forward only
    [payment] = payments_of(companion, first["invoice_id"])
    assert payment.refunded_minor == 500
    [refunded] = events(companion, "payment.refunded")
    assert (refunded["data"]["payment_id"], refunded["data"]["refunded_total"]) == (cash["id"], 500)


def test_cash_taken_after_the_client_paid_online_is_kept_for_review(companion_any_db: Companion) -> None:
    companion = companion_any_db
    first = ticket(companion, V1_TOTAL)
    assert Phone(companion, first["link_token"]).pay(1, APPROVES).status_code == 303  # online, a moment first
    cash = counter(first, V1_TOTAL)  # the cashier had not seen it and took cash too
    assert companion.api.post("/api/v1/tenders", json=cash).status_code == 200
    [review] = events(companion, "payment.needs_review")
    assert review["data"]["payment_id"] == cash["id"] and review["data"]["overpaid"] == V1_TOTAL
    assert review["ticket_id"] == first["ticket_id"]
    assert taken(companion, first["invoice_id"]) == V1_TOTAL  # nothing refunded behind the manager's back
    online, at_counter = events(companion, "invoice.paid")  # both are on the ticket, for the manager to see
    assert at_counter["data"]["payment"]["id"] == cash["id"] != online["data"]["payment"]["id"]


def test_an_online_payment_that_lands_after_the_counter_settled_is_refunded_as_stale(
    companion_any_db: Companion,
) -> None:
    companion = companion_any_db
    first = ticket(companion, V1_TOTAL)
    phone = Phone(companion, first["link_token"])
    approve = phone.start_3ds(version=1)  # the client is at the bank's page for the whole amount...
    cash = counter(first, V1_TOTAL)  # ...when the cashier takes cash (before the POS revokes the link)
    assert companion.api.post("/api/v1/tenders", json=cash).status_code == 200
    phone.post(approve, outcome="approve")  # the bank approves: the charge goes through at the gateway
    [stale] = eventually(lambda: events(companion, "payment.refunded_stale"))
    assert stale["data"]["reason"] == "paid_at_counter" and stale["data"]["amount"] == V1_TOTAL
    assert eventually(lambda: taken(companion, first["invoice_id"]) == 0)  # given back to the card
    [paid] = events(companion, "invoice.paid")
    assert paid["data"]["payment"]["id"] == cash["id"]


def test_a_link_charges_the_card_surcharge_on_the_card_part_only(companion: Companion) -> None:
    settings = companion.api.get("/api/v1/settings").json()
    assert companion.api.put("/api/v1/settings", json={**settings, "surcharge_rate": "0.035"}).status_code == 200
    lines = [replace(service_line(price=8000), tax_rate=Decimal("0.0825")), product_line(price=2499)]  # net + tax $113.65 (docs/pricing.md)
    body = invoice_upload(lines=lines, surcharge_rate=Decimal("0.035"))
    answer = put_invoice(companion.api, body)
    assert answer.status_code in (200, 201), answer.text
    assert answer.json()["total"] == 11365  # the ticket's total, as the POS shows it before any card
    assert page_amount(companion, body["link_token"]) == 11365 + 398  # paid all by card: 3.5% of it

    cash = counter(body, 5000)
    assert companion.api.post("/api/v1/tenders", json=cash).status_code == 200
    assert page_amount(companion, body["link_token"]) == 6365 + 223  # never the cash x 3.5%
    page = companion.client().get(f"/pay/{body['link_token']}").text
    assert "$63.65" in page and "$2.23" in page and "$65.88" in page
    assert Phone(companion, body["link_token"]).pay(1, APPROVES).status_code == 303
    assert taken(companion, body["invoice_id"]) == 6588
    [paid] = events(companion, "invoice.paid")
    assert paid["data"]["balance_due"] == 0


@pytest.mark.parametrize("method", ["card", "gift_card"])
def test_a_counter_card_tender_counts_without_its_surcharge(companion: Companion, method: str) -> None:
    settings = companion.api.get("/api/v1/settings").json()
    companion.api.put("/api/v1/settings", json={**settings, "surcharge_rate": "0.035"})
    body = invoice_upload(lines=[service_line(price=10000)], surcharge_rate=Decimal("0.035"))
    assert put_invoice(companion.api, body).status_code in (200, 201)
    # $40.00 off the balance: on the counter terminal it is charged $41.40 (its surcharge on top).
    amount = 4140 if method == "card" else 4000
    assert companion.api.post("/api/v1/tenders", json=counter(body, amount, method)).status_code == 200
    assert page_amount(companion, body["link_token"]) == 6000 + 210


def test_a_terminal_that_did_not_invoice_the_ticket_pays_toward_its_invoice(companion: Companion) -> None:
    first = ticket(companion, V1_TOTAL)  # invoiced on terminal A
    cash = {**counter(first, 2500), "invoice_id": None}  # terminal B holds the ticket, not the invoice
    assert companion.api.post("/api/v1/tenders", json=cash).status_code == 200
    [payment] = payments_of(companion, first["invoice_id"])
    assert payment.id == cash["id"] and payment.status == "succeeded"
    assert page_amount(companion, first["link_token"]) == V1_TOTAL - 2500
    never_invoiced = {**counter(first, 700), "ticket_id": "walk-in-ticket", "invoice_id": None}
    assert companion.api.post("/api/v1/tenders", json=never_invoiced).status_code == 200
    assert len(payments_of(companion, first["invoice_id"])) == 1


def test_tips_on_a_link_after_cash_are_on_the_services_not_on_the_surcharge(companion: Companion) -> None:
    settings = companion.api.get("/api/v1/settings").json()
    companion.api.put("/api/v1/settings", json={**settings, "surcharge_rate": "0.035"})
    body = invoice_upload(lines=[service_line(price=10000)], surcharge_rate=Decimal("0.035"))
    assert put_invoice(companion.api, body).status_code in (200, 201)
    companion.api.post("/api/v1/tenders", json=counter(body, 4000))
    assert page_amount(companion, body["link_token"]) == 6000 + 210
    page = companion.client().get(f"/pay/{body['link_token']}").text
    # The $60.00 left is 60% of the $100.00 haircut: 20% of it is $12.00 (not 20% of $62.10).
    assert "<b>20%</b><small>$12.00</small>" in page


def test_cash_and_an_online_payment_at_the_same_moment_never_keep_more_than_due_silently(
    companion_any_db: Companion,
) -> None:
    companion = companion_any_db
    for _ in range(4):
        first = ticket(companion, V1_TOTAL)
        phone = Phone(companion, first["link_token"])
        cash = counter(first, V1_TOTAL)
        cashier = companion.client(headers=companion.terminal.headers)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            online = pool.submit(phone.pay, 1, APPROVES)
            at_counter = pool.submit(cashier.post, "/api/v1/tenders", json=cash)
            assert at_counter.result().status_code == 200
            online.result()

        def settled(invoice_id: str = first["invoice_id"]) -> bool:  # a stale success is refunded afterwards
            return all(p.status != "stale" or p.refunded_minor for p in payments_of(companion, invoice_id))

        assert eventually(settled)
        reviews = [e for e in events(companion, "payment.needs_review") if e["invoice_id"] == first["invoice_id"]]
        overpaid = sum(e["data"]["overpaid"] for e in reviews)
        kept = taken(companion, first["invoice_id"]) + V1_TOTAL  # the card's and the till's
        assert kept - V1_TOTAL == overpaid, (kept, reviews)  # any excess is in front of a manager


def test_a_tender_that_arrives_after_the_version_listing_it_is_counted_once(companion: Companion) -> None:
    first = ticket(companion, V1_TOTAL)
    cash = counter(first, 2000)
    # The POS re-issues the link listing the cash; the upload overtakes the tender in flight.
    listed = invoice_upload(
        lines=[service_line(price=V1_TOTAL)], version=2, invoice_id=first["invoice_id"],
        ticket_id=first["ticket_id"], link_token=first["link_token"],
        payments=[Payment(cash["id"], Money(2000, "USD"), Money(0, "USD"), PaymentMethod.CASH, datetime.now(UTC))],
    )  # fmt: skip
    assert put_invoice(companion.api, listed).status_code in (200, 201)
    assert companion.api.post("/api/v1/tenders", json=cash).status_code == 200
    assert page_amount(companion, first["link_token"]) == V1_TOTAL - 2000


def test_cash_on_a_ticket_whose_link_was_revoked_does_not_open_the_link_again(companion: Companion) -> None:
    first = ticket(companion, V1_TOTAL)
    assert companion.api.post(f"/api/v1/invoices/{first['invoice_id']}/revoke").status_code == 200
    assert companion.api.post("/api/v1/tenders", json=counter(first, 2000)).status_code == 200
    status = companion.api.get(f"/api/v1/invoices/{first['invoice_id']}").json()["status"]
    assert status == "revoked"
    page = companion.client().get(f"/pay/{first['link_token']}").text
    assert 'data-testid="pay-button"' not in page  # the client has nothing to pay there


def test_payments_not_listed_yet_are_counted_as_pricing_them_with_the_document_would() -> None:
    from posdesk.companion.payments.balance import with_paid
    from tests.unit.test_link_pricing import RATE, invoice, paid
    from tests.unit.test_link_pricing import ticket as priced_ticket

    document = invoice(priced_ticket(paid(5000, PaymentMethod.CASH)))
    for extra in (
        [paid(6588, PaymentMethod.ONLINE_CARD)],
        [paid(1000, PaymentMethod.CASH), paid(2070, PaymentMethod.CARD, "c2"), paid(3105, PaymentMethod.ONLINE_CARD)],
        [paid(99999, PaymentMethod.ONLINE_CARD)],  # more than due: the balance stops at zero
    ):
        assert with_paid(document.price(), extra, RATE) == document.price(also_paid=extra), extra


def test_cash_kept_for_review_is_given_back_at_the_counter_and_the_review_closes(companion: Companion) -> None:
    """Extra cash taken after the link was paid: the manager cannot "refund" it through a gateway, but
    "cash given back" records the counter refund through the ledger and closes the review."""
    from tests.companion.test_payment_review import kept, settle

    first = ticket(companion, V1_TOTAL)
    assert Phone(companion, first["link_token"]).pay(1, APPROVES).status_code == 303
    cash = counter(first, V1_TOTAL)
    assert companion.api.post("/api/v1/tenders", json=cash).status_code == 200
    [listed] = kept(companion)
    assert listed["method"] == "cash"
    for online_only in ("refund", "dismiss"):
        refused = settle(companion, listed["payment_id"], online_only)
        assert refused.status_code == 409
        assert refused.json()["detail"] == "Money taken at the counter is counted or given back at the counter"
    answer = settle(companion, listed["payment_id"], "given_back")
    assert answer.status_code == 200, answer.text
    assert answer.json()["settled_as"] == "given_back" and answer.json()["refunded_total"] == V1_TOTAL
    assert kept(companion) == []
    payment = next(p for p in payments_of(companion, first["invoice_id"]) if p.gateway == "in_store")
    assert (payment.status, payment.refunded_minor) == ("refunded", V1_TOTAL)
    assert taken(companion, first["invoice_id"]) == V1_TOTAL  # the online payment still pays the invoice
    [refunded] = events(companion, "payment.refunded")
    assert (refunded["data"]["payment_id"], refunded["data"]["refunded_total"]) == (cash["id"], V1_TOTAL)
    again = companion.api.post(f"/api/v1/tenders/{cash['id']}/refund", json={"refunded_total": V1_TOTAL})
    assert again.json()["refunded_total"] == V1_TOTAL  # the tender agrees: the terminal's own refund is a no-op
    assert len(events(companion, "payment.refunded")) == 1
    assert settle(companion, listed["payment_id"], "given_back").status_code == 409  # settled already


def test_cash_kept_for_review_refunded_in_full_at_the_counter_closes_the_review(companion: Companion) -> None:
    from tests.companion.test_payment_review import kept

    first = ticket(companion, V1_TOTAL)
    assert Phone(companion, first["link_token"]).pay(1, APPROVES).status_code == 303
    cash = counter(first, V1_TOTAL)
    assert companion.api.post("/api/v1/tenders", json=cash).status_code == 200
    path = f"/api/v1/tenders/{cash['id']}/refund"
    assert companion.api.post(path, json={"refunded_total": 1000}).status_code == 200
    assert len(kept(companion)) == 1  # part of it handed back: still for the manager
    assert companion.api.post(path, json={"refunded_total": V1_TOTAL}).status_code == 200
    assert kept(companion) == []
    [settled] = events(companion, "payment.review_settled")
    assert settled["data"]["settled_as"] == "given_back" and settled["data"]["refunded_total"] == V1_TOTAL
