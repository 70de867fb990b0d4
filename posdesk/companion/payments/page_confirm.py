"""Payments confirmed in the browser (:class:`~posdesk.gateways.base.ConfirmsOnPage`, e.g. Stripe's
Payment Element): the card never reaches this server.

When the client presses Pay the page asks :func:`start_payment` for an attempt: the companion prices
the invoice itself (the same plan, attempt and idempotency key as any charge), has the gateway prepare
an unconfirmed attempt for that amount and hands back its client secret; the gateway's script confirms
it. Then :func:`sync_payment` asks the gateway (never the page) how it went and applies that through
the ledger, exactly as a webhook would, so whichever arrives first wins and the other changes nothing.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from posdesk.companion.database import Database
from posdesk.companion.models import Payment, PaymentStatus, Store
from posdesk.companion.payments import ledger
from posdesk.companion.payments.attempts import (
    metadata,
    outcome_of,
    payment_for_token,
    plan_invoice_payment,
    start_attempt,
)
from posdesk.companion.payments.charging import fail_payment
from posdesk.companion.payments.directory import GatewayDirectory
from posdesk.companion.payments.errors import MismatchError, PaymentRefused
from posdesk.companion.payments.saved_cards import NOT_ON_PAGE_MESSAGE, customer_ref
from posdesk.companion.payments.values import PayOutcome, PayRequest, PreparedPayment
from posdesk.gateways.base import (
    CancelsAttempts,
    ChargeRequest,
    ConfirmsOnPage,
    Gateway,
    GatewayError,
    NewCard,
    PageAttempt,
)

log = logging.getLogger(__name__)


def confirms_on_page(gateway: Gateway) -> ConfirmsOnPage:
    if not isinstance(gateway, ConfirmsOnPage):
        raise PaymentRefused(NOT_ON_PAGE_MESSAGE)
    return gateway


def start_payment(db: Database, gateways: GatewayDirectory, token_hash: str, request: PayRequest) -> PreparedPayment:
    """An unconfirmed attempt for this invoice's amount now plus the tip (see the module docstring).

    Raises :class:`PaymentRefused` (and its ``VersionChanged``) like :func:`charging.pay_invoice`.
    """
    with db.read() as session:
        plan = plan_invoice_payment(session, token_hash, request)
        store = session.get(Store, plan.store_id)
        assert store is not None
        base = gateways.for_store(store)
    gateway = confirms_on_page(base)
    save = bool(request.save_card and plan.client)
    release_abandoned(db, gateway, plan.invoice_id, keep=(plan.version, plan.amount.minor, plan.tip.minor), save=save)
    payment_id, key, existing = start_attempt(db, plan, gateway.kind, kind="invoice", scope=f"{plan.invoice_id}:v{plan.version}")
    if existing is not None and existing.status in (PaymentStatus.SUCCEEDED, PaymentStatus.PROCESSING):
        raise PaymentRefused("This invoice is already being paid. Please wait a moment and refresh.")
    customer = None
    if save and plan.client is not None:
        customer = customer_ref(db, base, plan.store_id, plan.client)
    charge = ChargeRequest(
        amount=plan.amount,
        tip=plan.tip,
        idempotency_key=key,
        metadata=metadata(plan, payment_id, "invoice"),
        new_card=NewCard("payment-element"),  # the card stays in the page's element
        customer_ref=customer,
        save_card=save,
        description=f"{plan.store_name} invoice",
    )
    try:
        state = gateway.prepare_payment(charge)
    except GatewayError as exc:
        fail_payment(db, payment_id, exc.message)  # nothing was confirmed: nothing charged
        raise PaymentRefused(exc.message) from None
    with db.write() as session:
        payment = ledger.lock_payment(session, payment_id)
        if payment.gateway_payment_id is None:
            payment.gateway_payment_id = state.ref
        status = PaymentStatus(payment.status)
    return PreparedPayment(payment_id, state.client_secret, charge.total, save, status)


def release_abandoned(
    db: Database, gateway: ConfirmsOnPage, invoice_id: str, keep: tuple[int, int, int], save: bool | None = None
) -> int:
    """Cancel this invoice's attempts that wait for the page or for 3-D Secure and are not this new
    choice: another version, amount or tip than ``keep``, another saving choice than ``save``, or a
    saved card waiting for 3-D Secure (the client now pays with a new card); how many.

    An attempt that did move (another tab paid) is applied instead, never cancelled.
    """
    with db.read() as session:
        open_ones = session.scalars(
            select(Payment).where(
                Payment.invoice_id == invoice_id,
                Payment.gateway == gateway.kind,
                Payment.kind == "invoice",
                Payment.status.in_([PaymentStatus.PENDING.value, PaymentStatus.REQUIRES_ACTION.value]),
                Payment.gateway_payment_id.is_not(None),
            )
        ).all()
        waiting = [
            (p.id, p.gateway_payment_id, (p.invoice_version, p.amount_minor, p.tip_minor) != keep or p.status != PaymentStatus.PENDING.value)
            for p in open_ones
        ]
    released = 0
    for payment_id, ref, other in waiting:
        assert ref is not None
        state = gateway.sync(ref)
        if not other and (save is None or state.saves_card == save):
            continue  # the same choice: the page confirms this attempt again
        if isinstance(gateway, CancelsAttempts):
            from posdesk.companion.payments.supersede import record_cancel

            record_cancel(db, payment_id, gateway.cancel_attempt(ref))
        else:
            apply_attempt(db, payment_id, gateway.cancel(ref) if state.confirmable else state)
        released += 1
    return released


def apply_attempt(db: Database, payment_id: str, state: PageAttempt) -> PayOutcome:
    """Apply what the gateway says about an attempt to its payment (forward only); the payment's outcome."""
    with db.write() as session:
        payment = ledger.lock_payment(session, payment_id)
        if state.payment is not None:
            try:
                ledger.apply_gateway_payment(session, payment, state.payment)
            except MismatchError as exc:
                log.warning("attempt %s not applied to payment %s: %s", state.ref, payment_id, exc)
        elif state.cancelled:
            ledger.cancel(payment)
        return outcome_of(payment, state.payment.action if state.payment else None)


