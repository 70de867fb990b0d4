"""Charging an invoice on the server (a saved card, a card tokenised by the gateway's own fields) and the
3-D Secure step after it.

The payment row is committed before the gateway is called, so a crash in between leaves a pending row
that reconciliation can finish; the gateway's answer is applied by the ledger afterwards, in its own
transaction (no gateway call ever runs inside a write transaction).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import select

from posdesk.companion.database import Database
from posdesk.companion.models import InvoiceStatus, Payment, PaymentStatus, Store
from posdesk.companion.payments import ledger
from posdesk.companion.payments.attempts import (
    metadata,
    outcome_of,
    payment_for_token,
    plan_invoice_payment,
    start_attempt,
)
from posdesk.companion.payments.directory import GatewayDirectory
from posdesk.companion.payments.errors import PaymentRefused, VersionChanged
from posdesk.companion.payments.saved_cards import customer_ref, saved_card
from posdesk.companion.payments.values import UNAVAILABLE_MESSAGE, PayOutcome, PayRequest
from posdesk.gateways.base import (
    AttemptKeys,
    CancelsAttempts,
    ChargeRequest,
    Declined,
    Gateway,
    GatewayError,
    GatewayPayment,
    NewCard,
    NotTaken,
    Unavailable,
)

log = logging.getLogger(__name__)


def pay_invoice(db: Database, gateways: GatewayDirectory, token_hash: str, request: PayRequest) -> PayOutcome:
    """Charge the invoice behind ``token_hash`` once for its version; raise :class:`PaymentRefused`."""
    with db.read() as session:
        plan = plan_invoice_payment(session, token_hash, request)
        store = session.get(Store, plan.store_id)
        assert store is not None
        gateway = gateways.for_store(store)
        method_ref: str | None = None
        if request.saved_card_id:
            method_ref = saved_card(session, plan.store_id, plan.client_id, gateway.kind, request.saved_card_id).method_ref
    new_card: NewCard | None = None
    if method_ref is None:
        try:
            new_card = gateway.read_new_card(request.card_fields or {})
        except Declined as exc:
            raise PaymentRefused(exc.message) from None
    save = bool(request.save_card and plan.client and new_card)
    chosen = (method_ref or (new_card.token if new_card else ""))[:100]
    _cancel_other_choices(db, gateway, plan.invoice_id, plan.version, chosen)

    payment_id, key, existing = start_attempt(
        db, plan, gateway.kind, kind="invoice", scope=f"{plan.invoice_id}:v{plan.version}", parent=chosen
    )
    if existing is not None:
        return existing
    customer = None
    if save and plan.client:
        customer = customer_ref(db, gateway, plan.store_id, plan.client)
    return charge(
        db,
        gateway,
        payment_id,
        ChargeRequest(
            amount=plan.amount,
            tip=plan.tip,
            idempotency_key=key,
            metadata=metadata(plan, payment_id, "invoice"),
            method_ref=method_ref,
            new_card=new_card,
            customer_ref=customer,
            save_card=save,
            description=f"{plan.store_name} invoice",
        ),
    )


def _cancel_other_choices(db: Database, gateway: Gateway, invoice_id: str, version: int, chosen: str) -> None:
    """A new card choice cancels the attempt still waiting for 3-D Secure with another card first (so
    it can never complete); the same card again finds that attempt (a double click)."""
    if not isinstance(gateway, CancelsAttempts):
        return
    with db.read() as session:
        waiting = [
            (p.id, p.gateway_payment_id)
            for p in session.scalars(
                select(Payment).where(
                    Payment.invoice_id == invoice_id,
                    Payment.invoice_version == version,
                    Payment.kind == "invoice",
                    Payment.gateway == gateway.kind,
                    Payment.status == PaymentStatus.REQUIRES_ACTION.value,
                    Payment.gateway_payment_id.is_not(None),
                    Payment.payment_method_ref.not_in(("", chosen)),
                )
            )
        ]
    from posdesk.companion.payments.supersede import record_cancel

    for payment_id, ref in waiting:
        assert ref is not None
        try:
            record_cancel(db, payment_id, gateway.cancel_attempt(ref))
        except GatewayError as exc:
            log.warning("attempt %s waiting for 3-D Secure not cancelled: %s", ref, exc.message)


def charge(db: Database, gateway: Gateway, payment_id: str, request: ChargeRequest) -> PayOutcome:
    """Send ``request`` for the pending payment ``payment_id`` and apply the answer."""
    try:
        result = gateway.charge(request)
    except (Declined, NotTaken) as exc:  # the gateway's explicit answer: nothing was charged
        return fail_payment(db, payment_id, exc.message or UNAVAILABLE_MESSAGE)
    except Unavailable as exc:
        # The charge may have gone through: look the attempt up by its own id, and while nobody knows,
        # it is unknown -- never failed (the page says it is being checked; reconciliation finishes it).
        found = _find(gateway, payment_id, request, exc.payment_ref)
        if found is None:
            return unknown_payment(db, payment_id, exc.payment_ref)
        result = found
    except GatewayError as exc:
        log.warning("charge refused by the gateway: %s", exc.message)
        return fail_payment(db, payment_id, exc.message)
    return _refund_if_stale(db, gateway, apply_result(db, payment_id, result))


def _refund_if_stale(db: Database, gateway: Gateway, outcome: PayOutcome) -> PayOutcome:
    if outcome.status is not PaymentStatus.STALE:
        return outcome
    from posdesk.companion.payments.supersede import refund_one

    refund_one(db, gateway, outcome.payment_id)
    return outcome


def _find(gateway: Gateway, payment_id: str, request: ChargeRequest, ref: str | None) -> GatewayPayment | None:
    keys = AttemptKeys(
        payment_id=payment_id,
        idempotency_key=request.idempotency_key,
        invoice_id=request.metadata.get("invoice_id", ""),
        kind=request.metadata.get("kind", "invoice"),
        gateway_ref=ref,
    )
    try:
        return gateway.find_attempt(keys)
    except GatewayError:
        return None


def apply_result(db: Database, payment_id: str, result: GatewayPayment) -> PayOutcome:
    with db.write() as session:
        payment = ledger.lock_payment(session, payment_id)
        ledger.apply_gateway_payment(session, payment, result)
        return outcome_of(payment, result.action or None)


def unknown_payment(db: Database, payment_id: str, ref: str | None) -> PayOutcome:
    """The charge's outcome is not known: the payment waits (``processing``) for a lookup."""
    with db.write() as session:
        payment = ledger.lock_payment(session, payment_id)
        ledger.unknown(session, payment, ref)
        return outcome_of(payment)


