"""Pairing a terminal, and what a paired terminal learns about its store."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from posdesk.companion.api.common import terminal_store
from posdesk.companion.auth import PairingError, pair_terminal
from posdesk.companion.deps import DbDep, TerminalDep
from posdesk.companion.ratelimit import limit_pairing
from posdesk.companion.stores import StoreSettings

router = APIRouter(tags=["terminals"])


class PairRequest(BaseModel):
    code: str = Field(min_length=4, max_length=40, description="The one-time code from create-store")
    name: str = Field(default="Terminal", max_length=200, description="Shown to managers, e.g. 'Front desk'")


class PairAnswer(BaseModel):
    terminal_id: str
    store_id: str
    store_name: str
    currency: str
    credential: str = Field(
        description="Bearer token for every other call; shown once, keep it in the keyring"
    )


@router.post("/terminals/pair", dependencies=[Depends(limit_pairing)])
def pair(request: PairRequest, db: DbDep) -> PairAnswer:
    """Exchange a one-time pairing code for this terminal's credential."""
    try:
        with db.write() as session:
            terminal, credential = pair_terminal(session, request.code, request.name)
            store = terminal_store(session, terminal)
            answer = PairAnswer(
                terminal_id=terminal.id,
                store_id=store.id,
                store_name=store.name,
                currency=store.currency,
                credential=credential,
            )
    except PairingError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return answer


@router.get("/store")
def get_store(terminal: TerminalDep, db: DbDep) -> dict[str, Any]:
    """The calling terminal's store: id, name, currency, settings (for a connection test)."""
    with db.read() as session:
        store = terminal_store(session, terminal)
        return {
            "store_id": store.id,
            "name": store.name,
            "currency": store.currency,
            "terminal_id": terminal.id,
            "terminal_name": terminal.name,
            "settings": StoreSettings.of(store).to_wire(),
        }
