"""Charging an invoice and applying what gateways report: once, forward only, with events.

The page sends the invoice version, the tip choice and the card; everything with a price is recomputed
here from the stored invoice document with :mod:`posdesk.core` (the server decides the amount).

**One charge per attempt.** A charge's idempotency key is ``<invoice>:v<version>:a<attempt>`` where
``attempt`` counts the failed attempts of that version; the key is unique in the ``payments`` table and
goes to the gateway. A double click, a second tab or a second phone computes the same key, so the
database lets one row in and the other request gets that payment's outcome. A declined card moves the
attempt on, so the client can try another card.

**Forward only.** :func:`apply_gateway_payment` is the one place a payment's state changes, whether the
news comes from the charge call, the 3-D Secure step or a webhook; it takes the payment row under a lock,
checks amount, currency and version against the companion's record, ignores anything that is not a
forward move (a late "failed" never undoes "succeeded") and appends the POS events in the same
transaction.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from posdesk.companion.config import CompanionConfig
from posdesk.companion.database import Database
from posdesk.companion.events import append_event
from posdesk.companion.invoices import version_promotions, with_promotion_terms
from posdesk.companion.models import (
    GatewayCustomer,
    InvoiceStatus,
    InvoiceVersion,
    Payment,
    PaymentStatus,
    SavedCard,
    Store,
    payment_status_advances,
    utcnow,
)
from posdesk.companion.models import Invoice as InvoiceRow
from posdesk.companion.secrets_box import SecretsBox, SecretsUnreadable
from posdesk.companion.store_settings import StoreSettings, promotions
from posdesk.core.events import EventType
from posdesk.core.invoice import Invoice, totals_of
from posdesk.core.money import Money
from posdesk.core.pricing import PricedTicket
from posdesk.core.ticket import PaymentMethod
from posdesk.core.tips import TipChoice, TipError, tip_amount
from posdesk.gateways import build_gateway
from posdesk.gateways.base import (
    ChargeRequest,
    ChargeStatus,
    ClientInfo,
    Declined,
    Gateway,
    GatewayError,
    GatewayPayment,
    Misconfigured,
    NewCard,
    Unavailable,
)
from posdesk.gateways.simulator import SimulatorLedger

log = logging.getLogger(__name__)

TIP_WINDOW = timedelta(minutes=30)  # "Add a tip" on the confirmation page
IN_FLIGHT = (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION, PaymentStatus.PROCESSING)
FAILED = (PaymentStatus.FAILED, PaymentStatus.CANCELED)
COUNTED = (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)
STATUS_OF_CHARGE = {
    ChargeStatus.SUCCEEDED: PaymentStatus.SUCCEEDED,
    ChargeStatus.REQUIRES_ACTION: PaymentStatus.REQUIRES_ACTION,
    ChargeStatus.PROCESSING: PaymentStatus.PROCESSING,
    ChargeStatus.FAILED: PaymentStatus.FAILED,
    ChargeStatus.REFUNDED: PaymentStatus.REFUNDED,
}
UNAVAILABLE_MESSAGE = "The payment service did not answer. You were not charged; please try again."


# -- refusals the page shows ---------------------------------------------------------------------------
class PaymentRefused(Exception):
    """The request cannot be charged; ``message`` is for the client, ``status`` the HTTP status."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class VersionChanged(PaymentRefused):
    """The cashier sent a new version: the client must see the new total before paying."""

    status = 409


class AlreadyInProgress(PaymentRefused):
    """Another tab or phone is paying this invoice right now with different choices."""

    status = 409


# -- gateways of stores --------------------------------------------------------------------------------
WebhookSink = Callable[[bytes, Mapping[str, str]], None]