def fail_payment(db: Database, payment_id: str, message: str) -> PayOutcome:
    with db.write() as session:
        payment = ledger.lock_payment(session, payment_id)
        ledger.fail(session, payment, message)
        return outcome_of(payment)


def confirm_action(db: Database, gateways: GatewayDirectory, token_hash: str, payment_id: str, fields: Mapping[str, str]) -> PayOutcome:
    """The client finished (or failed) 3-D Secure on the page: ask the gateway and apply its answer."""
    with db.read() as session:
        payment, invoice = payment_for_token(session, token_hash, payment_id)
        store = session.get(Store, invoice.store_id)
        assert store is not None
        gateway = gateways.for_store(store)
        current, gateway_ref = outcome_of(payment), payment.gateway_payment_id
        superseded = ledger.is_stale(payment, invoice)
    if current.status is not PaymentStatus.REQUIRES_ACTION or not gateway_ref:
        return current
    if superseded:
        # The invoice moved on (a new version, a revoked link): this attempt may not complete.
        from posdesk.companion.payments.supersede import cancel_open_attempts

        cancel_open_attempts(db, gateways, invoice.id)
        if InvoiceStatus(invoice.status) in ledger.NOT_ACTIVE:
            raise PaymentRefused("This payment link is no longer active")
        raise VersionChanged("This invoice was updated. Please review the new total and pay again.")
    try:
        result = gateway.confirm_action(gateway_ref, fields)
    except GatewayError as exc:
        return fail_payment(db, payment_id, exc.message)
    return _refund_if_stale(db, gateway, apply_result(db, payment_id, result))
