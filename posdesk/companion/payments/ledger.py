"""The ledger: the only code that changes a payment's state.

Whatever the news comes from -- the charge call's answer, the page after 3-D Secure, a webhook,
reconciliation, a refund from the POS -- it is applied here, to a payment row taken under a lock
(:func:`lock_payment`), checked against the companion's record (:func:`check_matches`), moved forward
only (a late "failed" never undoes "succeeded", see :func:`posdesk.companion.models.payment_status_advances`),
and the POS events are appended in the same transaction. No function here calls a gateway.

A batch of webhooks' plain "payment succeeded" reports is applied by :mod:`.ledger_batch`, the same
rules with a few statements for the whole batch; everything else comes here one at a time.

Refunds are recorded as the refunded total, which only grows (:func:`record_refund`): duplicated,
reordered and late reports are harmless. A refund reported before the success it refunds records the
success first, so the two are recorded in order whatever order they arrive in.

A success for an attempt whose invoice moved on (a new version, a revoked or expired link) is recorded
as ``stale``: never counted toward the invoice, refunded automatically
(:mod:`posdesk.companion.payments.supersede`). A report that disagrees with the record is applied to
nothing and raises ``payment.needs_review`` (:func:`needs_review`).
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from posdesk.companion.events import append_event, append_invoice_event
from posdesk.companion.models import (
    Event,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    Store,
    payment_status_advances,
    utcnow,
)
from posdesk.companion.models import Invoice as InvoiceRow
from posdesk.companion.payments.balance import IN_STORE, as_ticket_payment, balance_of
from posdesk.companion.payments.errors import MismatchError
from posdesk.companion.payments.saved_cards import save_card
from posdesk.companion.payments.values import STATUS_OF_CHARGE
from posdesk.companion.stores import StoreSettings
from posdesk.core.events import EventType
from posdesk.core.invoice import payment_to_wire
from posdesk.core.money import Money
from posdesk.core.ticket import PaymentMethod
from posdesk.gateways.base import GatewayPayment

log = logging.getLogger(__name__)

REFUNDABLE = (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)
REVIEW_UNKNOWN = "unknown"  # kept for review because nobody knew whether the card was charged
REVIEW_OPEN = ("open", REVIEW_UNKNOWN)  # ``Payment.review`` while a manager has to decide
ENDED = (PaymentStatus.SUCCEEDED, PaymentStatus.STALE, PaymentStatus.FAILED, PaymentStatus.CANCELED)
NOT_ACTIVE = (InvoiceStatus.REVOKED, InvoiceStatus.EXPIRED)
_stale_seen = threading.Event()  # a stale success was recorded: someone outside a transaction refunds it


def stale_seen() -> bool:
    """True once after a stale success was recorded (the flag is cleared by asking)."""
    if _stale_seen.is_set():
        _stale_seen.clear()
        return True
    return False




def is_stale(payment: Payment, invoice: InvoiceRow) -> bool:
    """True when a success of ``payment`` may no longer count: its version is not the invoice's current
    one, or the link is no longer active. Tips after paying belong to their payment, not a version;
    money taken at the counter was handed over in person."""
    if payment.kind != "invoice" or payment.gateway == IN_STORE:
        return False
    return payment.invoice_version != invoice.version or InvoiceStatus(invoice.status) in NOT_ACTIVE


def lock_payment(session: Session, payment_id: str) -> Payment:
    """The payment row under its lock (read afresh), or ``LookupError``."""
    payment = session.get(Payment, payment_id, with_for_update=True, populate_existing=True)
    if payment is None:
        raise LookupError(payment_id)
    return payment


# -- news from a gateway ---------------------------------------------------------------------------
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
    new = STATUS_OF_CHARGE[result.status]
    moved = False
    if new is PaymentStatus.REFUNDED and PaymentStatus(payment.status) not in (*REFUNDABLE, PaymentStatus.STALE):
        # Refunded before its success was recorded (reports out of order): the success comes first.
        moved = move(session, payment, PaymentStatus.SUCCEEDED)
    if new is PaymentStatus.REFUNDED and PaymentStatus(payment.status) is PaymentStatus.STALE:
        moved = stale_refunded(session, payment) or moved
    else:
        moved = move(session, payment, new, message=result.message) or moved
    remember_card(session, payment, result)
    return moved


def remember_card(session: Session, payment: Payment, result: GatewayPayment) -> None:
    """Keep the card the client asked to save, once the payment succeeded (whichever report came first)."""
    if result.saved_method is None or PaymentStatus(payment.status) not in REFUNDABLE:
        return
    invoice = session.get(InvoiceRow, payment.invoice_id)
    if invoice is not None and invoice.client_id is not None:
        save_card(session, payment.store_id, invoice.client_id, payment.gateway, result.saved_method)


def move(session: Session, payment: Payment, new: PaymentStatus, *, message: str = "") -> bool:
    """Move ``payment`` (locked) to ``new`` when that is forward, with its POS event; True when it moved."""
    current = PaymentStatus(payment.status)
    if not payment_status_advances(current, new):
        return False
    invoice = session.get(InvoiceRow, payment.invoice_id, with_for_update=True)
    assert invoice is not None
    if new is PaymentStatus.SUCCEEDED and (is_stale(payment, invoice) or _paid_at_counter(session, payment, invoice)):
        new = PaymentStatus.STALE
        _stale_seen.set()
        log.warning("payment %s succeeded for version %s of invoice %s, now at %s (%s): refunding it",
                    payment.id, payment.invoice_version, invoice.id, invoice.version, invoice.status)
    payment.status = new.value
    if payment.review == REVIEW_UNKNOWN and new in ENDED:
        _answered_late(session, payment, invoice)
    if new in (PaymentStatus.SUCCEEDED, PaymentStatus.STALE):
        payment.succeeded_at = utcnow()
        if new is PaymentStatus.SUCCEEDED:
            payment.failure_message = ""
    if new is PaymentStatus.FAILED:
        payment.failure_message = message or "The payment did not go through"
        append_invoice_event(
            session,
            invoice,
            EventType.PAYMENT_FAILED,
            # the version the attempt was for, which may be behind the invoice's
            {"version": payment.invoice_version, "payment_id": payment.id, "message": payment.failure_message},
        )
    elif new is PaymentStatus.SUCCEEDED:
        _record_success(session, payment, invoice)
    elif new is PaymentStatus.REFUNDED:
        payment.refunded_minor = payment.amount_minor + payment.tip_minor
        _refunded_event(session, payment, invoice, amount=payment.refunded_minor, total=payment.refunded_minor)
    return True


def _refunded_event(session: Session, payment: Payment, invoice: InvoiceRow, *, amount: int, total: int) -> None:
    # refunded_total: what the POS records on the ticket (posdesk.sync.applying)
    append_invoice_event(
        session,
        invoice,
        EventType.PAYMENT_REFUNDED,
        {"payment_id": payment.id, "amount": amount, "refunded_total": total},
    )


PAID_AT_COUNTER = "The balance was paid at the counter meanwhile"


def _paid_at_counter(session: Session, payment: Payment, invoice: InvoiceRow) -> bool:
    """True when an online payment would take more than is still due because money taken at the counter
    came first (the cashier and the client paid at the same moment): the whole online payment is then
    stale (refunded), since the counter's money is already in the till. The link is re-issued or revoked
    by the POS for what is left."""
    if payment.kind != "invoice" or payment.gateway == IN_STORE:
        return False
    at_counter = session.scalars(
        select(Payment.id).where(
            Payment.invoice_id == invoice.id,
            Payment.gateway == IN_STORE,
            Payment.status.in_([s.value for s in REFUNDABLE]),
        )
    ).first()
    if at_counter is None:
        return False
    store = session.get(Store, invoice.store_id)
    assert store is not None
    balance = balance_of(session, invoice, store)
    if balance.toward(payment) <= balance.balance_due:
        return False
    payment.failure_message = PAID_AT_COUNTER
    return True


def _answered_late(session: Session, payment: Payment, invoice: InvoiceRow) -> None:
    """The gateway answered for a payment kept for review because nobody knew whether it was charged:
    its answer settles the review (``payment.review_settled``), as a manager would have."""
    payment.review = "found"
    append_invoice_event(
        session,
        invoice,
        EventType.PAYMENT_REVIEW_SETTLED,
        {"payment_id": payment.id, "decision": "gateway", "settled_as": "found", "status": payment.status},
    )


def stale_refunded(session: Session, payment: Payment) -> bool:
    """The gateway refunded a stale success in full (``payment.refunded_stale``); True when recorded now."""
    total = payment.amount_minor + payment.tip_minor
    if PaymentStatus(payment.status) is not PaymentStatus.STALE or payment.refunded_minor >= total:
        return False
    invoice = session.get(InvoiceRow, payment.invoice_id)
    assert invoice is not None
    payment.refunded_minor = total
    reason = "revoked" if invoice.status == InvoiceStatus.REVOKED.value else (
        "expired" if invoice.status == InvoiceStatus.EXPIRED.value else "superseded"
    )
    if payment.failure_message == PAID_AT_COUNTER:
        reason = "paid_at_counter"
    elif payment.review == "refunded":
        reason = "review"  # a manager chose to give it back
    append_invoice_event(
        session,
        invoice,
        EventType.PAYMENT_REFUNDED_STALE,
        {
            "payment_id": payment.id,
            "invoice_version": payment.invoice_version,
            "amount": payment.refunded_minor,
            "currency": payment.currency,
            "reason": reason,
            "reference": payment.gateway_payment_id or "",
        },
    )
    return True


def needs_review(session: Session, store_id: str, payment: Payment | None, reason: str, **data: Any) -> None:
    """Keep a disagreeing report for a manager: ``payment.needs_review`` to the store's terminals."""
    invoice = session.get(InvoiceRow, payment.invoice_id) if payment is not None else None
    log.warning("payment report for review (store %s): %s", store_id, reason)
    if payment is not None and payment.store_id == store_id and payment.review not in REVIEW_OPEN:
        # Settled by a manager (payments.review); an unknown outcome also by the gateway's late answer.
        payment.review = REVIEW_UNKNOWN if data.get("unknown_outcome") else REVIEW_OPEN[0]
        payment.review_reason = reason[:500]
    append_event(
        session,
        store_id,
        EventType.PAYMENT_NEEDS_REVIEW,
        invoice_id=invoice.id if invoice is not None else None,
        ticket_id=invoice.ticket_id if invoice is not None else None,
        data={"payment_id": payment.id if payment is not None else None, "reason": reason[:500], **data},
    )


