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
    refunded_before: int | None = Field(
        default=None,
        ge=0,
        description="The refunded total the terminal saw when it asked (a queued refund sent again after a "
        "lost answer): when the payment's refunded total already covers this refund, nothing is refunded again",
    )


@router.post("/payments/{payment_id}/refund")
async def refund(
    payment_id: str, body: RefundRequest, request: Request, terminal: TerminalDep, db: DbDep
) -> dict[str, Any]:
    """Refund through the store's gateway. The ticket shows it with the ``payment.refunded`` event.

    404 for another store's payment; 409 for a payment that cannot be refunded; 422 for an amount
    over what is left; 502 when the gateway refused.
    """
    if body.refunded_before is not None and body.amount is not None:
        done = await run_in_threadpool(_already_refunded, db, terminal.store_id, payment_id[:64], body)
        if done is not None:
            return done
    gateways = gateway_directory(request.app.state)
    try:
        outcome = await run_in_threadpool(
            refund_payment, db, gateways, terminal.store_id, payment_id[:64], body.amount
        )
    except RefundRefused as exc:
        # Retry-After: a queued refund is sent again (the relay), a manager at the dialog reads the detail.
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        raise HTTPException(status_code=exc.status, detail=exc.message, headers=headers) from None
    return {
        "payment_id": outcome.payment_id,
        "refund_id": outcome.refund_ref,
        "amount": outcome.amount.minor,
        "currency": outcome.amount.currency,
        "refunded_total": outcome.refunded_total.minor,
    }


def _already_refunded(db: Any, store_id: str, payment_id: str, body: RefundRequest) -> dict[str, Any] | None:
    """The answer to a refund that was already made (its first answer lost), or None."""
    from posdesk.companion.models import Payment

    assert body.amount is not None and body.refunded_before is not None
    with db.read() as session:
        payment = session.get(Payment, payment_id)
        if payment is None or payment.store_id != store_id:
            return None
        if payment.refunded_minor < body.refunded_before + body.amount:
            return None
        return {
            "payment_id": payment.id,
            "refund_id": "",
            "amount": body.amount,
            "currency": payment.currency,
            "refunded_total": payment.refunded_minor,
        }
