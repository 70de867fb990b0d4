"""A tip after paying: charged alone to the card of the payment, within :data:`TIP_WINDOW`, once."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from posdesk.companion.database import Database
from posdesk.companion.models import Payment, PaymentStatus, Store, utcnow
from posdesk.companion.payments.attempts import current_version, metadata, payment_for_token, start_attempt
from posdesk.companion.payments.balance import balance_of
from posdesk.companion.payments.charging import charge
from posdesk.companion.payments.directory import GatewayDirectory
from posdesk.companion.payments.errors import PaymentRefused
from posdesk.companion.payments.values import TIP_WINDOW, PayOutcome, Plan
from posdesk.companion.stores import StoreSettings
from posdesk.companion.tipping import payment_tip_basis
from posdesk.core.money import Money
from posdesk.core.tips import TipChoice, TipError, tip_amount
from posdesk.gateways.base import ChargeRequest


def tip_window_open(payment: Payment, now: datetime | None = None) -> bool:
    return (
        payment.kind == "invoice"
        and PaymentStatus(payment.status) is PaymentStatus.SUCCEEDED
        and payment.tip_minor == 0
        and bool(payment.payment_method_ref)
        and payment.succeeded_at is not None
        and (now or utcnow()) - payment.succeeded_at <= TIP_WINDOW
    )


def add_tip(db: Database, gateways: GatewayDirectory, token_hash: str, payment_id: str, choice: TipChoice) -> PayOutcome:
    """Charge a tip alone to the card of ``payment_id`` (within :data:`TIP_WINDOW`, once)."""
    with db.read() as session:
        try:
            parent, invoice = payment_for_token(session, token_hash, payment_id)
        except LookupError:
            raise PaymentRefused("This payment could not be found") from None
        if not tip_window_open(parent) or tip_added_to(session, parent.id) is not None:
            raise PaymentRefused("A tip can no longer be added to this payment")
        store = session.get(Store, invoice.store_id)
        assert store is not None
        balance = balance_of(session, invoice, store)
        try:
            policy = StoreSettings.of(store).tip_policy()
            basis = payment_tip_basis(balance, policy, parent)  # the share the confirmation page suggested on
            tip = tip_amount(choice, basis.share, policy, basis.cap)
        except TipError as exc:
            raise PaymentRefused(str(exc)) from None
        if tip.is_zero():
            raise PaymentRefused("Choose a tip amount")
        gateway = gateways.for_store(store)
        plan = Plan(store.id, store.name, invoice.id, invoice.client_id, None, Money.zero(tip.currency), tip, parent.invoice_version)
        method_ref, parent_id, invoice_id = parent.payment_method_ref, parent.id, invoice.id
    # The tip's attempt is scoped to the parent payment; the version must match the invoice's now.
    plan = replace(plan, version=current_version(db, invoice_id))
    child_id, key, existing = start_attempt(db, plan, gateway.kind, kind="tip", scope=f"tip:{parent_id}", parent=method_ref)
    if existing is not None:
        return existing
    return charge(
        db,
        gateway,
        child_id,
        ChargeRequest(
            amount=plan.amount,
            tip=tip,
            idempotency_key=key,
            metadata={**metadata(plan, child_id, "tip"), "parent_payment_id": parent_id},
            method_ref=method_ref,
            description=f"{plan.store_name} tip",
        ),
    )


def tip_added_to(session: Session, parent_id: str) -> Payment | None:
    """The succeeded tip charged after ``parent_id``, if any."""
    return session.scalars(
        select(Payment).where(Payment.idempotency_key.like(f"tip:{parent_id}:a%"), Payment.status == PaymentStatus.SUCCEEDED.value)
    ).first()