class GatewayDirectory:
    """Builds each store's gateway driver, lending the Simulator its ledger and webhook sink.

    One per app (``app.state.gateways``). ``webhook_sink`` receives the Simulator's signed events; the
    companion wires it to the same pipeline ``POST /webhooks/simulator`` runs.
    """

    def __init__(self, config: CompanionConfig, webhook_sink: WebhookSink | None = None) -> None:
        self.config = config
        self.ledger = SimulatorLedger()
        self.webhook_sink = webhook_sink
        self.lent: dict[str, Any] = {}  # more a driver may borrow (Cloud9's card-token callback hints)

    def for_store(self, store: Store) -> Gateway:
        return self.build(store.gateway_kind, store.gateway_public or {}, self._secrets(store), store_id=store.id)

    def build(self, kind: str, public: Mapping[str, Any], secrets: Mapping[str, Any], store_id: str = "") -> Gateway:
        if kind == "simulator":
            secrets = {"webhook_secret": self.config.simulator_webhook_secret}
        # store_id and public_url let a driver address its own server callbacks (Cloud9's card form).
        return build_gateway(
            kind,
            public,
            secrets,
            ledger=self.ledger,
            webhook_sink=self.webhook_sink,
            store_id=store_id,
            public_url=self.config.public_url,
            **self.lent,
        )

    def _secrets(self, store: Store) -> dict[str, str]:
        if store.gateway_kind == "simulator" or not store.gateway_secrets:
            return {}
        try:
            return SecretsBox(self.config.secret_key).open(store.gateway_secrets)
        except SecretsUnreadable as exc:
            raise Misconfigured(str(exc)) from None


_directory_lock = threading.Lock()


def gateway_directory(state: Any) -> GatewayDirectory:
    """The app's :class:`GatewayDirectory` (``app.state.gateways``), made on first use."""
    directory: GatewayDirectory | None = getattr(state, "gateways", None)
    if directory is None:
        with _directory_lock:
            directory = getattr(state, "gateways", None)
            if directory is None:
                from posdesk.companion.webhooks.pipeline import in_process_sink

                directory = GatewayDirectory(state.config)
                directory.webhook_sink = in_process_sink(state.db, directory)
                state.gateways = directory
    return directory


# -- what an invoice asks for ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Balance:
    """An invoice's figures now: its document priced again, plus what was paid through the companion."""

    invoice: Invoice
    priced: PricedTicket
    paid_here: Money  # succeeded link payments the document does not list yet
    paid_total: Money
    balance_due: Money
    due_now: Money  # what this link asks for now (the requested amount less what this version got)
    tips_paid: Money

    @property
    def currency(self) -> str:
        return self.invoice.currency

    @property
    def tip_base(self) -> Money:
        return self.priced.tip_base


def balance_of(session: Session, row: InvoiceRow, store: Store) -> Balance:
    counted = session.scalars(
        select(Payment).where(Payment.invoice_id == row.id, Payment.status.in_([s.value for s in COUNTED]))
    ).all()
    return balance_with(row, store, counted)


def balance_with(row: InvoiceRow, store: Store, counted: Sequence[Payment]) -> Balance:
    """:func:`balance_of` for a caller that already read the invoice's counted payments (``COUNTED``)."""
    invoice = Invoice.from_wire(row.document)
    priced = invoice.price(version_promotions(row.document, store))
    listed = {p.id for p in invoice.payments} | {p.reference for p in invoice.payments if p.reference}
    zero = Money.zero(invoice.currency)
    paid_here = zero
    paid_this_version = zero
    tips = zero
    for payment in counted:
        tips = tips + Money(payment.tip_minor, payment.currency)
        if payment.kind != "invoice":
            continue
        amount = Money(payment.amount_minor, payment.currency)
        if payment.id not in listed and (payment.gateway_payment_id or "") not in listed:
            paid_here = paid_here + amount
        if payment.invoice_version == row.version:
            paid_this_version = paid_this_version + amount
    paid_total = priced.paid + paid_here
    balance_due = (priced.total - paid_total).max(zero)
    asked = invoice.amount_due_now(priced) if invoice.amount_requested is None else invoice.amount_requested
    due_now = (asked - paid_this_version).max(zero).min(balance_due)
    return Balance(invoice, priced, paid_here, paid_total, balance_due, due_now, tips)


def is_expired(row: InvoiceRow, now: datetime | None = None) -> bool:
    return (now or utcnow()) >= row.expires_at


# -- charging ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PayRequest:
    """What the page sends. No amount: the server computes it."""

    version: int
    tip: TipChoice
    saved_card_id: str | None = None  # None: a new card from ``card_fields``
    card_fields: Mapping[str, str] | None = None
    save_card: bool = False


