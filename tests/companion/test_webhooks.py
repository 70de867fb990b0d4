"""``POST /webhooks/simulator``: verified on the raw body, stored once, applied forward only.

Events are made and signed the way the Simulator makes them and posted over HTTP to a real companion.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from posdesk.companion.models import Invoice, Payment, WebhookEvent
from posdesk.companion.payments import gateway_directory
from posdesk.companion.webhooks import pipeline
from posdesk.gateways.base import GatewayEvent
from posdesk.gateways.signing import sign
from posdesk.gateways.simulator import SIGNATURE_HEADER
from tests.companion.conftest import Companion, events, eventually, invoice_upload, put_invoice
from tests.companion.test_ledger_invariants import simulator_event

TOTAL = 8165  # the default test invoice: $60 haircut + $20 shampoo + tax


def uploaded(companion: Companion, **kwargs: Any) -> dict[str, Any]:
    body = invoice_upload(**kwargs)
    assert put_invoice(companion.api, body).status_code in (200, 201)
    return body


def payment_event(
    companion: Companion,
    invoice: dict[str, Any],
    *,
    status: str = "succeeded",
    payment_id: str | None = None,
    ref: str = "pi_sim_1",
    amount: int = TOTAL,
    tip: int = 0,
    currency: str = "USD",
    version: int = 1,
    event_id: str | None = None,
) -> bytes:
    """A Simulator webhook for a card payment on ``invoice`` (the default test invoice's total)."""
    return simulator_event(
        companion, invoice, status=status, payment_id=payment_id or "p" * 32, ref=ref, amount=amount, tip=tip,
        currency=currency, version=version, event_id=event_id, method_ref="pm_sim_visa_4242_ok_1239_abcdefabcdef",
        message="Your card was declined" if status == "failed" else "",
    )  # fmt: skip


def post(client: httpx.Client, raw: bytes, header: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers[SIGNATURE_HEADER] = header
    return client.post("/webhooks/simulator", content=raw, headers=headers)


def signed(companion: Companion, raw: bytes, timestamp: int | None = None) -> str:
    return sign(companion.config.simulator_webhook_secret, raw, timestamp)


def rows(companion: Companion, model: type) -> list[Any]:
    with companion.db.read() as session:
        found = list(session.query(model).all())
        session.expunge_all()
        return found


def test_five_concurrent_deliveries_make_one_payment_and_one_event(companion: Companion, client: httpx.Client) -> None:
    invoice = uploaded(companion)
    raw = payment_event(companion, invoice)
    header = signed(companion, raw)
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(lambda _: post(companion.client(), raw, header), range(5)))
    assert [a.status_code for a in answers] == [200] * 5
    assert sum(1 for a in answers if not a.json()["duplicate"]) == 1
    assert eventually(lambda: events(companion, "invoice.paid"))
    time.sleep(0.3)  # let any (wrong) second application land before counting
    assert len(events(companion, "invoice.paid")) == 1
    assert len(rows(companion, Payment)) == 1 and len(rows(companion, WebhookEvent)) == 1
    [paid] = events(companion, "invoice.paid")
    assert paid["data"]["payment"]["amount"] == TOTAL and paid["data"]["balance_due"] == 0


def test_two_event_types_for_one_payment_make_one_payment(companion: Companion, client: httpx.Client) -> None:
    invoice = uploaded(companion)
    for status in ("processing", "succeeded", "succeeded"):
        raw = payment_event(companion, invoice, status=status)
        assert post(client, raw, signed(companion, raw)).status_code == 200
    assert eventually(lambda: events(companion, "invoice.paid"))
    assert len(rows(companion, Payment)) == 1 and len(rows(companion, WebhookEvent)) == 3
    assert len(events(companion, "invoice.paid")) == 1


def test_a_late_failure_never_undoes_a_payment(companion: Companion, client: httpx.Client) -> None:
    invoice = uploaded(companion)
    for status in ("succeeded", "failed"):
        raw = payment_event(companion, invoice, status=status)
        assert post(client, raw, signed(companion, raw)).status_code == 200
        # Webhooks are applied after the 2xx answer; "late" means the success was applied first.
        eventually(lambda: all(r.processed_at for r in rows(companion, WebhookEvent)))
    assert eventually(lambda: all(r.processed_at for r in rows(companion, WebhookEvent)) and len(rows(companion, WebhookEvent)) == 2)
    [payment] = rows(companion, Payment)
    assert payment.status == "succeeded"
    assert [i.status for i in rows(companion, Invoice)] == ["paid"]
    assert events(companion, "payment.failed") == []


@pytest.mark.parametrize(
    "make_header",
    [
        lambda c, raw: None,
        lambda c, raw: "t=1,v1=deadbeef",
        lambda c, raw: sign("another-secret-" + "z" * 30, raw),
        lambda c, raw: sign(c.config.simulator_webhook_secret, raw, int(time.time()) - 301),
        lambda c, raw: sign(c.config.simulator_webhook_secret, json.dumps(json.loads(raw), indent=2).encode()),
    ],
    ids=["missing-header", "bad-signature", "wrong-secret", "old-timestamp", "reserialised-body"],
)
def test_events_that_do_not_verify_are_refused_and_write_nothing(
    companion: Companion, client: httpx.Client, make_header: Callable[[Companion, bytes], str | None]
) -> None:
    invoice = uploaded(companion)
    raw = payment_event(companion, invoice)
    response = post(client, raw, make_header(companion, raw))
    assert response.status_code == 400
    assert rows(companion, WebhookEvent) == [] and rows(companion, Payment) == []
    assert events(companion, "invoice.paid") == []


def test_an_event_before_its_invoice_is_kept_and_applied_later(companion: Companion, client: httpx.Client) -> None:
    later = invoice_upload()
    raw = payment_event(companion, later)
    assert post(client, raw, signed(companion, raw)).status_code == 200
    [kept] = eventually(lambda: [r for r in rows(companion, WebhookEvent) if r.attempts])
    assert kept.processed_at is None and "not known yet" in kept.last_error
    assert put_invoice(companion.api, later).status_code in (200, 201)
    assert pipeline.retry_pending(companion.db) == 1
    [paid] = events(companion, "invoice.paid")
    assert paid["invoice_id"] == later["invoice_id"]


@pytest.mark.parametrize(
    "changes",
    [{"amount": 100}, {"tip": 5000}, {"version": 2}],
    ids=["amount", "tip", "version"],
)
def test_figures_that_differ_from_the_record_are_not_applied(
    companion: Companion, client: httpx.Client, changes: dict[str, Any]
) -> None:
    invoice = uploaded(companion)
    first = payment_event(companion, invoice, status="requires_action")
    assert post(client, first, signed(companion, first)).status_code == 200
    assert eventually(lambda: rows(companion, Payment))
    tampered = payment_event(companion, invoice, **changes)
    assert post(client, tampered, signed(companion, tampered)).status_code == 200
    assert eventually(lambda: any("review" in r.last_error for r in rows(companion, WebhookEvent)))
    [payment] = rows(companion, Payment)
    assert payment.status == "requires_action"
    assert events(companion, "invoice.paid") == []


def test_unknown_gateway_endpoint_is_404(client: httpx.Client) -> None:
    assert client.post("/webhooks/paypal", content=b"{}").status_code == 404
    assert client.post("/webhooks/simulator/no-such-store", content=b"{}").status_code == 404


def test_a_2xx_answer_means_the_event_is_already_stored(companion: Companion, client: httpx.Client) -> None:
    invoice = uploaded(companion)
    raw = payment_event(companion, invoice, event_id="evt_stored_before_answer")
    assert post(client, raw, signed(companion, raw)).status_code == 200
    # Read at once, with no waiting: the answer is sent only after the commit that holds the event.
    assert [r.event_id for r in rows(companion, WebhookEvent)] == ["evt_stored_before_answer"]


def test_a_burst_of_concurrent_deliveries_is_answered_once_each_and_pays_each_invoice_once(
    companion: Companion, client: httpx.Client
) -> None:
    invoices = [uploaded(companion) for _ in range(6)]
    raws = [payment_event(companion, invoice, ref=f"pi_sim_burst_{i}", payment_id=uuid.uuid4().hex) for i, invoice in enumerate(invoices)]
    deliveries = [(raw, signed(companion, raw)) for raw in raws * 3]  # every event three times, at once
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda d: post(companion.client(), *d), deliveries))
    assert [a.status_code for a in answers] == [200] * 18
    firsts = [raw for (raw, _h), a in zip(deliveries, answers, strict=True) if not a.json()["duplicate"]]
    assert sorted(firsts) == sorted(raws)  # one first delivery per event, every other one a duplicate
    assert eventually(lambda: len(events(companion, "invoice.paid")) == 6)
    time.sleep(0.3)  # let any (wrong) second application land before counting
    assert sorted(e["invoice_id"] for e in events(companion, "invoice.paid")) == sorted(i["invoice_id"] for i in invoices)
    assert len(rows(companion, Payment)) == 6 and len(rows(companion, WebhookEvent)) == 6


