"""Webhook events are answered at once and applied in batches: each once, none lost, none undone.

Posted over HTTP to a real companion, whose one applier task applies what the route stored.
"""

from __future__ import annotations

import uuid

import httpx

from posdesk.companion.models import Payment, WebhookEvent
from posdesk.companion.payments import gateway_directory
from posdesk.companion.webhooks import pipeline
from posdesk.gateways.simulator import SIGNATURE_HEADER
from tests.companion.conftest import Companion, invoice_upload
from tests.companion.test_webhooks import (
    TOTAL,
    events,
    eventually,
    payment_event,
    post,
    rows,
    signed,
    uploaded,
)


def test_a_burst_with_duplicates_pays_each_invoice_once_and_keeps_the_unknown_one(
    companion: Companion, client: httpx.Client
) -> None:
    invoices = [uploaded(companion) for _ in range(4)]
    unknown = invoice_upload()  # never uploaded: its payment must wait, not vanish
    raws = [
        payment_event(companion, invoice, ref=f"pi_sim_{i}", payment_id=uuid.uuid4().hex)
        for i, invoice in enumerate([*invoices, unknown])
    ]
    answers = [post(client, raw, signed(companion, raw)) for raw in raws + raws[:3]]  # three repeated
    assert [a.status_code for a in answers] == [200] * 8
    assert [a.json()["duplicate"] for a in answers] == [False] * 5 + [True] * 3
    assert eventually(lambda: len(events(companion, "invoice.paid")) == 4)
    paid = events(companion, "invoice.paid")
    assert sorted(e["invoice_id"] for e in paid) == sorted(i["invoice_id"] for i in invoices)
    assert all(e["data"]["payment"]["amount"] == TOTAL for e in paid)
    assert len(rows(companion, Payment)) == 4 and len(rows(companion, WebhookEvent)) == 5
    [kept] = [r for r in rows(companion, WebhookEvent) if r.processed_at is None]
    assert kept.attempts == 1 and "not known yet" in kept.last_error


def test_an_event_that_fails_to_apply_is_kept_and_the_rest_of_its_batch_commits(companion: Companion) -> None:
    first, second = uploaded(companion), uploaded(companion)
    stored = []
    for i, invoice in enumerate((first, None, second)):
        if invoice is None:  # an event whose payload cannot be read (stored as is: nothing races it)
            with companion.db.write() as session:
                bad = WebhookEvent(gateway="simulator", event_id="evt_unreadable", event_type="payment.succeeded", payload={"payment": {"not": "a payment"}})
                session.add(bad)
                session.flush()
                stored.append(bad.id)
            continue
        raw = payment_event(companion, invoice, ref=f"pi_sim_b{i}", payment_id=uuid.uuid4().hex)
        event = pipeline.verify(companion.db, gateway_directory(companion.app.state), "simulator", raw, {SIGNATURE_HEADER: signed(companion, raw)})
        stored.append(pipeline.store(companion.db, "simulator", event))
    pipeline.apply_new(companion.db)
    paid = {e["invoice_id"] for e in events(companion, "invoice.paid")}
    assert paid == {first["invoice_id"], second["invoice_id"]}
    [kept] = [r for r in rows(companion, WebhookEvent) if r.processed_at is None]
    assert kept.id == stored[1] and kept.attempts == 1 and kept.last_error.startswith("error:")
