"""The payment page's Stripe steps: a new card confirmed on the page with the Payment Element.

The card never reaches this server. When the client presses Pay the page asks :func:`start_payment`
for an intent: the companion prices the invoice itself (the same plan, attempt and idempotency key as
any charge, :mod:`posdesk.companion.payments`), creates an unconfirmed PaymentIntent for that amount and
hands back its client secret; Stripe.js confirms it. Then :func:`sync_payment` asks Stripe (never the
page) how it went and applies that through :func:`~posdesk.companion.payments.apply_gateway_payment`,
exactly as a webhook would, so whichever arrives first wins and the other changes nothing.

Saved cards ("Use") go through the ordinary form and :meth:`StripeGateway.charge`; 3-D Secure on them
comes back to the authenticate page, whose script fetches the client secret from here.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from posdesk.companion import payments
from posdesk.companion.database import Database
from posdesk.companion.models import (
    GatewayCustomer,
    Payment,
    PaymentStatus,
    SavedCard,
    Store,
    payment_status_advances,
)
from posdesk.companion.models import Invoice as InvoiceRow
from posdesk.companion.payments import GatewayDirectory, PaymentRefused, PayOutcome, PayRequest
from posdesk.core.invoice import Invoice
from posdesk.core.money import Money
from posdesk.gateways.base import (
    ChargeRequest,
    ClientInfo,
    GatewayError,
    GatewayPayment,
    NewCard,
    SavedMethod,
)
from posdesk.gateways.stripe import IntentState, StripeGateway

log = logging.getLogger(__name__)

NOT_STRIPE_MESSAGE = "This payment page is not set up for card payments right now. Please reload it."


@dataclass(frozen=True, slots=True)
class PreparedPayment:
    """What the page needs to confirm: the companion's payment id and Stripe's client secret."""

    payment_id: str
    client_secret: str
    total: Money
    save_card: bool
    status: PaymentStatus


def stripe_of(gateway: object) -> StripeGateway:
    if not isinstance(gateway, StripeGateway):
        raise PaymentRefused(NOT_STRIPE_MESSAGE)
    return gateway


def start_payment(
    db: Database, gateways: GatewayDirectory, token_hash: str, request: PayRequest
) -> PreparedPayment:
    """An unconfirmed intent for this invoice's amount now plus the tip (see the module docstring).

    Raises :class:`PaymentRefused` (and its ``VersionChanged``) like :func:`payments.pay_invoice`.
    """
    with db.read() as session:
        plan = payments._plan_invoice_payment(session, token_hash, request)
        store = session.get(Store, plan.store_id)
        assert store is not None
        gateway = stripe_of(gateways.for_store(store))
    save = bool(request.save_card and plan.client)
    release_abandoned(db, gateway, plan.invoice_id, keep=(plan.version, plan.amount.minor, plan.tip.minor))
    payment_id, key, existing = payments._start_attempt(
        db, plan, gateway.kind, kind="invoice", scope=f"{plan.invoice_id}:v{plan.version}"
    )
    if existing is not None and existing.status in (PaymentStatus.SUCCEEDED, PaymentStatus.PROCESSING):
        raise PaymentRefused("This invoice is already being paid. Please wait a moment and refresh.")
    customer = None
    if save and plan.client is not None:
        with db.write() as session:
            customer = payments.customer_ref(session, gateway, plan.store_id, plan.client)
    charge = ChargeRequest(
        amount=plan.amount,
        tip=plan.tip,
        idempotency_key=key,
        metadata=payments._metadata(plan, payment_id, "invoice"),
        new_card=NewCard("payment-element"),  # the card stays in the page's element
        customer_ref=customer,
        save_card=save,
        description=f"{plan.store_name} invoice",
    )
    try:
        state = gateway.prepare_payment(charge)
    except GatewayError as exc:
        payments.fail_payment(db, payment_id, exc.message)  # nothing was confirmed: nothing charged
        raise PaymentRefused(exc.message) from None
    with db.write() as session:
        payment = payments.lock_payment(session, payment_id)
        if payment.gateway_payment_id is None:
            payment.gateway_payment_id = state.ref
        status = PaymentStatus(payment.status)
    return PreparedPayment(payment_id, state.client_secret, charge.total, save, status)


def release_abandoned(
    db: Database, gateway: StripeGateway, invoice_id: str, keep: tuple[int, int, int]
) -> int:
    """Cancel this invoice's intents that nobody confirmed and that are for another version, amount or
    tip than ``keep`` (the client changed the tip, the cashier sent a new version); how many.

    An intent that did move (another tab paid) is applied instead, never canceled.
    """
    with db.read() as session:
        open_ones = session.scalars(
            select(Payment).where(
                Payment.invoice_id == invoice_id,
                Payment.gateway == gateway.kind,
                Payment.kind == "invoice",
                Payment.status == PaymentStatus.PENDING.value,
                Payment.gateway_payment_id.is_not(None),
            )
        ).all()
        stale = [
            (p.id, p.gateway_payment_id)
            for p in open_ones
            if (p.invoice_version, p.amount_minor, p.tip_minor) != keep
        ]
    released = 0
    for payment_id, ref in stale:
        assert ref is not None
        state = gateway.intent(ref)
        if state.confirmable:
            state = gateway.cancel(ref)
        apply_intent(db, payment_id, state)
        released += 1
    return released


def apply_intent(db: Database, payment_id: str, state: IntentState) -> PayOutcome:
    """Apply what Stripe says about an intent to its payment (forward only); the payment's outcome."""
    with db.write() as session:
        payment = payments.lock_payment(session, payment_id)
        if state.payment is not None:
            try:
                payments.apply_gateway_payment(session, payment, state.payment)
            except payments.MismatchError as exc:
                log.warning("stripe intent %s not applied to payment %s: %s", state.ref, payment_id, exc)
            remember_card(session, payment, state.payment)
        elif state.status == "canceled":
            cancel_payment(payment)
        return payments._outcome(payment, state.payment.action if state.payment else None)


