"""Refunding an online payment from the POS (a manager's action): full or partial."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from posdesk.companion.deps import DbDep, TerminalDep
from posdesk.companion.payments import RefundRefused, gateway_directory, refund_payment

router = APIRouter(tags=["refunds"])


class RefundRequest(BaseModel):
    amount: int | None = Field(
        default=None, gt=0, description="Minor units; leave out to refund what is left"
    )


@router.post("/payments/{payment_id}/refund")
async def refund(
    payment_id: str, body: RefundRequest, request: Request, terminal: TerminalDep, db: DbDep
) -> dict[str, Any]:
    """Refund through the store's gateway. The ticket shows it with the ``payment.refunded`` event.

    404 for another store's payment; 409 for a payment that cannot be refunded; 422 for an amount
    over what is left; 502 when the gateway refused.
    """
    gateways = gateway_directory(request.app.state)
    try:
        outcome = await run_in_threadpool(
            refund_payment, db, gateways, terminal.store_id, payment_id[:64], body.amount
        )
    except RefundRefused as exc:
        raise HTTPException(status_code=exc.status, detail=exc.message) from None
    return {
        "payment_id": outcome.payment_id,
        "refund_id": outcome.refund_ref,
        "amount": outcome.amount.minor,
        "currency": outcome.amount.currency,
        "refunded_total": outcome.refunded_total.minor,
    }
