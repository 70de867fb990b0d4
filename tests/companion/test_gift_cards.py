"""Gift cards sold through the POS at the companion: issued once by code, each use lowers the balance
once (by its id), every terminal is told the new balance, and a store sees only its own cards."""

from __future__ import annotations

from posdesk.core.gift_cards import gift_card_code
from tests.companion.conftest import Companion, PairedTerminal
from tests.companion.test_webhooks import events

CODE = gift_card_code("line-1")


def sold(amount: int = 5000, code: str = CODE) -> dict:
    return {"code": code, "amount": amount, "currency": "USD", "ticket_id": "t1", "client_id": "c_bob"}


def use(use_id: str, amount: int) -> dict:
    return {"use_id": use_id, "amount": amount, "currency": "USD", "ticket_id": "t2"}


def test_a_card_is_issued_once_used_once_per_use_and_every_terminal_hears_the_balance(companion: Companion) -> None:
    api = companion.api
    assert api.post("/api/v1/gift-cards", json=sold()).json()["balance"] == 5000
    assert api.post("/api/v1/gift-cards", json=sold()).status_code == 200  # the outbox sent it again
    assert api.post("/api/v1/gift-cards", json=sold(amount=9999)).status_code == 409
    path = f"/api/v1/gift-cards/{CODE}/uses"
    assert api.post(path, json=use("u1", 1944)).json()["balance"] == 3056
    assert api.post(path, json=use("u1", 1944)).json()["balance"] == 3056  # the same use again: once
    assert api.get(f"/api/v1/gift-cards/{CODE.lower()}").json()["balance"] == 3056  # as typed at a counter
    assert api.post(path, json=use("u2", 5000)).json()["balance"] == 0  # money taken on an older balance
    assert api.post(path, json=use("u3", -500)).json()["balance"] == 500  # a refund put back onto the card
    assert api.post(path, json=use("u4", -5000)).json()["balance"] == 5000  # never above what it was sold for
    assert api.post(path, json=use("u5", -5001)).status_code == 422
    assert api.post(path, json=use("u6", 0)).status_code == 422
    balances = [e["data"]["balance"] for e in events(companion, "gift_card.changed")]
    assert balances == [5000, 3056, 0, 500, 5000]


def test_unknown_codes_and_other_stores_cards_are_not_found(
    companion: Companion, other_terminal: PairedTerminal
) -> None:
    api = companion.api
    assert api.get("/api/v1/gift-cards/GC-NOPE-NOPE-NOPE").status_code == 404
    assert api.post("/api/v1/gift-cards/GC-NOPE-NOPE-NOPE/uses", json=use("u1", 100)).status_code == 404
    assert api.post("/api/v1/gift-cards", json=sold(amount=0)).status_code == 422
    assert api.post("/api/v1/gift-cards", json={**sold(), "currency": "EUR"}).status_code == 422
    api.post("/api/v1/gift-cards", json=sold())
    stranger = companion.client(headers=other_terminal.headers)
    assert stranger.get(f"/api/v1/gift-cards/{CODE}").status_code == 404
    assert stranger.post(f"/api/v1/gift-cards/{CODE}/uses", json=use("u9", 100)).status_code in (404, 422)
