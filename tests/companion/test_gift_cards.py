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


def test_two_terminals_spending_one_card_at_the_same_moment_cannot_both_take_it(
    companion_any_db: Companion,
) -> None:
    """Both terminals online ask for the whole $50 at once (SQLite and PostgreSQL): one takes it, the
    other is told what is left and nothing is recorded for it."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    companion = companion_any_db
    companion.api.post("/api/v1/gift-cards", json=sold())
    path = f"/api/v1/gift-cards/{CODE}/uses"
    start = threading.Barrier(2)

    def spend(use_id: str) -> object:
        client = companion.client(headers=companion.api.headers)
        start.wait(10)
        return client.post(path, json={**use(use_id, 5000), "covered_only": True})

    for _round in range(3):  # the same card, three rounds of two at once (the card is put back between)
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(spend, [f"a{_round}", f"b{_round}"]))
        statuses = sorted(a.status_code for a in answers)  # type: ignore[attr-defined]
        assert statuses == [200, 409], [a.text for a in answers]  # type: ignore[attr-defined]
        [refused] = [a for a in answers if a.status_code == 409]  # type: ignore[attr-defined]
        assert refused.json()["detail"] == {"message": "This gift card has only 0 left", "balance": 0}
        assert companion.api.get(f"/api/v1/gift-cards/{CODE}").json()["balance"] == 0
        companion.api.post(path, json=use(f"r{_round}", -5000))  # put back for the next round
    balances = [e["data"]["balance"] for e in events(companion, "gift_card.changed")]
    assert balances == [5000, 0, 5000, 0, 5000, 0, 5000]
    assert companion.api.get("/api/v1/gift-cards/overdrawn").json() == {"overdrawn": []}


def test_an_offline_use_that_overdraws_the_card_is_kept_for_a_manager(companion: Companion) -> None:
    api = companion.api
    api.post("/api/v1/gift-cards", json=sold())
    path = f"/api/v1/gift-cards/{CODE}/uses"
    assert api.post(path, json={**use("online", 3000), "covered_only": True}).json()["balance"] == 2000
    assert api.post(path, json={**use("online2", 2500), "covered_only": True}).status_code == 409
    assert api.post(path, json=use("offline", 2500)).json()["balance"] == 0  # taken at a counter offline
    assert api.post(path, json=use("offline", 2500)).json()["balance"] == 0  # the outbox sent it again
    [kept] = api.get("/api/v1/gift-cards/overdrawn").json()["overdrawn"]
    assert kept["code"] == CODE and kept["use_id"] == "offline" and kept["ticket_id"] == "t2"
    assert (kept["amount"], kept["balance_before"], kept["overdrawn_by"]) == (2500, 2000, 500)
    assert len(events(companion, "gift_card.overdrawn")) == 1
