"""The confirmation page's "email me a receipt": the little form, and sending it through the Communicator.

The receipt goes out on the Communicator's email channel (:func:`posdesk.companion.communicator.send_receipt_email`),
once per payment and address: asking twice sends once. The client asking for their receipt is not consent
to the store's other emails, so the store's recorded consent is left alone. The text is written from the
companion's own records of the payment (never from the form), in the page's language; the form only
supplies the address, which is checked here before anything is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from babel.dates import format_date
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from posdesk.companion.communicator import MessagingSetup, send_receipt_email
from posdesk.companion.database import Database
from posdesk.companion.i18n import Translator
from posdesk.companion.models import Invoice as InvoiceRow
from posdesk.companion.models import Message, Payment, PaymentStatus
from posdesk.companion.pay import views
from posdesk.companion.payments import payment_for_token
from posdesk.core.links import hash_token
from posdesk.messaging import InvalidAddress
from posdesk.messaging.email import normalize_email_address

# Receipts of one invoice go to at most this many addresses: the form must not become a way to send the
# store's mail to strangers (the Communicator's per-client hourly limit is the next guard).
MAX_ADDRESSES_PER_INVOICE = 3
MAX_ADDRESS_LENGTH = 254


@dataclass(frozen=True, slots=True)
class ReceiptForm:
    """What the confirmation page shows for the receipt email.

    ``available``: the store's companion has an email channel (otherwise there is no form). ``address``:
    the field's value. ``sent_to``: the masked address once a receipt went (the form then steps aside).
    ``error``: why the last request was refused.
    """

    available: bool
    address: str = ""
    sent_to: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class ReceiptOutcome:
    form: ReceiptForm
    status_code: int


def email_available(setup: MessagingSetup) -> bool:
    return setup.channel("email") is not None


def mask_address(address: str) -> str:
    """``ana@example.com`` -> ``a***@example.com``: enough to recognise, not enough to harvest."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def prefilled_address(found: views.Found) -> str:
    """The client's email when the invoice carries one they agreed to receive mail at, else ""."""
    client = found.balance.invoice.client if found.balance is not None else None
    if client is None or not client.email_consent:
        return ""
    return client.email.strip()


def blank_form(found: views.Found, setup: MessagingSetup) -> ReceiptForm:
    return ReceiptForm(available=email_available(setup), address=prefilled_address(found))


def receipt_email(found: views.Found, receipt: views.ReceiptView, t: Translator) -> tuple[str, str]:
    """The subject and text of the receipt email, in the page's language: the payment, then the invoice
    itemised as the page's receipt shows it, then how to reach the store."""
    assert found.balance is not None and found.settings is not None and found.row is not None
    settings, invoice = found.settings, found.balance.invoice
    rows = [(t("Amount"), receipt.amount), (t("Tip"), receipt.tip)]
    if receipt.tip_added:
        rows.append((t("Tip added afterwards"), receipt.tip_added))
    rows += [(t("Total"), receipt.total), (t("Card"), receipt.card), (t("Date"), receipt.date)]
    if receipt.balance_due_minor:
        rows.append((t("Balance still due"), receipt.balance_due))
    lines = [t("Thank you for your payment to {business}.", business=settings.business_name), ""]
    lines += [f"{label}: {value}" for label, value in rows if value]
    invoice_date = format_date(found.row.created_at, "medium", locale=t.locale)
    lines += ["", f"{t('Invoice #{number}', number=invoice.ticket_number)} · {invoice_date}"]
    items, totals, payments = views.itemised(found.balance, t)
    for item in items:
        name = item.name + (f" × {item.quantity}" if item.quantity > 1 else "")
        about = " · ".join(part for part in (item.detail, item.badge) if part)
        lines.append(f"{name} ({about}): {item.amount}" if about else f"{name}: {item.amount}")
    lines += [f"{row.label}: {row.amount}" for row in (*totals, *payments)]
    lines += ["", t("Keep this email as your receipt."), ""]
    lines += [part for part in (settings.business_name, settings.address, settings.phone, settings.email) if part]
    return t("Your receipt from {business}", business=settings.business_name), "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class _Prepared:
    store_id: str
    invoice_id: str
    ticket_id: str
    client_id: str
    client_name: str
    subject: str
    text: str
    others_sent: int  # receipts of this invoice already sent to other addresses


