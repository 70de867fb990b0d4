"""A gateway report kept for review that names no payment the companion recorded is listed for the manager
with what it said and why, and the manager marks it handled with a note, once (handling it again changes
nothing), told to every terminal.

A real companion (uvicorn on loopback) with the Simulator gateway, as in test_ledger_invariants.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.companion.conftest import Companion
from tests.companion.test_ledger_invariants import (
    V1_TOTAL,
    deliver,
    events,
    eventually,
    payments_of,
    simulator_event,
    ticket,
)


def reports(companion: Companion, ticket_id: str | None = None, headers: Any = None) -> list[dict[str, Any]]:
    api = companion.client(headers=headers) if headers else companion.api
    answer = api.get("/api/v1/payments/review", params={"ticket_id": ticket_id} if ticket_id else {})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["reports"])


def handle(companion: Companion, report_id: str, note: str, headers: Any = None) -> Any:
    api = companion.client(headers=headers) if headers else companion.api
    return api.post(f"/api/v1/payments/reports/{report_id}/handled", json={"note": note})


@pytest.mark.parametrize(
    ("figures", "why"),
    [
        ({"amount": -500}, "amount"),
        ({"amount": 60000}, "balance"),
        ({"version": 99}, "version '99' was never issued"),
        ({"currency": "EUR"}, "currency EUR differs"),
    ],
    ids=["amount-minus-500", "amount-60000", "version-99", "currency-EUR"],
)
def test_a_report_for_a_payment_never_issued_is_listed_and_handled_once(
    companion: Companion, figures: dict[str, int], why: str
) -> None:
    first = ticket(companion, V1_TOTAL)
    deliver(companion, simulator_event(companion, first, ref="pi_sim_unknown", **figures))
    [listed] = eventually(lambda: reports(companion))
    assert why in listed["reason"]
    assert listed["reference"] == "pi_sim_unknown" and listed["gateway"] == "simulator"
    assert listed["amount"] == figures.get("amount", V1_TOTAL) and listed["currency"] == figures.get("currency", "USD")
    assert (listed["invoice_id"], listed["ticket_id"]) == (first["invoice_id"], first["ticket_id"])
    assert [r["report_id"] for r in reports(companion, first["ticket_id"])] == [listed["report_id"]]
    [raised] = events(companion, "payment.needs_review")
    assert raised["data"]["report_id"] == listed["report_id"] and raised["ticket_id"] == first["ticket_id"]
    assert payments_of(companion, first["invoice_id"]) == []  # nothing recorded, nothing counted

    assert handle(companion, listed["report_id"], "  ").status_code == 422  # a note says what was done
    answer = handle(companion, listed["report_id"], "Not on our Simulator dashboard: nothing taken")
    assert answer.status_code == 200, answer.text
    assert answer.json()["handled"] is True and answer.json()["note"] == "Not on our Simulator dashboard: nothing taken"
    assert reports(companion) == []
    again = handle(companion, listed["report_id"], "another note")
    assert again.status_code == 200 and again.json()["note"] == "Not on our Simulator dashboard: nothing taken"
    [settled] = events(companion, "payment.review_settled")  # told once
    assert settled["data"]["report_id"] == listed["report_id"] and settled["data"]["settled_as"] == "handled"
    assert settled["ticket_id"] == first["ticket_id"]
    assert events(companion, "invoice.paid") == [] and events(companion, "invoice.partially_paid") == []


def test_the_same_report_delivered_again_is_kept_once(companion: Companion) -> None:
    first = ticket(companion, V1_TOTAL)
    raw = simulator_event(companion, first, amount=-500)
    deliver(companion, raw)
    deliver(companion, raw)
    eventually(lambda: reports(companion))
    assert len(reports(companion)) == 1 and len(events(companion, "payment.needs_review")) == 1


def test_a_report_naming_another_stores_invoice_is_kept_for_the_store_that_sent_it(
    companion: Companion, other_terminal: Any
) -> None:
    """Store B's verified event names store A's invoice: B's manager sees it (without A's ticket); A's
    terminals see nothing of it and cannot handle it."""
    from dataclasses import replace

    from posdesk.companion.payments import gateway_directory
    from posdesk.companion.webhooks import pipeline
    from posdesk.gateways.signing import sign
    from posdesk.gateways.simulator import SIGNATURE_HEADER

    first = ticket(companion, V1_TOTAL)
    raw = simulator_event(companion, first, store_id=other_terminal.store_id)
    headers = {SIGNATURE_HEADER: sign(companion.config.simulator_webhook_secret, raw)}
    event = pipeline.verify(companion.db, gateway_directory(companion.app.state), "simulator", raw, headers)
    row_id = pipeline.store(companion.db, "simulator", replace(event, verified_for=other_terminal.store_id))
    assert row_id is not None and pipeline.process(companion.db, row_id) is True
    [listed] = eventually(lambda: reports(companion, headers=other_terminal.headers))
    assert "another store" in listed["reason"] and listed["ticket_id"] == "" and listed["invoice_id"] == ""
    assert reports(companion) == []
    assert handle(companion, listed["report_id"], "checked").status_code == 404
    assert handle(companion, listed["report_id"], "checked", headers=other_terminal.headers).status_code == 200
