"""A payment kept for review is listed for the manager with why, and the manager settles it: counted toward
the invoice, refunded, or dismissed as not charged, each only when the gateway's answer allows it.

A real companion (uvicorn on loopback) with the Simulator gateway, as in test_ledger_invariants.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from posdesk.companion.models import utcnow
from posdesk.companion.payments import gateway_directory, reconcile
from posdesk.gateways.base import ChargeStatus, Unavailable
from posdesk.gateways.simulator import APPROVES, SimulatorGateway
from tests.companion.conftest import Companion
from tests.companion.test_ledger_invariants import (
    V1_TOTAL,
    Phone,
    deliver,
    events,
    eventually,
    payments_of,
    simulator,
    simulator_event,
    taken,
    ticket,
)


def kept(companion: Companion, ticket_id: str | None = None) -> list[dict[str, Any]]:
    answer = companion.api.get("/api/v1/payments/review", params={"ticket_id": ticket_id} if ticket_id else {})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["payments"])


def settle(companion: Companion, payment_id: str, decision: str, api: httpx.Client | None = None) -> httpx.Response:
    return (api or companion.api).post(f"/api/v1/payments/{payment_id}/review", json={"decision": decision})


def lost_for_an_hour(companion: Companion, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A charge whose answer was lost and that the gateway has no record of an hour later (kept for review)."""
    first = ticket(companion, V1_TOTAL)
    pay_and_lose_the_answer_for_an_hour(companion, monkeypatch, first["link_token"])
    return first


