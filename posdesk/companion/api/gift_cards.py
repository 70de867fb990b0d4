"""Gift cards sold through the POS (see :mod:`posdesk.companion.gift_cards`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, Field

from posdesk.companion.api.common import ID_PATTERN, terminal_store
from posdesk.companion.deps import DbDep, TerminalDep
from posdesk.companion.gift_cards import (
    GiftCardRefused,
    NotCovered,
    card_wire,
    find_card,
    issue_card,
    overdrawn,
    use_card,
)

router = APIRouter(tags=["gift cards"])
CODE = Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$")


class IssuedCard(BaseModel):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$")
    amount: int = Field(gt=0)
    currency: str = Field(min_length=3, max_length=3)
    ticket_id: str = Field(max_length=64)
    client_id: str | None = Field(default=None, max_length=64)


class CardUse(BaseModel):
    use_id: str = Field(pattern=ID_PATTERN)
    amount: int = Field(description="Taken off the card; negative: a refund put back onto it")
    currency: str = Field(min_length=3, max_length=3)
    ticket_id: str = Field(default="", max_length=64)
    covered_only: bool = Field(
        default=False,
        description="A terminal online takes the balance before recording its tender: refused (409, with the "
        "balance left) when the card does not cover the amount. Uses sent later from an outbox are recorded "
        "anyway; an overdraft is kept for a manager (gift_card.overdrawn, GET /gift-cards/overdrawn).",
    )


@router.post("/gift-cards")
def post_gift_card(terminal: TerminalDep, db: DbDep, body: IssuedCard) -> dict[str, Any]:
    """A gift card sold on a paid ticket (idempotent by code); every terminal hears ``gift_card.changed``."""
    with db.write() as session:
        store = terminal_store(session, terminal)
        card = issue_card(session, store, body.code, body.amount, body.currency, body.ticket_id, body.client_id)
        return card_wire(card)


@router.post("/gift-cards/{code}/uses")
def post_gift_card_use(terminal: TerminalDep, db: DbDep, body: CardUse, code: str = CODE) -> dict[str, Any]:
    """A use at a counter (idempotent by ``use_id``): the balance goes down once."""
    with db.write() as session:
        store = terminal_store(session, terminal)
        if body.currency != store.currency:
            raise GiftCardRefused(f"the store takes {store.currency}, not {body.currency}")
        try:
            card = use_card(
                session, store, code, body.use_id, body.amount, body.ticket_id, covered_only=body.covered_only
            )
        except NotCovered as refused:
            raise HTTPException(
                status_code=409, detail={"message": refused.message, "balance": refused.balance}
            ) from None
        return card_wire(card)


@router.get("/gift-cards/overdrawn")
def get_overdrawn(terminal: TerminalDep, db: DbDep) -> dict[str, Any]:
    """Uses made offline that took more than their card had left: kept for a manager's review."""
    with db.read() as session:
        return {"overdrawn": overdrawn(session, terminal_store(session, terminal))}


@router.get("/gift-cards/{code}")
def get_gift_card(terminal: TerminalDep, db: DbDep, code: str = CODE) -> dict[str, Any]:
    """What is left on a card, as the store knows it (every terminal's uses)."""
    with db.read() as session:
        store = terminal_store(session, terminal)
        card = find_card(session, store, code)
        if card is None:
            raise HTTPException(status_code=404, detail="No gift card with this code was sold here")
        return card_wire(card)
