"""Payments kept for a manager's review, and the manager's decision (from the POS, behind its manager PIN)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from posdesk.companion.deps import DbDep, TerminalDep
from posdesk.companion.payments import gateway_directory
from posdesk.companion.payments.review import Decision, kept_for_review, settle

router = APIRouter(tags=["reviews"])


class SettleRequest(BaseModel):
    decision: Decision  # count | refund | dismiss


@router.get("/payments/review")
async def payments_for_review(terminal: TerminalDep, db: DbDep, ticket_id: str | None = None) -> dict[str, Any]:
    """The store's payments kept for review (of one ticket when ``ticket_id`` is given), each with why."""
    kept = await run_in_threadpool(kept_for_review, db, terminal.store_id, ticket_id[:64] if ticket_id else None)
    return {"payments": [k.to_wire() for k in kept]}


@router.post("/payments/{payment_id}/review")
async def settle_review(
    payment_id: str, body: SettleRequest, request: Request, terminal: TerminalDep, db: DbDep
) -> dict[str, Any]:
    """Settle one payment kept for review: ``count`` it toward the invoice (the gateway must confirm the
    money), ``refund`` it, or ``dismiss`` it as not charged (the gateway must have no record of a charge).

    404 for another store's payment; 409 when the gateway's answer does not allow the decision (the
    detail says why); 502 when the gateway could not be asked.
    """
    gateways = gateway_directory(request.app.state)
    return await run_in_threadpool(settle, db, gateways, terminal.store_id, payment_id[:64], body.decision)