def keep_out(session: Session, payment: Payment, taken: GatewayPayment) -> None:
    """A manager chose to give back what the gateway took for ``payment`` (locked), kept for review:
    recorded as taken (the gateway's figures) but never counted toward the invoice (``stale``), to be
    refunded in full like any stale success."""
    if taken.amount.currency != payment.currency:
        raise MismatchError(f"currency {taken.amount.currency} differs from {payment.currency}")
    if PaymentStatus(payment.status) in (*REFUNDABLE, PaymentStatus.STALE):
        return
    payment.amount_minor, payment.tip_minor = taken.amount.minor, taken.tip.minor
    if payment.gateway_payment_id is None:
        payment.gateway_payment_id = taken.ref[:100]
    payment.status = PaymentStatus.STALE.value
    payment.succeeded_at = utcnow()
    payment.failure_message = ""
    _stale_seen.set()


def review_raised(session: Session, payment: Payment) -> bool:
    """Whether ``payment.needs_review`` was already reported for ``payment``."""
    reported = session.scalars(
        select(Event.data).where(
            Event.store_id == payment.store_id,
            Event.type == EventType.PAYMENT_NEEDS_REVIEW.value,
            Event.invoice_id == payment.invoice_id,
        )
    )
    return any(data.get("payment_id") == payment.id for data in reported)


