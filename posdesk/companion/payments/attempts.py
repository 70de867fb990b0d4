"""Attempts: what a charge is for (the plan), and the one pending payment row per attempt.

The page sends the invoice version, the tip choice and the card; everything with a price is recomputed
here from the stored invoice document with :mod:`posdesk.core` (the server decides the amount).

**One charge per attempt.** A charge's idempotency key is ``<invoice>:v<version>:a<attempt>`` where
``attempt`` counts the failed attempts of that version; the key is unique in the ``payments`` table and
goes to the gateway. A double click, a second tab or a second phone computes the same key, so the
database lets one row in and the other request gets that payment's outcome. A declined card moves the
attempt on, so the client can try another card.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from posdesk.companion.database import Database
from posdesk.companion.models import Invoice as InvoiceRow
from posdesk.companion.models import InvoiceStatus, Payment, PaymentStatus, Store
from posdesk.companion.payments.balance import balance_of, is_expired
from posdesk.companion.payments.errors import AlreadyInProgress, PaymentRefused, VersionChanged
from posdesk.companion.payments.values import FAILED, PayOutcome, PayRequest, Plan
from posdesk.companion.stores import StoreSettings
from posdesk.companion.tipping import tip_basis
from posdesk.core.tips import TipError, tip_amount
from posdesk.gateways.base import ClientInfo


def refuse_unpayable(row: InvoiceRow | None) -> InvoiceRow:
    if row is None or not InvoiceStatus(row.status).is_payable or is_expired(row):
        raise PaymentRefused("This payment link is no longer active")
    return row


def plan_invoice_payment(session: Session, token_hash: str, request: PayRequest) -> Plan:
    row = refuse_unpayable(session.scalars(select(InvoiceRow).where(InvoiceRow.token_hash == token_hash)).one_or_none())
    store = session.get(Store, row.store_id)
    assert store is not None
    balance = balance_of(session, row, store)
    if request.version != row.version:
        raise VersionChanged(
            f"This invoice was updated. The new amount due is {balance.due_now.format()}. Please review it and pay again."
        )
    try:
        policy = StoreSettings.of(store).tip_policy()
        basis = tip_basis(balance, policy, balance.due_toward)  # this part's share; the invoice's cap left
        tip = tip_amount(request.tip, basis.share, policy, basis.cap)
    except TipError as exc:
        raise PaymentRefused(str(exc)) from None
    if (balance.due_now + tip).is_zero():
        raise PaymentRefused("There is nothing to pay")
    client = balance.invoice.client
    return Plan(
        store_id=store.id,
        store_name=store.name,
        invoice_id=row.id,
        client_id=client.id if client else None,
        client=ClientInfo(client.id, client.name, client.email, client.phone) if client else None,
        amount=balance.due_now,
        tip=tip,
        version=row.version,
    )


def metadata(plan: Plan, payment_id: str, kind: str) -> dict[str, str]:
    """What the companion tells the gateway about a charge (and finds it by after a crash)."""
    return {
        "store_id": plan.store_id,
        "invoice_id": plan.invoice_id,
        "invoice_version": str(plan.version),
        "payment_id": payment_id,
        "kind": kind,
    }


def start_attempt(
    db: Database, plan: Plan, gateway_kind: str, *, kind: str, scope: str, parent: str = ""
) -> tuple[str, str, PayOutcome | None]:
    """Insert the pending payment for this attempt, or find the one another request inserted.

    Returns ``(payment_id, idempotency_key, outcome)``; ``outcome`` is set when an equal request already
    made this attempt (its payment's state is the answer).
    """
    for _ in range(3):
        with db.write() as session:
            invoice = session.get(InvoiceRow, plan.invoice_id, with_for_update=True)
            if invoice is None or invoice.version != plan.version:
                raise VersionChanged("This invoice was updated. Please review the new total and pay again.")
            failed = session.scalar(
                select(func.count())
                .select_from(Payment)
                .where(
                    Payment.invoice_id == plan.invoice_id,
                    Payment.idempotency_key.like(f"{scope}:a%"),
                    Payment.status.in_([s.value for s in FAILED]),
                )
            )
            key = f"{scope}:a{int(failed or 0) + 1}"
            existing = session.scalars(select(Payment).where(Payment.idempotency_key == key)).one_or_none()
            if existing is None:
                payment_id = uuid.uuid4().hex
                try:
                    with session.begin_nested():
                        session.add(
                            Payment(
                                id=payment_id,
                                store_id=plan.store_id,
                                invoice_id=plan.invoice_id,
                                invoice_version=plan.version,
                                gateway=gateway_kind,
                                idempotency_key=key,
                                kind=kind,
                                status=PaymentStatus.PENDING.value,
                                amount_minor=plan.amount.minor,
                                tip_minor=plan.tip.minor,
                                currency=plan.amount.currency,
                                payment_method_ref=parent,
                            )
                        )
                except IntegrityError:
                    continue  # another request inserted this attempt first: read it next round
                return payment_id, key, None
            if (existing.amount_minor, existing.tip_minor) != (plan.amount.minor, plan.tip.minor):
                raise AlreadyInProgress("This invoice is already being paid. Please wait a moment and refresh.")
            return existing.id, key, outcome_of(existing)
    raise AlreadyInProgress("This invoice is already being paid. Please wait a moment and refresh.")


def outcome_of(payment: Payment, action: Mapping[str, Any] | None = None) -> PayOutcome:
    return PayOutcome(payment.id, PaymentStatus(payment.status), payment.failure_message, action)


def payment_for_token(session: Session, token_hash: str, payment_id: str) -> tuple[Payment, InvoiceRow]:
    """A payment of the invoice behind ``token_hash``; ``LookupError`` for any other (no probing)."""
    invoice = session.scalars(select(InvoiceRow).where(InvoiceRow.token_hash == token_hash)).one_or_none()
    payment = session.get(Payment, payment_id) if invoice is not None else None
    if invoice is None or payment is None or payment.invoice_id != invoice.id:
        raise LookupError("no such payment")
    return payment, invoice


def current_version(db: Database, invoice_id: str) -> int:
    with db.read() as session:
        row = session.get(InvoiceRow, invoice_id)
        assert row is not None
        return row.version