def pay_and_lose_the_answer_for_an_hour(companion: Companion, monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    """The client pays link ``token``; the gateway's answer is lost, and an hour later it has no record of
    the charge: reconciliation keeps the payment for a manager's review."""

    def lost(self: SimulatorGateway, request: Any) -> Any:
        raise Unavailable("The payment service did not answer")

    with monkeypatch.context() as patch:
        patch.setattr(SimulatorGateway, "charge", lost)
        Phone(companion, token).pay(1, APPROVES)
    monkeypatch.setattr(SimulatorGateway, "forgets_on_restart", lambda self: False)
    later = utcnow() + reconcile.ABANDONED_AFTER + timedelta(minutes=1)
    reconcile.reconcile(companion.db, gateway_directory(companion.app.state), now=later)


def taken_quietly_with_a_disagreeing_report(companion: Companion) -> tuple[dict[str, Any], str]:
    """The card was charged at the gateway (its webhook lost), and the one report that came disagrees."""
    first = ticket(companion, V1_TOTAL)
    Phone(companion, first["link_token"]).start_3ds(1)
    [payment] = payments_of(companion, first["invoice_id"])
    ref = payment.gateway_payment_id or ""
    books = simulator(companion).ledger
    with books.lock:
        books.update(ref, status=ChargeStatus.SUCCEEDED, action={})  # the bank approved; no webhook told
    deliver(companion, simulator_event(companion, first, payment_id=payment.id, ref=ref, amount=1))
    eventually(lambda: events(companion, "payment.needs_review"))
    return first, payment.id


def test_a_payment_kept_for_review_is_listed_with_why(companion: Companion, monkeypatch: pytest.MonkeyPatch) -> None:
    first = lost_for_an_hour(companion, monkeypatch)
    [payment] = payments_of(companion, first["invoice_id"])
    [listed] = kept(companion, first["ticket_id"])
    assert listed["payment_id"] == payment.id and listed["ticket_id"] == first["ticket_id"]
    assert listed["amount"] == V1_TOTAL and listed["status"] == "processing"
    assert "may have been charged" in listed["reason"]
    assert kept(companion, "another-ticket") == []


def test_an_unknown_outcome_the_gateway_never_charged_is_dismissed_and_the_link_pays_again(
    companion: Companion, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = lost_for_an_hour(companion, monkeypatch)
    [payment] = payments_of(companion, first["invoice_id"])
    refused = settle(companion, payment.id, "count")
    assert refused.status_code == 409 and "does not confirm" in refused.json()["detail"]
    assert settle(companion, payment.id, "refund").status_code == 409
    answer = settle(companion, payment.id, "dismiss")
    assert answer.status_code == 200, answer.text
    assert answer.json()["settled_as"] == "dismissed" and answer.json()["status"] == "failed"
    [settled] = events(companion, "payment.review_settled")
    assert settled["ticket_id"] == first["ticket_id"] and settled["data"]["decision"] == "dismiss"
    assert kept(companion) == []
    assert settle(companion, payment.id, "dismiss").status_code == 409  # settled once
    page = companion.client(follow_redirects=False).get(f"/pay/{first['link_token']}")
    assert page.status_code == 200 and 'name="sim_number"' in page.text  # no longer "Checking…"


def test_money_the_gateway_took_is_counted_toward_the_invoice_not_dismissed(companion_any_db: Companion) -> None:
    companion = companion_any_db  # SQLite and PostgreSQL
    first, payment_id = taken_quietly_with_a_disagreeing_report(companion)
    assert events(companion, "invoice.paid") == []
    refused = settle(companion, payment_id, "dismiss")
    assert refused.status_code == 409 and "was taken" in refused.json()["detail"]
    answer = settle(companion, payment_id, "count")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "succeeded"
    [paid] = events(companion, "invoice.paid")
    assert paid["data"]["payment"]["id"] == payment_id and paid["data"]["balance_due"] == 0
    [settled] = events(companion, "payment.review_settled")
    assert settled["data"]["settled_as"] == "counted" and paid["id"] < settled["id"]
    assert taken(companion, first["invoice_id"]) == V1_TOTAL


def test_money_the_gateway_took_is_refunded_and_never_counted(companion: Companion) -> None:
    first, payment_id = taken_quietly_with_a_disagreeing_report(companion)
    answer = settle(companion, payment_id, "refund")
    assert answer.status_code == 200, answer.text
    assert answer.json()["refunded_total"] == V1_TOTAL and answer.json()["status"] == "stale"
    assert taken(companion, first["invoice_id"]) == 0  # the card got its money back
    [given_back] = events(companion, "payment.refunded_stale")
    assert given_back["data"]["reason"] == "review"
    assert events(companion, "invoice.paid") == [] and events(companion, "invoice.partially_paid") == []
    [settled] = events(companion, "payment.review_settled")
    assert settled["data"]["settled_as"] == "refunded"


def test_another_stores_terminal_cannot_see_or_settle_it(
    companion: Companion, other_terminal: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = lost_for_an_hour(companion, monkeypatch)
    [payment] = payments_of(companion, first["invoice_id"])
    other = companion.client(headers=other_terminal.headers)
    assert other.get("/api/v1/payments/review").json()["payments"] == []
    assert settle(companion, payment.id, "dismiss", api=other).status_code == 404
    assert [p["payment_id"] for p in kept(companion)] == [payment.id]


def test_cash_taken_after_the_invoice_was_paid_online_is_kept_and_the_manager_keeps_it(companion: Companion) -> None:
    from tests.companion.test_tenders import tender

    first = ticket(companion, V1_TOTAL)
    assert Phone(companion, first["link_token"]).pay(1, APPROVES).status_code == 303
    cash = tender(first["ticket_id"], 2000, invoice_id=first["invoice_id"])
    assert companion.api.post("/api/v1/tenders", json=cash).status_code == 200
    [listed] = eventually(lambda: kept(companion, first["ticket_id"]))
    assert "after the invoice was paid" in listed["reason"]
    refused = settle(companion, listed["payment_id"], "dismiss")
    assert refused.status_code == 409 and "given back at the counter" in refused.json()["detail"]
    answer = settle(companion, listed["payment_id"], "count")
    assert answer.status_code == 200 and answer.json()["settled_as"] == "counted"
    assert kept(companion) == []


def charged_but_unfound_for_an_hour(
    companion: Companion, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, Any], dict[str, Any], datetime]:
    """The charge goes through but its answer and its webhook are lost, and the gateway cannot find it
    for an hour: reconciliation keeps it for review as unknown. The ticket, the payment listed for review,
    and the moment an hour later (the gateway finds the charge again from here on)."""
    first = ticket(companion, V1_TOTAL)
    charge = SimulatorGateway.charge

    def charged_but_lost(self: SimulatorGateway, request: Any) -> Any:
        charge(self, request)
        raise Unavailable("The payment service did not answer")

    with monkeypatch.context() as patch:
        patch.setattr(SimulatorGateway, "charge", charged_but_lost)
        patch.setattr(SimulatorGateway, "find_attempt", lambda self, keys: None)  # not found yet
        patch.setattr(SimulatorGateway, "_send", lambda self, *a, **kw: None)  # its webhook lost too
        Phone(companion, first["link_token"]).pay(1, APPROVES)
        patch.setattr(SimulatorGateway, "forgets_on_restart", lambda self: False)
        later = utcnow() + reconcile.ABANDONED_AFTER + timedelta(minutes=1)
        reconcile.reconcile(companion.db, gateway_directory(companion.app.state), now=later)
        [listed] = kept(companion)
    return first, listed, later


def test_a_late_answer_from_the_gateway_settles_an_unknown_outcome_on_its_own(
    companion: Companion, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The charge went through but its answer was lost, and the gateway could not find it for an hour
    (kept for review); when reconciliation finds it, the payment counts and the review closes."""
    _, listed, later = charged_but_unfound_for_an_hour(companion, monkeypatch)
    reconcile.reconcile(companion.db, gateway_directory(companion.app.state), now=later)  # found now
    assert kept(companion) == []
    [paid] = events(companion, "invoice.paid")
    assert paid["data"]["payment"]["id"] == listed["payment_id"]
    [settled] = events(companion, "payment.review_settled")
    assert settled["data"]["settled_as"] == "found" and settled["data"]["status"] == "succeeded"
    assert settle(companion, listed["payment_id"], "dismiss").status_code == 409


def test_two_managers_settling_one_payment_at_once_get_one_decision_that_matches_the_money(
    companion_any_db: Companion, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two managers at two terminals settle the same payment at the same moment: one counts it, the other
    asks to refund it. The one who came second is told it was settled meanwhile, never "refunded" while
    the money stays counted toward the invoice."""
    import threading

    companion = companion_any_db  # SQLite and PostgreSQL
    from concurrent.futures import ThreadPoolExecutor

    first, payment_id = taken_quietly_with_a_disagreeing_report(companion)
    lookup = SimulatorGateway.lookup
    count_asked, refund_asked, count_done = threading.Event(), threading.Event(), threading.Event()

    def both_ask_before_either_decides(self: SimulatorGateway, *args: Any, **kwargs: Any) -> Any:
        if not count_asked.is_set():
            count_asked.set()
            assert refund_asked.wait(10)
        else:
            refund_asked.set()
            assert count_done.wait(10)
        return lookup(self, *args, **kwargs)

    monkeypatch.setattr(SimulatorGateway, "lookup", both_ask_before_either_decides)
    with ThreadPoolExecutor(2) as pool:
        counting = pool.submit(settle, companion, payment_id, "count", companion.client(headers=companion.api.headers))
        assert count_asked.wait(10)
        refunding = pool.submit(settle, companion, payment_id, "refund", companion.client(headers=companion.api.headers))
        counted = counting.result(timeout=30)
        count_done.set()
        refused = refunding.result(timeout=30)
    assert counted.status_code == 200 and counted.json()["settled_as"] == "counted", counted.text
    assert refused.status_code == 409, refused.text
    assert taken(companion, first["invoice_id"]) == V1_TOTAL  # counted, and kept
    assert [s["data"]["settled_as"] for s in events(companion, "payment.review_settled")] == ["counted"]


def test_the_gateways_late_webhook_settles_an_unknown_outcome_as_reconciliation_does(
    companion: Companion, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The charge went through, its answer and webhook were lost, and the gateway could not find it for an
    hour (kept for review as unknown); the gateway's webhook, sent again later, counts the payment and
    closes the review: the manager is not left a "needs review" on a payment that is paid."""
    from tests.companion.test_ledger_invariants import deliver, simulator_event

    first, listed, _ = charged_but_unfound_for_an_hour(companion, monkeypatch)
    books = simulator(companion).ledger
    with books.lock:
        [charged] = [p for p in books.payments.values() if p.metadata.get("invoice_id") == first["invoice_id"]]
    deliver(companion, simulator_event(companion, first, ref=charged.ref, payment_id=listed["payment_id"]))
    [paid] = eventually(lambda: events(companion, "invoice.paid"))
    assert paid["data"]["payment"]["id"] == listed["payment_id"]
    assert kept(companion) == []
    [settled] = events(companion, "payment.review_settled")
    assert settled["data"]["settled_as"] == "found" and settled["data"]["status"] == "succeeded"