def unknown(session: Session, payment: Payment, ref: str | None) -> bool:
    """Nobody knows yet whether the gateway took the money: the payment waits as ``processing`` (never
    failed) with the attempt's id when the gateway gave one, for the page and reconciliation to ask."""
    if ref and payment.gateway_payment_id is None:
        payment.gateway_payment_id = ref[:100]
    return move(session, payment, PaymentStatus.PROCESSING)


def fail(session: Session, payment: Payment, message: str) -> bool:
    """The gateway declined (explicitly): the attempt is over and the client may try another card."""
    return move(session, payment, PaymentStatus.FAILED, message=message)


def cancel(payment: Payment) -> bool:
    """An attempt cancelled at the gateway: over, quietly (nothing was charged)."""
    if (
        payment_status_advances(PaymentStatus(payment.status), PaymentStatus.CANCELED)
        and payment.status != PaymentStatus.FAILED.value
    ):
        payment.status = PaymentStatus.CANCELED.value
        return True
    return False


def ticket_payment_id(payment: Payment) -> str:
    """The id the POS records ``payment`` under on its ticket: a counter tender keeps the terminal's id."""
    prefix = f"{IN_STORE}:"
    if payment.gateway == IN_STORE and payment.idempotency_key.startswith(prefix):
        return payment.idempotency_key[len(prefix):]
    return payment.id


def payment_wire(payment: Payment) -> dict[str, Any]:
    """A payment as the events tell the POS: the wire form of the ticket's payment, with its currency."""
    return {**payment_to_wire(as_ticket_payment(payment)), "currency": payment.currency}


