"""Tenders taken at a terminal's counter, recorded at the companion once, told to every terminal, and
counted in the store's day summary with the online payments, tips by provider and refunds."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from posdesk.companion.models import Event, Payment
from tests.companion.conftest import Companion, PairedTerminal, invoice_upload, put_invoice, service_line
from tests.companion.test_webhooks import events, eventually, payment_event, post, rows, signed


def tender(ticket_id: str, amount: int = 1500, method: str = "cash", **extra: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "ticket_id": ticket_id,
        "invoice_id": None,
        "method": method,
        "amount": amount,
        "tip": 0,
        "currency": "USD",
        "reference": "",
        "received_at": datetime.now(UTC).isoformat(),
        **extra,
    }


def test_a_tender_is_stored_once_and_told_to_every_terminal(companion: Companion) -> None:
    body = tender("t1")
    first = companion.api.post("/api/v1/tenders", json=body)
    again = companion.api.post("/api/v1/tenders", json=body)  # the outbox resends after a lost answer
    assert first.status_code == again.status_code == 200
    [event] = events(companion, "tender.recorded")
    assert event["ticket_id"] == "t1" and event["data"]["payment"]["amount"] == 1500
    assert event["data"]["payment"]["method"] == "cash"
    reused = companion.api.post("/api/v1/tenders", json={**body, "amount": 999})
    assert reused.status_code == 409


def test_tenders_are_refused_when_they_make_no_sense(companion: Companion) -> None:
    assert companion.api.post("/api/v1/tenders", json=tender("t1", amount=0)).status_code == 422
    assert companion.api.post("/api/v1/tenders", json=tender("t1", method="iou")).status_code == 422
    assert companion.api.post("/api/v1/tenders", json=tender("t1", currency="EUR")).status_code == 422
    assert companion.client().post("/api/v1/tenders", json=tender("t1")).status_code == 401


def test_a_tender_refund_moves_forward_only_and_stays_in_its_store(
    companion: Companion, other_terminal: PairedTerminal
) -> None:
    body = tender("t2", amount=2000)
    companion.api.post("/api/v1/tenders", json=body)
    path = f"/api/v1/tenders/{body['id']}/refund"
    assert companion.api.post(path, json={"refunded_total": 500}).json()["refunded_total"] == 500
    assert companion.api.post(path, json={"refunded_total": 500}).json()["refunded_total"] == 500
    assert companion.api.post(path, json={"refunded_total": 300}).json()["refunded_total"] == 500
    assert companion.api.post(path, json={"refunded_total": 2001}).status_code == 422
    [event] = events(companion, "payment.refunded")
    assert (event["data"]["payment_id"], event["data"]["refunded_total"]) == (body["id"], 500)
    stranger = companion.client(headers=other_terminal.headers)
    assert stranger.post(path, json={"refunded_total": 600}).status_code == 404


def paid_online_with_a_tip(companion: Companion, client: httpx.Client) -> tuple[dict[str, Any], Payment]:
    """An invoice for Rosa's $60.00 haircut and Sam's $30.00 color; $50.00 of it paid online with a
    $9.00 tip (a signed webhook). The invoice's upload and the payment's row."""
    lines = [service_line("Haircut", 6000), replace(service_line("Color", 3000), staff="Sam")]
    invoice = invoice_upload(lines=lines)
    assert put_invoice(companion.api, invoice).status_code in (200, 201)
    raw = payment_event(companion, invoice, amount=5000, tip=900)
    assert post(client, raw, signed(companion, raw)).status_code == 200
    [online] = eventually(lambda: [p for p in rows(companion, Payment) if p.status == "succeeded"])
    return invoice, online


def test_the_day_summary_counts_online_payments_tenders_tips_by_provider_and_refunds(
    companion: Companion, client: httpx.Client
) -> None:
    invoice, _ = paid_online_with_a_tip(companion, client)
    cash = tender(invoice["ticket_id"], amount=4000, invoice_id=invoice["invoice_id"])
    companion.api.post("/api/v1/tenders", json=cash)
    companion.api.post(f"/api/v1/tenders/{cash['id']}/refund", json={"refunded_total": 1000})
    companion.api.post("/api/v1/tenders", json=tender("t9", amount=700, method="card"))
    yesterday = tender("t8", amount=111, received_at=(datetime.now(UTC) - timedelta(days=1)).isoformat())
    companion.api.post("/api/v1/tenders", json=yesterday)

    today = datetime.now(UTC).date().isoformat()
    summary = companion.api.get("/api/v1/day-summary", params={"day": today, "tz": "UTC"}).json()
    assert summary["source"] == "companion"
    assert summary["tenders"] == {"online_card": 5000, "cash": 4000, "card": 700}
    assert summary["tips"] == 900 and summary["tips_by_provider"] == {"Rosa": 600, "Sam": 300}
    assert summary["refunds"] == 1000
    assert (
        companion.api.get("/api/v1/day-summary", params={"day": today, "tz": "Mars/Base"}).status_code == 422
    )


def test_a_refund_counts_on_the_day_it_was_made_not_the_day_of_the_payment(companion: Companion) -> None:
    now = datetime.now(UTC)
    day_1, day_2 = (now - timedelta(days=1)).date().isoformat(), now.date().isoformat()
    taken = tender("t7", amount=3000, received_at=(now - timedelta(days=1)).isoformat())  # day 1
    companion.api.post("/api/v1/tenders", json=taken)
    path = f"/api/v1/tenders/{taken['id']}/refund"
    companion.api.post(path, json={"refunded_total": 500})
    with companion.db.write() as session:  # that first refund was made on day 1, at the counter
        for event in session.query(Event).filter(Event.type == "payment.refunded"):
            event.created_at = now - timedelta(days=1)
    companion.api.post(path, json={"refunded_total": 1200})  # $7.00 more on day 2

    def summary(day: str) -> dict[str, Any]:
        return companion.api.get("/api/v1/day-summary", params={"day": day, "tz": "UTC"}).json()

    first, second = summary(day_1), summary(day_2)
    assert first["tenders"] == {"cash": 3000} and first["refunds"] == 500
    assert second["tenders"] == {} and second["refunds"] == 700


def test_the_tip_part_of_a_counter_refund_is_within_the_refund_and_the_tip_paid(companion: Companion) -> None:
    taken = tender("t_tip", 1500, tip=300)
    assert companion.api.post("/api/v1/tenders", json=taken).status_code == 200
    path = f"/api/v1/tenders/{taken['id']}/refund"
    above_refund = companion.api.post(path, json={"refunded_total": 200, "refunded_tip_total": 250})
    assert above_refund.status_code == 422
    assert above_refund.json()["detail"] == "The tip part of a refund is at least zero and at most the refund"
    above_tip = companion.api.post(path, json={"refunded_total": 1800, "refunded_tip_total": 400})
    assert above_tip.status_code == 422
    assert above_tip.json()["detail"] == "The tip part of a refund is at most the tip paid, $3.00"
    assert events(companion, "payment.refunded") == []  # nothing was refunded by either
    assert companion.api.post(path, json={"refunded_total": 500, "refunded_tip_total": 300}).status_code == 200
    [refunded] = events(companion, "payment.refunded")
    assert (refunded["data"]["refunded_total"], refunded["data"]["refunded_tip_total"]) == (500, 300)