def test_a_group_with_an_event_that_cannot_be_stored_stores_the_others(companion: Companion) -> None:
    first, second = uploaded(companion), uploaded(companion)
    directory = gateway_directory(companion.app.state)

    def verified(invoice: dict[str, Any], ref: str) -> GatewayEvent:
        raw = payment_event(companion, invoice, ref=ref, payment_id=uuid.uuid4().hex)
        return pipeline.verify(companion.db, directory, "simulator", raw, {SIGNATURE_HEADER: signed(companion, raw)})

    good, other = verified(first, "pi_sim_g1"), verified(second, "pi_sim_g2")
    bad = replace(verified(first, "pi_sim_g3"), payload={"id": "evt_bad", "unstorable": {1, 2}})  # a set: no JSON
    outcomes = pipeline.store_many(companion.db, [("simulator", e) for e in (good, bad, other, good)])
    assert isinstance(outcomes[0], int) and isinstance(outcomes[2], int)
    assert isinstance(outcomes[1], Exception)  # answered with an error, so the gateway sends it again
    assert outcomes[3] is None  # the same event twice in one group: the second is a duplicate
    assert sorted(r.event_id for r in rows(companion, WebhookEvent)) == sorted([good.event_id, other.event_id])
    pipeline.apply_new(companion.db)
    paid = {e["invoice_id"] for e in events(companion, "invoice.paid")}
    assert paid == {first["invoice_id"], second["invoice_id"]}