def _record_success(session: Session, payment: Payment, invoice: InvoiceRow) -> None:
    store = session.get(Store, invoice.store_id)
    assert store is not None
    # The balance counts the payment's succeeded row (autoflushed), not the invoice's running totals:
    # read it first, so the invoice's totals and status go out in one UPDATE.
    balance = balance_of(session, invoice, store)
    invoice.paid_minor += payment.amount_minor
    invoice.tip_minor += payment.tip_minor
    if payment.kind == "tip":
        append_invoice_event(session, invoice, EventType.TIP_ADDED, {"payment": payment_wire(payment)})
        return
    paid_in_full = balance.balance_due.is_zero()
    # Money at the counter on a ticket whose link was revoked or expired never makes the link payable again.
    if paid_in_full or InvoiceStatus(invoice.status) not in NOT_ACTIVE:
        invoice.status = (InvoiceStatus.PAID if paid_in_full else InvoiceStatus.PARTIALLY_PAID).value
    append_invoice_event(
        session,
        invoice,
        EventType.INVOICE_PAID if paid_in_full else EventType.INVOICE_PARTIALLY_PAID,
        {
            "payment": payment_wire(payment),
            "paid_total": balance.paid_total.minor,
            "balance_due": balance.balance_due.minor,
        },
    )


# -- money taken at the counter ----------------------------------------------------------------------
def record_in_store_tender(
    session: Session,
    *,
    store_id: str,
    invoice_id: str,
    tender_id: str,
    amount: Money,
    tip: Money,
    method: PaymentMethod,
) -> Payment:
    """Record a payment that did not go through a gateway (cash, a counter card terminal, a gift card)
    against a store's invoice, under the invoice's lock: the same succeeded move and
    ``invoice.paid``/``invoice.partially_paid`` events as an online payment, and it lowers what the link
    charges. Idempotent by the POS's ``tender_id`` (the payment's id, so the terminals' tickets know it
    as the tender they hold); the same id with other figures is a :class:`MismatchError`.

    Money at the counter was handed over in person, so it is always recorded. When it is more than was
    still due (the client paid online a moment before), the difference is kept for a manager:
    ``payment.needs_review`` with ``overpaid`` (the manager hands cash back or refunds the online payment).
    """
    if method is PaymentMethod.ONLINE_CARD:
        raise ValueError("an online card payment goes through a gateway")
    if amount.currency != tip.currency or amount.is_negative() or tip.is_negative() or (amount + tip).is_zero():
        raise MismatchError("a tender must be a positive amount in one currency")
    key = f"{IN_STORE}:{tender_id}"[:200]
    invoice = session.get(InvoiceRow, invoice_id, with_for_update=True)
    if invoice is None or invoice.store_id != store_id:
        raise LookupError(invoice_id)
    existing = session.scalars(select(Payment).where(Payment.idempotency_key == key)).one_or_none()
    if existing is not None:
        if (existing.store_id, existing.invoice_id, existing.amount_minor, existing.tip_minor, existing.currency) != (
            store_id, invoice_id, amount.minor, tip.minor, amount.currency
        ):
            raise MismatchError("this tender was recorded with other figures")
        return existing
    if invoice.currency != amount.currency:
        raise MismatchError(f"currency {amount.currency} differs from the invoice's {invoice.currency}")
    store = session.get(Store, store_id)
    assert store is not None
    payment = Payment(
        id=tender_id if len(tender_id) <= 32 else uuid.uuid4().hex,
        store_id=store_id,
        invoice_id=invoice_id,
        invoice_version=invoice.version,
        gateway=IN_STORE,
        gateway_payment_id=None,
        idempotency_key=key,
        kind="invoice",
        status=PaymentStatus.PENDING.value,
        amount_minor=amount.minor,
        tip_minor=tip.minor,
        currency=amount.currency,
        payment_method_ref=method.value,
    )
    before = balance_of(session, invoice, store)
    session.add(payment)
    session.flush()
    move(session, payment, PaymentStatus.SUCCEEDED)
    overpaid = before.toward(payment) - before.balance_due
    if overpaid.is_positive():
        needs_review(
            session,
            store_id,
            payment,
            f"{method.value} taken at the counter after the invoice was paid: {overpaid.format()} more than was due",
            overpaid=overpaid.minor,
            currency=overpaid.currency,
        )
    return payment


