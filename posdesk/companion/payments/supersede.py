"""A charge completes only for the invoice's current version and an active link.

When the cashier sends a new version or revokes the link, every attempt still open for the invoice is
cancelled at its gateway (:func:`cancel_open_attempts`, before the POS gets its answer); a gateway that
cannot cancel (the attempt is already at the bank) is asked how it stands. A success that still
arrives for a superseded or revoked attempt is recorded by the ledger as **stale** -- never counted
toward the invoice -- and :func:`refund_stale` gives the money back through the gateway and reports it
to the POS (``payment.refunded_stale``). Gateway calls run outside any database transaction.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from posdesk.companion.database import Database
from posdesk.companion.models import Invoice as InvoiceRow
from posdesk.companion.models import Payment, PaymentStatus, Store
from posdesk.companion.payments import ledger
from posdesk.companion.payments.directory import GatewayDirectory
from posdesk.companion.payments.errors import MismatchError
from posdesk.companion.payments.values import IN_FLIGHT
from posdesk.core.money import Money
from posdesk.gateways.base import CancelsAttempts, Gateway, GatewayError, GatewayPayment

log = logging.getLogger(__name__)


def cancel_open_attempts(db: Database, directory: GatewayDirectory, invoice_id: str) -> int:
    """Cancel at the gateway every open attempt of ``invoice_id`` that is no longer for its current
    version and an active link; how many ended. Then refund what already succeeded for them."""
    with db.read() as session:
        invoice = session.get(InvoiceRow, invoice_id)
        if invoice is None:
            return 0
        store = session.get(Store, invoice.store_id)
        assert store is not None
        open_ones = [
            (p.id, p.gateway, p.gateway_payment_id)
            for p in session.scalars(
                select(Payment).where(
                    Payment.invoice_id == invoice_id, Payment.status.in_([s.value for s in IN_FLIGHT])
                )
            )
            if ledger.is_stale(p, invoice)
        ]
        session.expunge(store)
    if not open_ones:
        return refund_stale(db, directory, invoice_id=invoice_id)
    try:
        gateway = directory.for_store(store)
    except GatewayError as exc:
        log.warning("open attempts of invoice %s not cancelled: %s", invoice_id, exc.message)
        return 0
    ended = 0
    for payment_id, kind, ref in open_ones:
        if kind != gateway.kind or not ref or not isinstance(gateway, CancelsAttempts):
            # The charge call is still at the gateway, or the gateway cannot cancel: should it succeed,
            # the ledger records it as stale and it is refunded.
            continue
        try:
            found = gateway.cancel_attempt(ref)
        except GatewayError as exc:
            log.warning("attempt %s of invoice %s not cancelled yet: %s", ref, invoice_id, exc.message)
            continue
        ended += record_cancel(db, payment_id, found)
    refund_stale(db, directory, invoice_id=invoice_id)
    return ended


def record_cancel(db: Database, payment_id: str, found: GatewayPayment | None) -> int:
    """What a cancel at the gateway answered, recorded: cancelled (None), or where the attempt stands."""
    with db.write() as session:
        payment = ledger.lock_payment(session, payment_id)
        if found is None:
            return int(ledger.cancel(payment))
        try:
            return int(ledger.apply_gateway_payment(session, payment, found))
        except MismatchError as exc:
            ledger.needs_review(session, payment.store_id, payment, f"the gateway's answer to a cancel disagrees: {exc}")
            return 0


def refund_stale(db: Database, directory: GatewayDirectory, *, invoice_id: str | None = None) -> int:
    """Refund every stale success (of ``invoice_id``, or all); how many were refunded now."""
    with db.read() as session:
        query = select(Payment).where(
            Payment.status == PaymentStatus.STALE.value, Payment.refunded_minor < Payment.amount_minor + Payment.tip_minor
        )
        if invoice_id is not None:
            query = query.where(Payment.invoice_id == invoice_id)
        stale = [
            (p.id, p.store_id, p.gateway, p.gateway_payment_id, p.amount_minor + p.tip_minor - p.refunded_minor, p.currency)
            for p in session.scalars(query)
        ]
        stores = {s.id: s for s in session.scalars(select(Store).where(Store.id.in_({row[1] for row in stale})))}
        for store in stores.values():
            session.expunge(store)
    refunded = 0
    for payment_id, store_id, _kind, _ref, _left, _currency in stale:
        try:
            gateway = directory.for_store(stores[store_id])
        except GatewayError as exc:
            log.warning("stale payment %s not refunded yet: %s", payment_id, exc.message)
            continue
        refunded += refund_one(db, gateway, payment_id)
    return refunded


def refund_one(db: Database, gateway: Gateway, payment_id: str) -> int:
    """Refund the stale success ``payment_id`` in full through ``gateway``; 1 when recorded now."""
    with db.read() as session:
        payment = session.get(Payment, payment_id)
        if payment is None or payment.status != PaymentStatus.STALE.value:
            return 0
        kind, ref, currency = payment.gateway, payment.gateway_payment_id, payment.currency
        left = payment.amount_minor + payment.tip_minor - payment.refunded_minor
    if gateway.kind != kind or not ref or left <= 0:
        log.error("stale payment %s cannot be refunded here (%s); a person must refund it", payment_id, kind)
        return 0
    try:
        refund = gateway.refund(ref, Money(left, currency), f"refund:{payment_id}:stale")
    except GatewayError as exc:
        log.warning("stale payment %s not refunded yet: %s", payment_id, exc.message)
        return 0
    if not refund.succeeded:
        return 0
    with db.write() as session:
        return int(ledger.stale_refunded(session, ledger.lock_payment(session, payment_id)))
