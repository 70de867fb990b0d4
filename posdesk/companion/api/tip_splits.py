"""A manager's tip split of a payment, saved on a terminal (see :mod:`posdesk.companion.tip_splits`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from posdesk.companion.api.common import ID_PATTERN, terminal_store
from posdesk.companion.deps import DbDep, TerminalDep
from posdesk.companion.tip_splits import note_refunded_tip, read_shares, save_tip_split

router = APIRouter(tags=["tenders"])


class TipSplitBody(BaseModel):
    ticket_id: str = Field(max_length=64)
    currency: str = Field(min_length=3, max_length=3)
    shares: dict[str, Any] | None = Field(description="{provider: minor units}; null: the default split")


@router.post("/tip-splits/{payment_id}")
def post_tip_split(
    terminal: TerminalDep, db: DbDep, body: TipSplitBody, payment_id: str = Path(pattern=ID_PATTERN)
) -> dict[str, Any]:
    """Save a payment's tip split (the last one saved wins); other terminals hear ``tip.split``."""
    shares = read_shares(body.shares)
    with db.write() as session:
        store = terminal_store(session, terminal)
        save_tip_split(session, store, payment_id, body.ticket_id, body.currency, shares)
        return {"payment_id": payment_id, "shares": shares}


class RefundedTipBody(BaseModel):
    ticket_id: str = Field(max_length=64)
    refunded_tip_total: int = Field(ge=0, description="Of the payment's refunded total, what was tip")


@router.post("/tips/{payment_id}/refunded")
def post_refunded_tip(
    terminal: TerminalDep, db: DbDep, body: RefundedTipBody, payment_id: str = Path(pattern=ID_PATTERN)
) -> dict[str, Any]:
    """How much of a payment's refunds was tip, told to every terminal (``tip.refunded``): the refund
    itself travels as a total, which a terminal would otherwise count off the amount first."""
    with db.write() as session:
        store = terminal_store(session, terminal)
        note_refunded_tip(session, store, payment_id, body.ticket_id, body.refunded_tip_total)
        return {"payment_id": payment_id, "refunded_tip_total": body.refunded_tip_total}