def test_an_event_that_could_not_be_stored_is_not_acknowledged(
    companion: Companion, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*_args: Any) -> Any:
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(pipeline, "store_many", failing)
    monkeypatch.setattr(pipeline, "store", failing)
    invoice = uploaded(companion)
    raw = payment_event(companion, invoice)
    answer = post(client, raw, signed(companion, raw))
    assert answer.status_code == 503  # a 5xx: the gateway delivers it again later
    assert rows(companion, WebhookEvent) == [] and rows(companion, Payment) == []


def test_the_retry_pass_can_leave_new_events_to_the_batches(companion: Companion, monkeypatch: pytest.MonkeyPatch) -> None:
    retry_pending, apply_some = pipeline.retry_pending, pipeline.apply_some
    for name in ("retry_pending", "apply_some"):  # the app's writer task does nothing meanwhile
        monkeypatch.setattr(pipeline, name, lambda *_a, **_k: 0)
    kept_invoice, new_invoice = invoice_upload(), uploaded(companion)
    directory = gateway_directory(companion.app.state)
    stored = []
    for invoice, ref in ((kept_invoice, "pi_sim_k1"), (new_invoice, "pi_sim_k2")):
        raw = payment_event(companion, invoice, ref=ref, payment_id=uuid.uuid4().hex)
        event = pipeline.verify(companion.db, directory, "simulator", raw, {SIGNATURE_HEADER: signed(companion, raw)})
        stored.append(pipeline.store(companion.db, "simulator", event))
        if invoice is kept_invoice:
            assert pipeline.process(companion.db, stored[0]) is False  # tried: its invoice is not known yet
    assert put_invoice(companion.api, kept_invoice).status_code in (200, 201)
    assert retry_pending(companion.db, tried_only=True) == 1
    assert {e["invoice_id"] for e in events(companion, "invoice.paid")} == {kept_invoice["invoice_id"]}
    assert apply_some(companion.db) == 1  # the never-tried one, in a batch
    assert {e["invoice_id"] for e in events(companion, "invoice.paid")} == {kept_invoice["invoice_id"], new_invoice["invoice_id"]}