def cancel_payment(payment: Payment) -> bool:
    """An intent canceled at Stripe: its attempt is over (quietly: nothing was charged)."""
    if (
        payment_status_advances(PaymentStatus(payment.status), PaymentStatus.CANCELED)
        and payment.status != PaymentStatus.FAILED.value
    ):
        payment.status = PaymentStatus.CANCELED.value
        return True
    return False


def sync_payment(db: Database, gateways: GatewayDirectory, token_hash: str, payment_id: str) -> PayOutcome:
    """After Stripe.js confirmed (or failed to): ask Stripe how the payment stands and apply it."""
    with db.read() as session:
        payment, invoice = payments.payment_for_token(session, token_hash, payment_id)
        store = session.get(Store, invoice.store_id)
        assert store is not None
        ref, kind = payment.gateway_payment_id, payment.gateway
        current = payments._outcome(payment)
        gateway = gateways.for_store(store)
    if not ref or not isinstance(gateway, StripeGateway) or kind != gateway.kind:
        return current
    return apply_intent(db, payment_id, gateway.intent(ref))


def client_secret(db: Database, gateways: GatewayDirectory, token_hash: str, payment_id: str) -> str:
    """The client secret of a payment waiting for 3-D Secure (for ``stripe.handleNextAction``)."""
    with db.read() as session:
        payment, invoice = payments.payment_for_token(session, token_hash, payment_id)
        store = session.get(Store, invoice.store_id)
        assert store is not None
        ref = payment.gateway_payment_id
        gateway = stripe_of(gateways.for_store(store))
        if PaymentStatus(payment.status) is not PaymentStatus.REQUIRES_ACTION or not ref:
            raise LookupError("nothing to confirm")
    return gateway.intent(ref).client_secret


# -- saved cards ------------------------------------------------------------------------------------
def remember_card(session: Session, payment: Payment, result: GatewayPayment) -> None:
    """Keep the card the client asked to save, once the payment succeeded (whichever report came first)."""
    if result.saved_method is None or PaymentStatus(payment.status) not in (
        PaymentStatus.SUCCEEDED,
        PaymentStatus.REFUNDED,
    ):
        return
    invoice = session.get(InvoiceRow, payment.invoice_id)
    if invoice is not None and invoice.client_id is not None:
        save_card(session, payment.store_id, invoice.client_id, payment.gateway, result.saved_method)


