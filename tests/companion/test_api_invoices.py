"""``PUT/GET /api/v1/invoices/{id}`` and ``POST .../revoke``: upload, re-pricing, versions, expiry."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from posdesk.companion.invoices import expire_due_invoices
from posdesk.companion.models import Event, Invoice, InvoiceStatus, Payment, PaymentStatus
from posdesk.core.pricing import Promotion
from posdesk.core.ticket import Coverage
from tests.companion.conftest import (
    Companion,
    PairedTerminal,
    invoice_upload,
    product_line,
    put_invoice,
    same_invoice,
    service_line,
)


def events_of(companion: Companion) -> list[dict[str, Any]]:
    return companion.api.get("/api/v1/events").json()["events"]


def test_upload_stores_the_invoice_and_tells_every_terminal(companion: Companion) -> None:
    body = invoice_upload()
    response = put_invoice(companion.api, body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == answer["link_status"] == "sent"
    assert answer["version"] == 1
    assert answer["ticket_id"] == body["ticket_id"]
    # Haircut 60.00 (no tax) + shampoo 20.00 with 8.25% tax = 81.65
    assert answer["total"] == answer["amount_due"] == answer["balance_due"] == 8165
    assert answer["payments"] == []
    got = companion.api.get(f"/api/v1/invoices/{body['invoice_id']}").json()
    assert got == answer
    (event,) = events_of(companion)
    assert event["type"] == "invoice.updated"
    assert event["invoice_id"] == body["invoice_id"]
    assert event["ticket_id"] == body["ticket_id"]
    data = event["data"]
    assert (data["version"], data["status"]) == (1, "sent")
    # Other terminals of the store build their copy of the ticket from the document; never the token.
    body_without_token = {k: v for k, v in body.items() if k != "link_token"}
    assert data["document"] == body_without_token
    assert body["link_token"] not in str(event)


def test_the_companion_stores_only_the_hash_of_the_link_token(companion: Companion) -> None:
    body = invoice_upload()
    put_invoice(companion.api, body)
    with companion.db.read() as session:
        invoice = session.get(Invoice, body["invoice_id"])
        assert invoice.token_hash != body["link_token"]
        assert body["link_token"] not in str(invoice.document)


def test_the_same_version_again_gets_the_same_answer_and_changes_nothing(companion_any_db: Companion) -> None:
    api = companion_any_db.api
    body = invoice_upload()
    first = put_invoice(api, body)
    second = put_invoice(api, body)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert len(events_of(companion_any_db)) == 1


def test_concurrent_first_uploads_of_one_invoice_make_one_invoice(companion_any_db: Companion) -> None:
    body = invoice_upload()
    statuses: list[int] = []

    def upload() -> None:
        with companion_any_db.client(headers=companion_any_db.terminal.headers) as own:
            statuses.append(put_invoice(own, body).status_code)

    threads = [threading.Thread(target=upload) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 6
    assert [e["type"] for e in events_of(companion_any_db)] == ["invoice.updated"]


def test_the_same_version_with_other_content_is_refused_as_a_reused_key(companion: Companion) -> None:
    body = invoice_upload()
    put_invoice(companion.api, body)
    changed = same_invoice(body, version=1, lines=[service_line(price=9000)])
    response = put_invoice(companion.api, changed)
    assert response.status_code == 422
    assert "Version 1 was already uploaded" in response.json()["detail"]
    assert companion.api.get(f"/api/v1/invoices/{body['invoice_id']}").json()["total"] == 8165


def test_a_newer_version_replaces_the_invoice_and_an_older_one_is_refused(
    companion_any_db: Companion,
) -> None:
    api = companion_any_db.api
    v1 = invoice_upload()
    ids = {"invoice_id": v1["invoice_id"], "ticket_id": v1["ticket_id"], "link_token": v1["link_token"]}
    put_invoice(api, v1)
    v2 = invoice_upload(**ids, version=2, lines=[service_line(price=7500)])
    response = put_invoice(api, v2)
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2
    assert response.json()["amount_due"] == 7500
    assert put_invoice(api, v2).json() == response.json()  # retried v2: same answer

    old = put_invoice(api, invoice_upload(**ids, version=1, lines=[service_line(price=100)]))
    assert old.status_code == 409
    assert old.json()["current_version"] == 2
    # A late retry of the exact v1 upload is still recognised as already applied, not a conflict.
    assert put_invoice(api, v1).status_code == 200
    assert api.get(f"/api/v1/invoices/{v1['invoice_id']}").json()["version"] == 2
    updates = [e["data"] for e in events_of(companion_any_db)]
    assert [(u["version"], u["status"], u["document"]["version"]) for u in updates] == [(1, "sent", 1), (2, "sent", 2)]


def test_totals_that_differ_from_the_companion_pricing_are_refused_with_the_difference(
    api: httpx.Client,
) -> None:
    body = invoice_upload()
    body["totals"] = {**body["totals"], "total": 8000, "balance_due": 8000}
    response = put_invoice(api, body)
    assert response.status_code == 422
    assert response.json()["difference"] == {
        "total": {"claimed": 8000, "computed": 8165},
        "balance_due": {"claimed": 8000, "computed": 8165},
    }
    assert api.get(f"/api/v1/invoices/{body['invoice_id']}").status_code == 404


def test_an_invoice_priced_with_another_surcharge_is_refused(api: httpx.Client) -> None:
    response = put_invoice(api, invoice_upload(surcharge_rate=Decimal("0.03")))
    assert response.status_code == 422
    assert response.json()["difference"] == {"surcharge_rate": {"claimed": "0.03", "computed": "0"}}


def test_the_store_surcharge_is_part_of_the_price(api: httpx.Client) -> None:
    settings = api.get("/api/v1/settings").json()
    assert api.put("/api/v1/settings", json={**settings, "surcharge_rate": "0.03"}).status_code == 200
    response = put_invoice(api, invoice_upload(surcharge_rate=Decimal("0.03")))
    assert response.status_code == 200, response.text
    # Per tender: the ticket's total has no surcharge until a card pays; the link is paid by card, so
    # it asks the total and 3% of it (81.65 -> 2.4495, half-up 2.45).
    assert response.json()["total"] == 8165
    assert response.json()["amount_due"] == 8165 + 245


def test_promo_codes_are_priced_with_the_store_promotions(api: httpx.Client) -> None:
    spring = Promotion(code="SPRING10", name="Spring", percent=Decimal("0.10"))
    body = invoice_upload(promo_codes=["SPRING10"], promotions={"SPRING10": spring})
    unknown = put_invoice(api, body)
    assert unknown.status_code == 422  # the companion does not know SPRING10 yet
    assert "promos" in unknown.json()["difference"]

    promotions = {"promotions": [{"code": "spring10", "name": "Spring", "percent": "0.10"}]}
    assert api.put("/api/v1/promotions", json=promotions).status_code == 200
    response = put_invoice(api, body)
    assert response.status_code == 200, response.text
    assert response.json()["total"] == body["totals"]["total"] < 8165


def test_a_partial_amount_is_what_the_client_is_asked_to_pay(api: httpx.Client) -> None:
    response = put_invoice(api, invoice_upload(amount_requested=3000))
    assert response.status_code == 200
    assert response.json()["amount_due"] == 3000
    assert response.json()["balance_due"] == 8165


@pytest.mark.parametrize("amount", [8166, 10**11])
def test_an_amount_above_the_balance_due_is_refused(api: httpx.Client, amount: int) -> None:
    body = invoice_upload()
    body["amount_requested"] = amount
    response = put_invoice(api, body)
    assert response.status_code == 422
    assert "amount_requested" in response.json()["detail"]


def test_a_fully_prepaid_invoice_has_nothing_due(api: httpx.Client) -> None:
    body = invoice_upload(lines=[service_line(prepaid=Coverage.PACKAGE)])
    response = put_invoice(api, body)
    assert response.status_code == 200, response.text
    assert response.json()["amount_due"] == response.json()["total"] == 0


def _tampered(
    change: dict[str, Any] | None = None, line_change: dict[str, Any] | None = None
) -> dict[str, Any]:
    body = invoice_upload()
    body.update(change or {})
    if line_change:
        body["lines"][0].update(line_change)
    return body


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (_tampered({"version": "2"}), "version"),
        (_tampered({"version": 0}), "version"),
        (_tampered({"currency": "XYZ"}), "currency"),
        (_tampered({"currency": "EUR"}), "currency"),
        (_tampered({"lines": "all of them"}), "lines"),
        (_tampered({"expires_at": "next tuesday"}), "expires_at"),
        (_tampered({"link_token": "short"}), "link_token"),
        (_tampered({"link_token": None}), "link_token"),
        (_tampered({"link_token": "a" * 30 + "/../" + "b" * 10}), "link_token"),
        (_tampered({"amount_requested": -100}), "amount_requested"),
        (_tampered({"amount_requested": 0}), "amount_requested"),
        (_tampered(line_change={"unit_price": -6000}), "unit_price"),
        (_tampered(line_change={"unit_price": 10**13}), "unit_price"),
        (_tampered(line_change={"unit_price": 60.5}), "unit_price"),
        (_tampered(line_change={"quantity": 10**6}), "lines[0]"),
        (_tampered(line_change={"kind": "spaceship"}), "kind"),
        (_tampered(line_change={"tax_rate": "NaN"}), "tax_rate"),
        (_tampered({"surcharge_rate": "1.5"}), "surcharge_rate"),
        (_tampered({"client": "Ana"}), "client"),
    ],
)
def test_bad_input_is_refused_with_422_naming_the_field(
    companion: Companion, body: dict[str, Any], named: str
) -> None:
    response = put_invoice(companion.api, body)
    assert response.status_code == 422, response.text
    assert named in response.json()["detail"]
    assert companion.api.get(f"/api/v1/invoices/{body['invoice_id']}").status_code == 404
    assert events_of(companion) == []


def test_non_object_bodies_are_refused(api: httpx.Client) -> None:
    assert api.put("/api/v1/invoices/abc", json=["not", "an", "invoice"]).status_code == 422
    bad_json = api.put("/api/v1/invoices/abc", content=b"{nope", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 422


def test_the_invoice_id_in_the_address_must_match_the_body(api: httpx.Client) -> None:
    body = invoice_upload()
    response = api.put("/api/v1/invoices/someotherid", json=body)
    assert response.status_code == 422
    assert "invoice_id" in response.json()["detail"]
    assert api.get("/api/v1/invoices/not%20an%20id").status_code == 422


def test_another_stores_invoices_answer_404(companion: Companion, other_terminal: PairedTerminal) -> None:
    body = invoice_upload()
    put_invoice(companion.api, body)
    other = companion.client(headers=other_terminal.headers)
    address = f"/api/v1/invoices/{body['invoice_id']}"
    assert other.get(address).status_code == 404
    assert other.post(f"{address}/revoke").status_code == 404
    newer = invoice_upload(invoice_id=body["invoice_id"], version=2)
    assert put_invoice(other, newer).status_code == 404
    assert other.get("/api/v1/events").json()["events"] == []
    assert companion.api.get(address).json()["status"] == "sent"


def test_a_link_token_cannot_move_to_another_invoice_or_change(api: httpx.Client) -> None:
    first = invoice_upload()
    put_invoice(api, first)
    stolen = invoice_upload(link_token=first["link_token"])
    response = put_invoice(api, stolen)
    assert response.status_code == 409
    assert "another invoice" in response.json()["detail"]

    changed = invoice_upload(invoice_id=first["invoice_id"], ticket_id=first["ticket_id"], version=2)
    response = put_invoice(api, changed)
    assert response.status_code == 409
    assert "cannot change" in response.json()["detail"]


def test_revoking_stops_the_link_once(companion_any_db: Companion) -> None:
    api = companion_any_db.api
    body = invoice_upload()
    put_invoice(api, body)
    revoked = api.post(f"/api/v1/invoices/{body['invoice_id']}/revoke")
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    assert api.post(f"/api/v1/invoices/{body['invoice_id']}/revoke").status_code == 200
    events = events_of(companion_any_db)
    assert [e["type"] for e in events] == ["invoice.updated", "link.revoked"]
    assert events[1]["data"] == {"version": 1}
    again = same_invoice(body)
    assert put_invoice(api, again).status_code == 409


def _mark_paid(companion: Companion, invoice_id: str, amount: int, *, full: bool) -> None:
    """What the payment side does when a charge succeeds (simulated here)."""
    with companion.db.write() as session:
        invoice = session.get(Invoice, invoice_id)
        invoice.paid_minor += amount
        invoice.status = (InvoiceStatus.PAID if full else InvoiceStatus.PARTIALLY_PAID).value
        session.add(
            Payment(
                id=f"pay{invoice.paid_minor}",
                store_id=invoice.store_id,
                invoice_id=invoice_id,
                invoice_version=invoice.version,
                gateway="simulator",
                gateway_payment_id=f"sim_{invoice.paid_minor}",
                idempotency_key=f"{invoice_id}:{invoice.version}:{invoice.paid_minor}",
                status=PaymentStatus.SUCCEEDED.value,
                amount_minor=amount,
                tip_minor=500,
                currency="USD",
                card_brand="visa",
                card_last4="4242",
                succeeded_at=datetime.now(UTC),
            )
        )


def test_a_paid_invoice_cannot_change_be_revoked_or_be_invoiced_again(companion: Companion) -> None:
    api = companion.api
    body = invoice_upload()
    put_invoice(api, body)
    _mark_paid(companion, body["invoice_id"], 8165, full=True)
    answer = api.get(f"/api/v1/invoices/{body['invoice_id']}").json()
    assert answer["status"] == "paid"
    (payment,) = answer["payments"]
    assert payment["amount"] == 8165
    assert payment["tip"] == 500
    assert (payment["card_brand"], payment["card_last4"], payment["method"]) == (
        "visa",
        "4242",
        "online_card",
    )
    assert payment["reference"] == "sim_8165"

    newer = same_invoice(body)
    assert put_invoice(api, newer).status_code == 409
    assert api.post(f"/api/v1/invoices/{body['invoice_id']}/revoke").status_code == 409
    assert put_invoice(api, invoice_upload(ticket_id=body["ticket_id"])).status_code == 409
    assert api.get(f"/api/v1/invoices/{body['invoice_id']}").json()["status"] == "paid"


def test_a_new_version_after_a_partial_payment_keeps_it_partially_paid(companion: Companion) -> None:
    api = companion.api
    body = invoice_upload(amount_requested=3000)
    put_invoice(api, body)
    _mark_paid(companion, body["invoice_id"], 3000, full=False)
    newer = same_invoice(body)
    response = put_invoice(api, newer)
    assert response.status_code == 200
    assert response.json()["status"] == "partially_paid"
    assert response.json()["paid"] == 3000


def test_links_expire_in_the_background_and_on_read(companion_any_db: Companion) -> None:
    api = companion_any_db.api
    soon, later = invoice_upload(), invoice_upload()
    put_invoice(api, soon)
    put_invoice(api, later)
    past = datetime.now(UTC) - timedelta(minutes=1)
    with companion_any_db.db.write() as session:
        session.get(Invoice, soon["invoice_id"]).expires_at = past
        session.get(Invoice, later["invoice_id"]).expires_at = past
    # On read: the terminal asking sees it expired at once.
    assert api.get(f"/api/v1/invoices/{soon['invoice_id']}").json()["status"] == "expired"
    # In the background: the sweep expires the other one, and never the same link twice.
    assert expire_due_invoices(companion_any_db.db) == 1
    assert expire_due_invoices(companion_any_db.db) == 0
    expired = [e for e in events_of(companion_any_db) if e["type"] == "link.expired"]
    assert sorted(e["invoice_id"] for e in expired) == sorted([soon["invoice_id"], later["invoice_id"]])
    assert all(e["data"] == {"version": 1} for e in expired)


def test_an_expired_link_is_reopened_by_a_newer_version(api: httpx.Client) -> None:
    body = invoice_upload(expires_at=datetime.now(UTC) - timedelta(hours=1))
    response = put_invoice(api, body)
    assert response.status_code == 200
    assert response.json()["status"] == "expired"  # sat in the outbox past its expiry
    newer = same_invoice(body)
    reopened = put_invoice(api, newer)
    assert reopened.json()["status"] == "sent"
    assert datetime.fromisoformat(reopened.json()["expires_at"]) > datetime.now(UTC)


def test_walk_in_invoices_are_accepted(api: httpx.Client) -> None:
    response = put_invoice(api, invoice_upload(client=None, lines=[product_line()]))
    assert response.status_code == 200
    assert response.json()["amount_due"] == 2165


def test_nothing_is_written_by_a_refused_upload(companion: Companion) -> None:
    body = invoice_upload()
    body["totals"]["tax"] += 1
    put_invoice(companion.api, body)
    with companion.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Invoice)) == 0
        assert session.scalar(select(func.count()).select_from(Event)) == 0