def sync_payment(db: Database, gateways: GatewayDirectory, token_hash: str, payment_id: str) -> PayOutcome:
    """After the page confirmed (or failed to): ask the gateway how the payment stands and apply it."""
    with db.read() as session:
        payment, invoice = payment_for_token(session, token_hash, payment_id)
        store = session.get(Store, invoice.store_id)
        assert store is not None
        ref, kind = payment.gateway_payment_id, payment.gateway
        current = outcome_of(payment)
        gateway = gateways.for_store(store)
    if not ref or not isinstance(gateway, ConfirmsOnPage) or kind != gateway.kind:
        return current
    outcome = apply_attempt(db, payment_id, gateway.sync(ref))
    if outcome.status is PaymentStatus.STALE:
        from posdesk.companion.payments.supersede import refund_one

        refund_one(db, gateway, payment_id)
    return outcome


def client_secret(db: Database, gateways: GatewayDirectory, token_hash: str, payment_id: str) -> str:
    """The client secret of a payment waiting for 3-D Secure (for the gateway's script on the page)."""
    with db.read() as session:
        payment, invoice = payment_for_token(session, token_hash, payment_id)
        store = session.get(Store, invoice.store_id)
        assert store is not None
        ref = payment.gateway_payment_id
        gateway = confirms_on_page(gateways.for_store(store))
        if PaymentStatus(payment.status) is not PaymentStatus.REQUIRES_ACTION or not ref:
            raise LookupError("nothing to confirm")
        if ledger.is_stale(payment, invoice):
            raise LookupError("the invoice moved on: this attempt may not be confirmed")
    return gateway.sync(ref).client_secret