@dataclass(frozen=True, slots=True)
class PayOutcome:
    """What happened to a charge: the payment row's id and state as the page needs them."""

    payment_id: str
    status: PaymentStatus
    message: str = ""
    action: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class _Plan:
    store_id: str
    store_name: str
    invoice_id: str
    client_id: str | None
    client: ClientInfo | None
    amount: Money
    tip: Money
    version: int


def _refuse_unpayable(row: InvoiceRow | None) -> InvoiceRow:
    if row is None or not InvoiceStatus(row.status).is_payable or is_expired(row):
        raise PaymentRefused("This payment link is no longer active")
    return row


def _plan_invoice_payment(session: Session, token_hash: str, request: PayRequest) -> _Plan:
    row = _refuse_unpayable(session.scalars(select(InvoiceRow).where(InvoiceRow.token_hash == token_hash)).one_or_none())
    store = session.get(Store, row.store_id)
    assert store is not None
    balance = balance_of(session, row, store)
    if request.version != row.version:
        raise VersionChanged(
            f"This invoice was updated. The new amount due is {balance.due_now.format()}. Please review it and pay again."
        )
    try:
        tip = tip_amount(request.tip, balance.tip_base, StoreSettings.of(store).tip_policy())
    except TipError as exc:
        raise PaymentRefused(str(exc)) from None
    if (balance.due_now + tip).is_zero():
        raise PaymentRefused("There is nothing to pay")
    client = balance.invoice.client
    return _Plan(
        store_id=store.id,
        store_name=store.name,
        invoice_id=row.id,
        client_id=client.id if client else None,
        client=ClientInfo(client.id, client.name, client.email, client.phone) if client else None,
        amount=balance.due_now,
        tip=tip,
        version=row.version,
    )


def _saved_card(session: Session, store_id: str, client_id: str | None, gateway: str, card_id: str) -> SavedCard:
    card = session.get(SavedCard, card_id)
    if card is None or client_id is None or card.store_id != store_id or card.client_id != client_id:
        raise PaymentRefused("This card is not available")
    if card.gateway != gateway or card.removed_at is not None:
        raise PaymentRefused("This card is not available")
    return card


def customer_ref(session: Session, gateway: Gateway, store_id: str, client: ClientInfo) -> str:
    """The gateway's customer for a known client, created on first need."""
    existing = session.scalars(
        select(GatewayCustomer).where(
            GatewayCustomer.store_id == store_id,
            GatewayCustomer.client_id == client.id,
            GatewayCustomer.gateway == gateway.kind,
        )
    ).one_or_none()
    ref = gateway.ensure_customer(client, existing.customer_ref if existing else None)
    if existing is None:
        session.add(GatewayCustomer(store_id=store_id, client_id=client.id, gateway=gateway.kind, customer_ref=ref))
    return ref


def pay_invoice(db: Database, gateways: GatewayDirectory, token_hash: str, request: PayRequest) -> PayOutcome:
    """Charge the invoice behind ``token_hash`` once for its version; raise :class:`PaymentRefused`.

    The payment row is committed before the gateway is called, so a crash in between leaves a pending
    row that reconciliation (``lookup`` by metadata) can finish.
    """
    with db.read() as session:
        plan = _plan_invoice_payment(session, token_hash, request)
        store = session.get(Store, plan.store_id)
        assert store is not None
        gateway = gateways.for_store(store)
        method_ref: str | None = None
        if request.saved_card_id:
            method_ref = _saved_card(session, plan.store_id, plan.client_id, gateway.kind, request.saved_card_id).method_ref
    new_card: NewCard | None = None
    if method_ref is None:
        try:
            new_card = gateway.read_new_card(request.card_fields or {})
        except Declined as exc:
            raise PaymentRefused(exc.message) from None
    save = bool(request.save_card and plan.client and new_card)

    payment_id, key, existing = _start_attempt(db, plan, gateway.kind, kind="invoice", scope=f"{plan.invoice_id}:v{plan.version}")
    if existing is not None:
        return existing
    with db.write() as session:
        customer = customer_ref(session, gateway, plan.store_id, plan.client) if (save and plan.client) else None
    return _charge(
        db,
        gateway,
        payment_id,
        ChargeRequest(
            amount=plan.amount,
            tip=plan.tip,
            idempotency_key=key,
            metadata=_metadata(plan, payment_id, "invoice"),
            method_ref=method_ref,
            new_card=new_card,
            customer_ref=customer,
            save_card=save,
            description=f"{plan.store_name} invoice",
        ),
    )