def save_card(
    session: Session, store_id: str, client_id: str, gateway: str, method: SavedMethod
) -> SavedCard:
    """The client's saved card for ``method`` (made the default when they have none)."""
    cards = session.scalars(
        select(SavedCard).where(
            SavedCard.store_id == store_id, SavedCard.client_id == client_id, SavedCard.gateway == gateway
        )
    ).all()
    known = next((c for c in cards if c.method_ref == method.ref), None)
    if known is not None:
        known.removed_at = None
        return known
    card = SavedCard(
        id=uuid.uuid4().hex,
        store_id=store_id,
        client_id=client_id,
        gateway=gateway,
        method_ref=method.ref[:100],
        brand=method.brand[:20],
        last4=method.last4[:4],
        exp_month=method.exp_month,
        exp_year=method.exp_year,
        is_default=not any(c.is_default and c.removed_at is None for c in cards),
    )
    session.add(card)
    session.flush()
    return card


def start_setup(db: Database, gateways: GatewayDirectory, token_hash: str) -> tuple[str, str]:
    """A SetupIntent to save a card without paying (known clients only): ``(setup id, secret)``."""
    with db.read() as session:
        row = payments._refuse_unpayable(
            session.scalars(select(InvoiceRow).where(InvoiceRow.token_hash == token_hash)).one_or_none()
        )
        store = session.get(Store, row.store_id)
        assert store is not None
        gateway = stripe_of(gateways.for_store(store))
        client = Invoice.from_wire(row.document).client
        if client is None:
            raise PaymentRefused("Cards can only be saved for a known client")
        info = ClientInfo(client.id, client.name, client.email, client.phone)
        store_id, invoice_id = store.id, row.id
    with db.write() as session:
        customer = payments.customer_ref(session, gateway, store_id, info)
    metadata = {"store_id": store_id, "client_id": info.id, "invoice_id": invoice_id}
    try:
        return gateway.prepare_setup(customer, metadata, f"setup:{invoice_id}:{uuid.uuid4().hex}")
    except GatewayError as exc:
        raise PaymentRefused(exc.message) from None


def finish_setup(
    db: Database, gateways: GatewayDirectory, token_hash: str, setup_ref: str
) -> SavedCard | None:
    """Record the card a SetupIntent of this invoice's client saved; None while it is not done."""
    with db.read() as session:
        row = session.scalars(select(InvoiceRow).where(InvoiceRow.token_hash == token_hash)).one_or_none()
        if row is None:
            raise LookupError("no such link")
        store = session.get(Store, row.store_id)
        assert store is not None
        gateway = stripe_of(gateways.for_store(store))
        invoice_id = row.id
    report = gateway.setup_result(setup_ref)
    if report is None or report.metadata.get("invoice_id") != invoice_id:
        return None
    return record_setup(
        db,
        gateway,
        report.metadata.get("store_id", ""),
        report.metadata.get("client_id", ""),
        report.customer_ref,
        report.method_ref,
    )


def record_setup(
    db: Database, gateway: StripeGateway, store_id: str, client_id: str, customer_ref: str, method_ref: str
) -> SavedCard | None:
    """Save the card ``method_ref`` for the client whose Stripe customer is ``customer_ref``."""
    with db.read() as session:
        known = session.scalars(
            select(GatewayCustomer).where(
                GatewayCustomer.store_id == store_id,
                GatewayCustomer.client_id == client_id,
                GatewayCustomer.gateway == gateway.kind,
            )
        ).one_or_none()
        if known is None or known.customer_ref != customer_ref:
            return None  # not a customer this store made for this client
    method = gateway.saved_method(customer_ref, method_ref)
    if method is None:
        return None
    with db.write() as session:
        card = save_card(session, store_id, client_id, gateway.kind, method)
        session.flush()
        session.expunge(card)
        return card