# -- refunds ---------------------------------------------------------------------------------------
def record_refund(session: Session, payment: Payment, refunded_total: Money) -> bool:
    """Move ``payment`` (locked by the caller) up to ``refunded_total``; True when it moved.

    Fully refunded makes the payment ``refunded``. A total above what was paid is refused (logged)
    rather than believed.
    """
    paid = payment.amount_minor + payment.tip_minor
    total = refunded_total.minor
    if refunded_total.currency != payment.currency or total > paid:
        log.warning("refund report for payment %s refused: %s of %s %s", payment.id, total, paid, payment.currency)
        return False
    if PaymentStatus(payment.status) is PaymentStatus.STALE:
        return total == paid and stale_refunded(session, payment)
    if total <= payment.refunded_minor or PaymentStatus(payment.status) not in REFUNDABLE:
        return False
    amount = total - payment.refunded_minor
    payment.refunded_minor = total
    if total == paid:
        payment.status = PaymentStatus.REFUNDED.value
    invoice = session.get(InvoiceRow, payment.invoice_id)
    assert invoice is not None
    _refunded_event(session, payment, invoice, amount=amount, total=total)
    return True


# -- which payment a report is about -----------------------------------------------------------------
def payment_by_ref(session: Session, gateway: str, ref: str, store_id: str | None = None) -> Payment | None:
    """The payment the gateway knows as ``ref``, locked; None when the companion never recorded it.

    ``store_id``: the store whose secret verified the report; a payment of another store is a
    :class:`MismatchError` (a store's gateway account can only speak for that store).
    """
    row = session.execute(
        select(Payment.id, Payment.store_id).where(Payment.gateway == gateway, Payment.gateway_payment_id == ref)
    ).first()
    if row is None:
        return None
    if store_id is not None and row.store_id != store_id:
        raise MismatchError("the report names another store's payment")
    return lock_payment(session, row.id)


def payment_from_gateway(session: Session, result: GatewayPayment, gateway: str, store_id: str | None = None) -> Payment | None:
    """The payment a gateway's report is about: by the gateway's id, else by the id we gave it, within
    the store whose secret verified the report (``store_id``; None for a companion-wide secret).

    A report about a payment the companion never recorded (it crashed between the charge and the commit)
    makes its row from the metadata when the invoice is known and the figures are believable (a positive
    amount within the balance, a tip within the cap, a version the invoice had); None while the invoice
    is not known (yet). :class:`MismatchError` when the report cannot be about this store's payment or is
    not believable: the caller keeps it for review.
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
    if store_id is not None and any(p.store_id != store_id for p in known):
        raise MismatchError("the report names another store's payment")
    by_ref = [p for p in known if p.gateway == gateway and p.gateway_payment_id == result.ref]
    if by_ref or known:
        return (by_ref or known)[0]
    invoice = session.get(InvoiceRow, result.metadata.get("invoice_id", ""))
    if invoice is None or not payment_id:
        return None
    if result.metadata.get("store_id") != invoice.store_id or (store_id is not None and invoice.store_id != store_id):
        raise MismatchError("the report names another store's invoice")
    _check_believable(session, invoice, result)
    kind = "tip" if result.metadata.get("kind") == "tip" else "invoice"
    payment = Payment(
        id=payment_id[:32],
        store_id=invoice.store_id,
        invoice_id=invoice.id,
        invoice_version=int(result.metadata.get("invoice_version", "")),
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


def _check_believable(session: Session, invoice: InvoiceRow, result: GatewayPayment) -> None:
    """A payment the companion never recorded is believed only within what the invoice could have asked."""
    version = result.metadata.get("invoice_version", "")
    if not (version.isascii() and version.isdigit()) or not 1 <= int(version) <= invoice.version:
        raise MismatchError(f"invoice version {version[:12]!r} was never issued (the invoice is at {invoice.version})")
    if result.amount.currency != invoice.currency:
        raise MismatchError(f"currency {result.amount.currency} differs from the invoice's {invoice.currency}")
    if result.amount.is_negative() or result.tip.is_negative() or (result.amount + result.tip).is_zero():
        raise MismatchError(f"amount {result.amount.minor}+{result.tip.minor} is not a positive payment")
    store = session.get(Store, invoice.store_id)
    assert store is not None
    balance = balance_of(session, invoice, store)
    if result.amount > balance.invoice.card_charge(balance.balance_due):
        raise MismatchError(f"amount {result.amount.minor} is more than the balance {balance.balance_due.minor}")
    if result.tip > StoreSettings.of(store).tip_policy().cap(balance.tip_base):
        raise MismatchError(f"tip {result.tip.minor} is more than the store's tip cap")
