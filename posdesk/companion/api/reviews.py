"""Payments kept for a manager's review, and the manager's decision (from the POS, behind its manager PIN)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from posdesk.companion.deps import DbDep, TerminalDep
from posdesk.companion.payments import gateway_directory
from posdesk.companion.payments.reports import NOTE_MAX, handle, kept_reports
from posdesk.companion.payments.review import Decision, kept_for_review, settle

router = APIRouter(tags=["reviews"])


class SettleRequest(BaseModel):
    decision: Decision  # count | refund | dismiss (online); count | given_back (taken at the counter)


class HandleRequest(BaseModel):
    note: str = Field(min_length=1, max_length=NOTE_MAX)  # what the manager found at the gateway, what they did


@router.get("/payments/review")
async def payments_for_review(terminal: TerminalDep, db: DbDep, ticket_id: str | None = None) -> dict[str, Any]:
    """The store's payments kept for review (of one ticket when ``ticket_id`` is given), each with why, and
    the gateway reports kept for review that name no payment the companion recorded (``reports``)."""
    ticket = ticket_id[:64] if ticket_id else None
    kept = await run_in_threadpool(kept_for_review, db, terminal.store_id, ticket)
    reports = await run_in_threadpool(kept_reports, db, terminal.store_id, ticket)
    return {"payments": [k.to_wire() for k in kept], "reports": [r.to_wire() for r in reports]}


@router.post("/payments/reports/{report_id}/handled")
async def handle_report(report_id: str, body: HandleRequest, terminal: TerminalDep, db: DbDep) -> dict[str, Any]:
    """Mark a gateway report kept for review handled with the manager's note (idempotent: handling it
    again answers the same). 404 for another store's report."""
    return await run_in_threadpool(handle, db, terminal.store_id, report_id[:64], body.note)


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
