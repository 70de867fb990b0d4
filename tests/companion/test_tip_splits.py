"""A manager's tip split saved on a terminal: kept by the companion (the last one wins), told to the
other terminals, and used by the store's day summary for tips by provider."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from tests.companion.conftest import Companion, PairedTerminal
from tests.companion.test_tenders import paid_online_with_a_tip, tender
from tests.companion.test_webhooks import events


def by_provider(companion: Companion) -> dict[str, int]:
    today = datetime.now(UTC).date().isoformat()
    summary = companion.api.get("/api/v1/day-summary", params={"day": today, "tz": "UTC"}).json()
    return summary["tips_by_provider"]


def test_a_saved_split_replaces_the_default_in_the_day_summary_and_reaches_the_other_terminals(
    companion: Companion, client: httpx.Client
) -> None:
    invoice, online = paid_online_with_a_tip(companion, client)
    cash = tender("t-cash", amount=1000, tip=500)  # no invoice: the companion does not know its lines
    companion.api.post("/api/v1/tenders", json=cash)
    assert by_provider(companion) == {"Rosa": 600, "Sam": 300, "Unassigned": 500}

    body = {"ticket_id": invoice["ticket_id"], "currency": "USD", "shares": {"Rosa": 400, "Sam": 500}}
    assert companion.api.post(f"/api/v1/tip-splits/{online.id}", json=body).status_code == 200
    cash_split = {"ticket_id": "t-cash", "currency": "USD", "shares": {"Sam": 200, "Lee": 300}}
    assert companion.api.post(f"/api/v1/tip-splits/{cash['id']}", json=cash_split).status_code == 200
    assert by_provider(companion) == {"Rosa": 400, "Sam": 700, "Lee": 300}
    [first, _second] = events(companion, "tip.split")
    assert first["ticket_id"] == invoice["ticket_id"]
    assert first["data"] == {"payment_id": online.id, "currency": "USD", "shares": {"Rosa": 400, "Sam": 500}}

    back = {**body, "shares": None}  # the manager went back to the default split
    assert companion.api.post(f"/api/v1/tip-splits/{online.id}", json=back).status_code == 200
    assert by_provider(companion) == {"Rosa": 600, "Sam": 500, "Lee": 300}


def test_a_split_that_does_not_add_up_is_not_used_and_bad_shares_are_refused(
    companion: Companion, other_terminal: PairedTerminal
) -> None:
    cash = tender("t-1", amount=1000, tip=500)
    companion.api.post("/api/v1/tenders", json=cash)
    path = f"/api/v1/tip-splits/{cash['id']}"
    for shares in ({"Sam": -1}, {"Sam": 1.5}, {"": 500}, {"Sam": True}):
        answer = companion.api.post(path, json={"ticket_id": "t-1", "currency": "USD", "shares": shares})
        assert answer.status_code == 422, shares
    assert companion.api.post(path, json={"ticket_id": "t-1", "currency": "EUR", "shares": None}).status_code == 422
    # A split saved for a tip that later differs is not believed: the default applies.
    companion.api.post(path, json={"ticket_id": "t-1", "currency": "USD", "shares": {"Sam": 400}})
    assert by_provider(companion) == {"Unassigned": 500}
    stranger = companion.client(headers=other_terminal.headers)
    assert stranger.post(path, json={"ticket_id": "t-1", "currency": "USD", "shares": None}).status_code == 404


def test_the_tip_part_of_a_refund_is_told_to_every_terminal_within_what_was_refunded(
    companion: Companion, other_terminal: PairedTerminal
) -> None:
    cash = tender("t-2", amount=1000, tip=500)
    companion.api.post("/api/v1/tenders", json=cash)
    companion.api.post(f"/api/v1/tenders/{cash['id']}/refund", json={"refunded_total": 300})
    path = f"/api/v1/tips/{cash['id']}/refunded"
    assert companion.api.post(path, json={"ticket_id": "t-2", "refunded_tip_total": 400}).status_code == 422
    assert companion.api.post(path, json={"ticket_id": "t-2", "refunded_tip_total": 300}).status_code == 200
    [event] = events(companion, "tip.refunded")
    assert event["ticket_id"] == "t-2" and event["data"] == {"payment_id": cash["id"], "refunded_tip_total": 300}
    assert companion.api.post("/api/v1/tips/nope/refunded", json={"ticket_id": "x", "refunded_tip_total": 0}).status_code == 404
    stranger = companion.client(headers=other_terminal.headers)
    assert stranger.post(path, json={"ticket_id": "t-2", "refunded_tip_total": 0}).status_code == 404


def test_tips_by_provider_are_net_of_refunded_tips_in_the_split_s_proportions(companion: Companion) -> None:
    cash = tender("t-3", amount=1000, tip=500)
    companion.api.post("/api/v1/tenders", json=cash)
    split = {"ticket_id": "t-3", "currency": "USD", "shares": {"Sam": 200, "Lee": 300}}
    companion.api.post(f"/api/v1/tip-splits/{cash['id']}", json=split)
    refund = f"/api/v1/tenders/{cash['id']}/refund"
    companion.api.post(refund, json={"refunded_total": 101, "refunded_tip_total": 101})
    # $1.01 off $2.00 and $3.00: 40.4 and 60.6 cents, the odd cent to the largest remainder.
    assert by_provider(companion) == {"Sam": 160, "Lee": 239}
    companion.api.post(refund, json={"refunded_total": 300})  # parts not said: the tip part stays
    companion.api.post(f"/api/v1/tips/{cash['id']}/refunded", json={"ticket_id": "t-3", "refunded_tip_total": 250})
    assert by_provider(companion) == {"Sam": 100, "Lee": 150}


def test_a_refund_beyond_the_amount_whose_parts_nobody_said_comes_off_the_tip(companion: Companion) -> None:
    cash = tender("t-4", amount=1000, tip=500)
    companion.api.post("/api/v1/tenders", json=cash)
    companion.api.post(f"/api/v1/tenders/{cash['id']}/refund", json={"refunded_total": 1100})
    assert by_provider(companion) == {"Unassigned": 400}