def _metadata(plan: _Plan, payment_id: str, kind: str) -> dict[str, str]:
    return {
        "store_id": plan.store_id,
        "invoice_id": plan.invoice_id,
        "invoice_version": str(plan.version),
        "payment_id": payment_id,
        "kind": kind,
    }


def _start_attempt(
    db: Database, plan: _Plan, gateway_kind: str, *, kind: str, scope: str, parent: str = ""
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
            return existing.id, key, _outcome(existing)
    raise AlreadyInProgress("This invoice is already being paid. Please wait a moment and refresh.")


def _outcome(payment: Payment, action: Mapping[str, Any] | None = None) -> PayOutcome:
    return PayOutcome(payment.id, PaymentStatus(payment.status), payment.failure_message, action)


def _charge(db: Database, gateway: Gateway, payment_id: str, request: ChargeRequest) -> PayOutcome:
    try:
        result = gateway.charge(request)
    except Declined as exc:
        return fail_payment(db, payment_id, exc.message)
    except Unavailable:
        # The charge may have gone through: ask before calling it failed (never charge twice).
        try:
            found = gateway.lookup(metadata={"payment_id": payment_id})
        except GatewayError:
            found = None
        if found is None:
            return fail_payment(db, payment_id, UNAVAILABLE_MESSAGE)
        result = found
    except GatewayError as exc:
        log.warning("charge refused by the gateway: %s", exc.message)
        return fail_payment(db, payment_id, exc.message)
    with db.write() as session:
        payment = lock_payment(session, payment_id)
        apply_gateway_payment(session, payment, result)
        return _outcome(payment, result.action or None)


def fail_payment(db: Database, payment_id: str, message: str) -> PayOutcome:
    with db.write() as session:
        payment = lock_payment(session, payment_id)
        _move(session, payment, PaymentStatus.FAILED, message=message)
        return _outcome(payment)


def lock_payment(session: Session, payment_id: str) -> Payment:
    payment = session.get(Payment, payment_id, with_for_update=True, populate_existing=True)
    if payment is None:
        raise LookupError(payment_id)
    return payment


def confirm_action(db: Database, gateways: GatewayDirectory, token_hash: str, payment_id: str, fields: Mapping[str, str]) -> PayOutcome:
    """The client finished (or failed) 3-D Secure on the page: ask the gateway and apply its answer."""
    with db.read() as session:
        payment, invoice = payment_for_token(session, token_hash, payment_id)
        store = session.get(Store, invoice.store_id)
        assert store is not None
        gateway = gateways.for_store(store)
        current, gateway_ref = _outcome(payment), payment.gateway_payment_id
    if current.status is not PaymentStatus.REQUIRES_ACTION or not gateway_ref:
        return current
    try:
        result = gateway.confirm_action(gateway_ref, fields)
    except GatewayError as exc:
        return fail_payment(db, payment_id, exc.message)
    with db.write() as session:
        locked = lock_payment(session, payment_id)
        apply_gateway_payment(session, locked, result)
        return _outcome(locked, result.action or None)


def payment_for_token(session: Session, token_hash: str, payment_id: str) -> tuple[Payment, InvoiceRow]:
    """A payment of the invoice behind ``token_hash``; ``LookupError`` for any other (no probing)."""
    invoice = session.scalars(select(InvoiceRow).where(InvoiceRow.token_hash == token_hash)).one_or_none()
    payment = session.get(Payment, payment_id) if invoice is not None else None
    if invoice is None or payment is None or payment.invoice_id != invoice.id:
        raise LookupError("no such payment")
    return payment, invoice


# -- a tip after paying ---------------------------------------------------------------------------------
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
            tip = tip_amount(choice, balance.tip_base, StoreSettings.of(store).tip_policy())
        except TipError as exc:
            raise PaymentRefused(str(exc)) from None
        if tip.is_zero():
            raise PaymentRefused("Choose a tip amount")
        gateway = gateways.for_store(store)
        plan = _Plan(store.id, store.name, invoice.id, invoice.client_id, None, Money.zero(tip.currency), tip, parent.invoice_version)
        method_ref, parent_id, invoice_id = parent.payment_method_ref, parent.id, invoice.id
    # The tip's attempt is scoped to the parent payment; the version must match the parent's.
    plan = replace(plan, version=_current_version(db, invoice_id))
    child_id, key, existing = _start_attempt(db, plan, gateway.kind, kind="tip", scope=f"tip:{parent_id}", parent=method_ref)
    if existing is not None:
        return existing
    return _charge(
        db,
        gateway,
        child_id,
        ChargeRequest(
            amount=plan.amount,
            tip=tip,
            idempotency_key=key,
            metadata={**_metadata(plan, child_id, "tip"), "parent_payment_id": parent_id},
            method_ref=method_ref,
            description=f"{plan.store_name} tip",
        ),
    )


def _current_version(db: Database, invoice_id: str) -> int:
    with db.read() as session:
        row = session.get(InvoiceRow, invoice_id)
        assert row is not None
        return row.version


def tip_added_to(session: Session, parent_id: str) -> Payment | None:
    """The succeeded tip charged after ``parent_id``, if any."""
    return session.scalars(
        select(Payment).where(
            Payment.idempotency_key.like(f"tip:{parent_id}:a%"), Payment.status == PaymentStatus.SUCCEEDED.value
        )
    ).first()


# -- applying gateway news ------------------------------------------------------------------------------
class MismatchError(ValueError):
    """A gateway reported an amount, currency or version the companion did not ask for."""


def check_matches(payment: Payment, result: GatewayPayment) -> None:
    if result.amount.currency != payment.currency:
        raise MismatchError(f"currency {result.amount.currency} differs from {payment.currency}")
    if (result.amount.minor, result.tip.minor) != (payment.amount_minor, payment.tip_minor):
        raise MismatchError(
            f"amount {result.amount.minor}+{result.tip.minor} differs from {payment.amount_minor}+{payment.tip_minor}"
        )
    version = result.metadata.get("invoice_version")
    if version is not None and version != str(payment.invoice_version):
        raise MismatchError(f"invoice version {version} differs from {payment.invoice_version}")
    payment_id = result.metadata.get("payment_id")
    if payment_id is not None and payment_id != payment.id:
        raise MismatchError("the event is for another payment")


def apply_gateway_payment(session: Session, payment: Payment, result: GatewayPayment) -> bool:
    """Apply a gateway's view of ``payment`` (locked by the caller). True when its state moved.

    Raises :class:`MismatchError` (nothing changed) when the gateway's figures differ from the record.
    """
    check_matches(payment, result)
    if payment.gateway_payment_id is None:
        payment.gateway_payment_id = result.ref
    elif payment.gateway_payment_id != result.ref:
        raise MismatchError("the event names another gateway payment")
    if result.card_last4 and not payment.card_last4:
        payment.card_brand, payment.card_last4 = result.card_brand[:20], result.card_last4[:4]
    if result.method_ref and payment.kind == "invoice":
        payment.payment_method_ref = result.method_ref[:100]
    moved = _move(session, payment, STATUS_OF_CHARGE[result.status], message=result.message)
    # Only the charge's own answer says a card was saved (webhooks do not), and it may come second.
    if PaymentStatus(payment.status) is PaymentStatus.SUCCEEDED and result.saved_method is not None:
        _remember_card(session, payment, result)
    return moved


def _move(session: Session, payment: Payment, new: PaymentStatus, *, message: str = "") -> bool:
    current = PaymentStatus(payment.status)
    if not payment_status_advances(current, new):
        return False
    payment.status = new.value
    if new is PaymentStatus.SUCCEEDED:
        # Set before the invoice's SELECT, whose autoflush writes the payment: one UPDATE, not two.
        payment.succeeded_at = utcnow()
        payment.failure_message = ""
    invoice = session.get(InvoiceRow, payment.invoice_id, with_for_update=True)
    assert invoice is not None
    if new is PaymentStatus.FAILED:
        payment.failure_message = message or "The payment did not go through"
        append_event(
            session,
            payment.store_id,
            EventType.PAYMENT_FAILED,
            invoice_id=invoice.id,
            ticket_id=invoice.ticket_id,
            data={"version": payment.invoice_version, "payment_id": payment.id, "message": payment.failure_message},
        )
    elif new is PaymentStatus.SUCCEEDED:
        _record_success(session, payment, invoice)
    elif new is PaymentStatus.REFUNDED:
        payment.refunded_minor = payment.amount_minor + payment.tip_minor
        append_event(
            session,
            payment.store_id,
            EventType.PAYMENT_REFUNDED,
            invoice_id=invoice.id,
            ticket_id=invoice.ticket_id,
            # refunded_total: what the POS records on the ticket (posdesk.sync.applying)
            data={"version": invoice.version, "payment_id": payment.id, "amount": payment.refunded_minor, "refunded_total": payment.refunded_minor},
        )
    return True


def payment_wire(payment: Payment) -> dict[str, Any]:
    """A payment as the POS records it on the ticket (:class:`posdesk.core.ticket.Payment` wire form)."""
    return {
        "id": payment.id,
        "amount": payment.amount_minor,
        "tip": payment.tip_minor,
        "currency": payment.currency,
        "method": PaymentMethod.ONLINE_CARD.value,
        "card_brand": payment.card_brand,
        "card_last4": payment.card_last4,
        "received_at": (payment.succeeded_at or utcnow()).isoformat(),
        "reference": payment.gateway_payment_id or "",
    }


def _record_success(session: Session, payment: Payment, invoice: InvoiceRow) -> None:
    store = session.get(Store, invoice.store_id)
    assert store is not None
    # The balance counts the payment's succeeded row (autoflushed), not the invoice's running totals:
    # read it first, so the invoice's totals and status go out in one UPDATE.
    balance = balance_of(session, invoice, store)
    invoice.paid_minor += payment.amount_minor
    invoice.tip_minor += payment.tip_minor
    if payment.kind == "tip":
        append_event(
            session,
            store.id,
            EventType.TIP_ADDED,
            invoice_id=invoice.id,
            ticket_id=invoice.ticket_id,
            data={"version": invoice.version, "payment": payment_wire(payment)},
        )
        return
    paid_in_full = balance.balance_due.is_zero()
    invoice.status = (InvoiceStatus.PAID if paid_in_full else InvoiceStatus.PARTIALLY_PAID).value
    append_event(
        session,
        store.id,
        EventType.INVOICE_PAID if paid_in_full else EventType.INVOICE_PARTIALLY_PAID,
        invoice_id=invoice.id,
        ticket_id=invoice.ticket_id,
        data={
            "version": invoice.version,
            "payment": payment_wire(payment),
            "paid_total": balance.paid_total.minor,
            "balance_due": balance.balance_due.minor,
        },
    )


def _remember_card(session: Session, payment: Payment, result: GatewayPayment) -> None:
    saved = result.saved_method
    invoice = session.get(InvoiceRow, payment.invoice_id)
    if saved is None or invoice is None or invoice.client_id is None:
        return
    known = session.scalars(
        select(SavedCard).where(
            SavedCard.store_id == payment.store_id,
            SavedCard.client_id == invoice.client_id,
            SavedCard.gateway == payment.gateway,
            SavedCard.method_ref == saved.ref,
        )
    ).first()
    if known is not None:
        known.removed_at = None
        return
    has_default = session.scalar(
        select(func.count())
        .select_from(SavedCard)
        .where(
            SavedCard.store_id == payment.store_id,
            SavedCard.client_id == invoice.client_id,
            SavedCard.gateway == payment.gateway,
            SavedCard.removed_at.is_(None),
            SavedCard.is_default.is_(True),
        )
    )
    session.add(
        SavedCard(
            id=uuid.uuid4().hex,
            store_id=payment.store_id,
            client_id=invoice.client_id,
            gateway=payment.gateway,
            method_ref=saved.ref,
            brand=saved.brand[:20],
            last4=saved.last4[:4],
            exp_month=saved.exp_month,
            exp_year=saved.exp_year,
            is_default=not has_default,
        )
    )


def payment_from_gateway(session: Session, result: GatewayPayment, gateway: str) -> Payment | None:
    """The payment a gateway's report is about: by the gateway's id, else by the id we gave it.

    A report about a payment the companion never recorded (it crashed between the charge and the commit)
    makes its row from the metadata, when the invoice is known; None when it is not (yet).
    """
    payment_id = result.metadata.get("payment_id")
    # One locked read for both ways of knowing the payment; the gateway's id wins when both match.
    known = session.scalars(
        select(Payment)
        .where(
            or_(
                and_(Payment.gateway == gateway, Payment.gateway_payment_id == result.ref),
                Payment.id == (payment_id or ""),
            )
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    by_ref = [p for p in known if p.gateway == gateway and p.gateway_payment_id == result.ref]
    if by_ref or known:
        return (by_ref or known)[0]
    invoice = session.get(InvoiceRow, result.metadata.get("invoice_id", ""))
    if invoice is None or not payment_id or result.metadata.get("store_id") != invoice.store_id:
        return None
    version = result.metadata.get("invoice_version", "")
    if not version.isdigit():
        return None
    kind = "tip" if result.metadata.get("kind") == "tip" else "invoice"
    payment = Payment(
        id=payment_id[:32],
        store_id=invoice.store_id,
        invoice_id=invoice.id,
        invoice_version=int(version),
        gateway=gateway,
        gateway_payment_id=None,
        idempotency_key=f"{gateway}:{result.ref}",
        kind=kind,
        status=PaymentStatus.PENDING.value,
        amount_minor=result.amount.minor,
        tip_minor=result.tip.minor,
        currency=result.amount.currency,
    )
    session.add(payment)
    session.flush()
    return payment


# -- promo codes on the page ---------------------------------------------------------------------------
def apply_promo_code(db: Database, token_hash: str, code: str, version: int) -> int:
    """Add ``code`` to the invoice as a new version (and an ``invoice.repriced`` event); return it.

    Raises :class:`PaymentRefused` with the pricing's reason when the code does not apply.
    """
    code = code.strip().upper()
    if not code or len(code) > 40:
        raise PaymentRefused("Enter a promo code")
    with db.write() as session:
        row = _refuse_unpayable(
            session.scalars(select(InvoiceRow).where(InvoiceRow.token_hash == token_hash).with_for_update()).one_or_none()
        )
        if row.version != version:
            raise VersionChanged("This invoice was updated. Please review it and try again.")
        store = session.get(Store, row.store_id)
        assert store is not None
        in_flight = session.scalar(
            select(func.count())
            .select_from(Payment)
            .where(Payment.invoice_id == row.id, Payment.status.in_([s.value for s in (*IN_FLIGHT, *COUNTED)]))
        )
        if in_flight:
            raise PaymentRefused("A promo code can no longer be added to this invoice")
        invoice = Invoice.from_wire(row.document)
        if code in invoice.promo_codes:
            raise PaymentRefused("This promo code is already applied")
        candidate = replace(invoice, promo_codes=(*invoice.promo_codes, code), version=row.version + 1)
        # The new code on its current terms; the codes already applied keep the terms they were accepted with.
        terms = {**promotions(store), **version_promotions(row.document, store)}
        priced = candidate.price(terms)
        if code not in priced.applied_promo_codes:
            raise PaymentRefused(priced.rejected_promo_codes.get(code, "Unknown or expired promo code"))
        candidate = replace(candidate, totals=totals_of(priced))
        document = with_promotion_terms(candidate.to_wire(), terms)
        row.version = candidate.version
        row.document = document
        row.amount_due_minor = candidate.amount_due_now(priced).minor
        session.add(
            InvoiceVersion(invoice_id=row.id, version=candidate.version, fingerprint=candidate.fingerprint(), document=document)
        )
        append_event(
            session,
            store.id,
            EventType.INVOICE_REPRICED,
            invoice_id=row.id,
            ticket_id=row.ticket_id,
            data={"version": candidate.version, "document": candidate.to_wire()},
        )
        return candidate.version


# -- the first visit -----------------------------------------------------------------------------------
def mark_opened(db: Database, invoice_id: str) -> bool:
    """Record the first time the link was opened (``invoice.opened``, once)."""
    with db.write() as session:
        row = session.get(InvoiceRow, invoice_id, with_for_update=True)
        if row is None or row.opened_at is not None:
            return False
        row.opened_at = utcnow()
        if row.status == InvoiceStatus.SENT.value:
            row.status = InvoiceStatus.OPENED.value
        append_event(
            session, row.store_id, EventType.INVOICE_OPENED, invoice_id=row.id, ticket_id=row.ticket_id, data={"version": row.version}
        )
        return True