def _prepare(db: Database, token: str, payment_id: str, address: str, t: Translator) -> _Prepared | None:
    """The receipt of a succeeded payment behind ``token``; None when there is none (no probing)."""
    with db.read() as session:
        found = views.find(session, token)
        if found.row is None or found.balance is None or found.settings is None:
            return None
        try:
            payment, _ = payment_for_token(session, hash_token(token), payment_id)
        except LookupError:
            return None
        if payment.kind != "invoice" or PaymentStatus(payment.status) is not PaymentStatus.SUCCEEDED:
            return None
        subject, text = receipt_email(found, views.receipt_view(session, found, payment, t), t)
        client = found.balance.invoice.client
        return _Prepared(
            store_id=payment.store_id,
            invoice_id=found.row.id,
            ticket_id=found.balance.invoice.ticket_id,
            # A walk-in has no client id; one per ticket keeps the Communicator's per-client limit from
            # counting every walk-in of the store as one client.
            client_id=client.id if client is not None else f"walk-in-{found.balance.invoice.ticket_id}"[:64],
            client_name=client.name if client is not None else "",
            subject=subject,
            text=text,
            others_sent=_receipts_to_others(session, payment, found.row.id, address),
        )


def _receipts_to_others(session: Session, payment: Payment, invoice_id: str, address: str) -> int:
    return _addresses_sent_to(session, payment.store_id, invoice_id, address)


def _addresses_sent_to(session: Session, store_id: str, invoice_id: str, address: str) -> int:
    """Other addresses the receipts of this invoice went to (one receipt per payment and address)."""
    count = session.scalar(
        select(func.count(func.distinct(func.lower(Message.to_address))))
        .select_from(Message)
        .where(
            Message.store_id == store_id,
            Message.invoice_id == invoice_id,
            Message.id.like("receipt-%"),
            func.lower(Message.to_address) != address.lower(),
        )
    )
    return int(count or 0)


class _CapReached(Exception):
    """The invoice's receipts already went to :data:`MAX_ADDRESSES_PER_INVOICE` other addresses."""


def _within_cap(store_id: str, invoice_id: str, address: str) -> Callable[[Session], None]:
    """The cap, checked again in the transaction that stores the receipt, with the invoice's row locked:
    receipts of one invoice are admitted one at a time, so ten at once cannot all pass a count of two."""

    def admit(session: Session) -> None:
        session.get(InvoiceRow, invoice_id, with_for_update=True)
        if _addresses_sent_to(session, store_id, invoice_id, address) >= MAX_ADDRESSES_PER_INVOICE:
            raise _CapReached()

    return admit


async def send_receipt(
    db: Database, setup: MessagingSetup, token: str, payment_id: str, typed: str, t: Translator
) -> ReceiptOutcome | None:
    """Check the address and send the receipt of ``payment_id``; None when the link has no such payment.

    The outcome's form says what the page shows next: the masked address it went to, or why not.
    """
    typed = typed.strip()
    if not email_available(setup):
        return ReceiptOutcome(ReceiptForm(False, typed, error=t("Email receipts are not available")), 503)
    try:
        if len(typed) > MAX_ADDRESS_LENGTH:
            raise InvalidAddress("too long")
        address = normalize_email_address(typed)
    except InvalidAddress:
        return ReceiptOutcome(
            ReceiptForm(True, typed[:MAX_ADDRESS_LENGTH], error=t("Enter a valid email address")), 400
        )
    prepared = await run_in_threadpool(_prepare, db, token, payment_id, address, t)
    if prepared is None:
        return None
    cap_reached = ReceiptOutcome(ReceiptForm(True, typed, error=t("No more receipts can be sent for this payment")), 429)
    if prepared.others_sent >= MAX_ADDRESSES_PER_INVOICE:
        return cap_reached
    try:
        view = await send_receipt_email(
            db,
            setup,
            store_id=prepared.store_id,
            payment_id=payment_id,
            to=address,
            subject=prepared.subject,
            text=prepared.text,
            client_id=prepared.client_id,
            client_name=prepared.client_name,
            ticket_id=prepared.ticket_id,
            invoice_id=prepared.invoice_id,
            admit=_within_cap(prepared.store_id, prepared.invoice_id, address),
        )
    except _CapReached:
        return cap_reached
    if view["status"] == "failed":
        error = t("The receipt could not be sent. Please keep this page as your receipt.")
        return ReceiptOutcome(ReceiptForm(True, typed, error=error), 502)
    # "queued" too: the Communicator retries a busy mail server by itself.
    return ReceiptOutcome(ReceiptForm(True, address, sent_to=mask_address(address)), 200)
