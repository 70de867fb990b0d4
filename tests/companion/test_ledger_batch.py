"""The ledger's batch form (``posdesk.companion.payments.ledger_batch``) leaves the database exactly as the
ledger applying the same reports one at a time does, on SQLite and PostgreSQL: the same payments,
invoice totals and statuses, POS events, and webhook rows kept for review.

Two stores of one companion get the same mixed batch (new and known payments, a partial payment, two
payments of one invoice, a disagreeing amount, a success then a refund, an unknown invoice, a decline,
a payment reported again under a new event id); one store's batch is applied with the batch form, the
other's with the batch form turned off, and the outcomes are compared label by label.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from posdesk.companion.models import Event, Invoice, Payment, PaymentStatus, WebhookEvent
from posdesk.companion.payments import ledger_batch
from posdesk.companion.webhooks import pipeline
from posdesk.core.money import Money
from posdesk.gateways.base import ChargeStatus, GatewayPayment, RefundUpdate, payment_to_wire, refund_to_wire
from tests.companion.conftest import Companion, PairedTerminal, add_store, invoice_upload, put_invoice
from tests.companion.test_webhooks import TOTAL

INVOICES = ("paid", "partial", "known", "disagrees", "twice", "refunded", "declined", "again")


def _report(tag: str, store_id: str, invoice_id: str, label: str, *, status: ChargeStatus = ChargeStatus.SUCCEEDED, amount: int = TOTAL, payment: str | None = None) -> dict[str, Any]:
    result = GatewayPayment(
        ref=f"pi_{tag}_{label}", status=status, amount=Money(amount, "USD"), tip=Money(0, "USD"),
        metadata={"store_id": store_id, "invoice_id": invoice_id, "invoice_version": "1",
                  "payment_id": f"{tag}{payment or label}", "kind": "invoice"},
        card_brand="visa", card_last4="4242", message="Declined" if status is ChargeStatus.FAILED else "",
    )  # fmt: skip
    return {"payment": payment_to_wire(result)}


def _scenario(companion: Companion, terminal: PairedTerminal, tag: str) -> dict[str, str]:
    """Store ``terminal``'s store's batch (not applied); invoice id by label."""
    api = companion.client(headers=terminal.headers)
    ids = {}
    for label in INVOICES:
        body = invoice_upload()
        assert put_invoice(api, body).status_code in (200, 201)
        ids[label] = body["invoice_id"]
    store = terminal.store_id
    with companion.db.write() as session:  # a payment the page started (pending) and one already paid
        for label, status in (("known", PaymentStatus.PENDING), ("disagrees", PaymentStatus.PENDING), ("again", PaymentStatus.SUCCEEDED)):
            session.add(Payment(
                id=f"{tag}{label}", store_id=store, invoice_id=ids[label], invoice_version=1, gateway="simulator",
                gateway_payment_id=f"pi_{tag}_{label}" if label == "again" else None,
                idempotency_key=f"key-{tag}-{label}", status=status.value, amount_minor=TOTAL, currency="USD",
            ))  # fmt: skip
    payloads = [
        _report(tag, store, ids["paid"], "paid"),
        _report(tag, store, ids["partial"], "partial", amount=3000),
        _report(tag, store, ids["known"], "known"),
        _report(tag, store, ids["disagrees"], "disagrees", amount=TOTAL + 1),
        _report(tag, store, ids["twice"], "twice-1", amount=3000),
        _report(tag, store, ids["twice"], "twice-2", amount=TOTAL - 3000),
        _report(tag, store, ids["refunded"], "refunded"),
        {"refund": refund_to_wire(RefundUpdate(f"pi_{tag}_refunded", Money(TOTAL, "USD")))},
        _report(tag, store, "never-uploaded-" + tag, "unknown"),
        _report(tag, store, ids["declined"], "declined", status=ChargeStatus.FAILED),
        _report(tag, store, ids["again"], "again"),
    ]
    with companion.db.write() as session:
        for n, payload in enumerate(payloads):
            session.add(WebhookEvent(gateway="simulator", event_id=f"evt_{tag}_{n}", event_type="payment", payload=payload))
    return ids


def _outcome(companion: Companion, store_id: str, ids: dict[str, str], tag: str) -> dict[str, Any]:
    label_of = {invoice_id: label for label, invoice_id in ids.items()}

    def plain(value: Any) -> Any:
        if isinstance(value, str):
            return label_of.get(value, value.replace(tag, "<tag>"))
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if k != "received_at"}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    with companion.db.read() as session:
        invoices = {label_of[i.id]: (i.status, i.paid_minor, i.tip_minor) for i in session.scalars(select(Invoice).where(Invoice.store_id == store_id))}
        payments = sorted(
            (plain(p.id), label_of[p.invoice_id], p.status, p.amount_minor, plain(p.gateway_payment_id), p.card_last4,
             p.refunded_minor, p.failure_message, p.succeeded_at is not None, p.payment_method_ref)
            for p in session.scalars(select(Payment).where(Payment.store_id == store_id))
        )  # fmt: skip
        events = sorted(
            (e.type, plain(e.invoice_id), repr(plain(e.data)))
            for e in session.scalars(select(Event).where(Event.store_id == store_id))
            if e.type.startswith(("invoice.paid", "invoice.partially_paid", "payment.", "tip."))
        )
        seqs = [e.seq for e in session.scalars(select(Event).where(Event.store_id == store_id).order_by(Event.seq))]
        hooks = sorted(
            (plain(w.event_id), w.processed_at is not None, w.attempts, w.last_error)
            for w in session.scalars(select(WebhookEvent).where(WebhookEvent.event_id.like(f"evt_{tag}_%")))
        )
    return {
        "invoices": invoices,
        "payments": payments,
        "events": events,
        "seqs are 1..n": seqs == list(range(1, len(seqs) + 1)),
        "webhooks": hooks,
    }


@pytest.mark.parametrize("batch_size", [100, 4])
def test_the_batch_form_leaves_what_the_ledger_one_at_a_time_leaves(
    make_companion: Callable[[str], Companion], db_url: str, monkeypatch: pytest.MonkeyPatch, batch_size: int
) -> None:
    companion = make_companion(db_url)
    batched, alone = companion.terminal, add_store(companion.app, "Second Salon")
    taken = []
    apply_successes = ledger_batch.apply_successes

    def counting(*args: Any, **kwargs: Any) -> set[Any]:
        done = apply_successes(*args, **kwargs)
        taken.extend(done)
        return done

    monkeypatch.setattr(ledger_batch, "apply_successes", counting)
    ids_batched = _scenario(companion, batched, "Xb")
    pipeline.apply_new(companion.db, batch_size)
    assert len(taken) >= 3, "the plain successes went through the batch form"

    monkeypatch.setattr(ledger_batch, "apply_successes", lambda *args, **kwargs: set())
    ids_alone = _scenario(companion, alone, "Xa")
    pipeline.apply_new(companion.db, batch_size)

    got = _outcome(companion, batched.store_id, ids_batched, "Xb")
    expected = _outcome(companion, alone.store_id, ids_alone, "Xa")
    for key in expected:
        assert got[key] == expected[key], key
    assert got["invoices"]["paid"][0] == "paid" and got["invoices"]["partial"][0] == "partially_paid"
    assert got["invoices"]["disagrees"][1] == 0  # the report disagreeing with the record changed nothing
    assert len(got["events"]) >= 6
    assert any("review" in last_error for *_, last_error in got["webhooks"])
