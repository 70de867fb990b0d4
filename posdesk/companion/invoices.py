"""Invoices as the POS uploads them: checked, re-priced, versioned, expired and revoked.

The POS sends :meth:`posdesk.core.invoice.Invoice.to_wire` plus the link token it made. The companion
re-prices the lines with the store's promotions and surcharge and refuses totals that differ, so the
page never shows (or charges) an amount the companion did not compute itself. Uploads are idempotent:
the same (invoice, version) again gets the same answer; the same version with different content is
refused as invalid (422: the idempotency key was reused), an older version is a conflict (409).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from posdesk.companion.database import Database
from posdesk.companion.events import append_invoice_event
from posdesk.companion.models import (
    Invoice,
    InvoiceStatus,
    InvoiceVersion,
    Payment,
    PaymentStatus,
    Store,
    utcnow,
)
from posdesk.companion.stores import (
    StoreSettings,
    promotions,
    store_promotions_wire,
    stored_promotions,
)
from posdesk.core.events import EventType
from posdesk.core.invoice import Invoice as InvoiceDocument
from posdesk.core.invoice import InvoiceFormatError, check_requested_amount, totals_difference
from posdesk.core.links import hash_token, is_well_formed_token
from posdesk.core.pricing import Promotion

MAX_LINK_LIFETIME = timedelta(days=90)
PAYABLE = tuple(status.value for status in InvoiceStatus if status.is_payable)


# The stored document of a version carries the terms of its promotions as they were when the version
# was accepted: a promotion the manager edits later changes the next version, never this one's figures.
PROMOTION_TERMS = "promotion_terms"


def with_promotion_terms(document: Mapping[str, Any], terms: Mapping[str, Promotion]) -> dict[str, Any]:
    """``document`` (wire form) with the terms of each of its promo codes frozen in it."""
    codes = {str(code).strip().upper() for code in document.get("promo_codes", [])}
    frozen = {code: promotion for code, promotion in terms.items() if code in codes}
    return {**document, PROMOTION_TERMS: store_promotions_wire(frozen)}


def version_promotions(document: Mapping[str, Any], store: Store) -> dict[str, Promotion]:
    """The promotions a stored version is priced with: its frozen terms (the store's current ones for a
    document stored before terms were frozen)."""
    terms = document.get(PROMOTION_TERMS)
    if not isinstance(terms, Mapping):
        return promotions(store)
    return stored_promotions(terms, store.currency)


class InvoiceRefused(Exception):
    """An upload or change the companion will not make; ``status_code`` and ``body`` are the answer."""

    status_code = 400

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.body: dict[str, Any] = {"detail": detail, **extra}


class InvoiceInvalid(InvoiceRefused):
    status_code = 422


class InvoiceConflict(InvoiceRefused):
    status_code = 409


class InvoiceKeyReused(InvoiceInvalid):
    """The same (invoice, version), the upload's idempotency key, with other content: 422, never applied."""


class InvoiceNotFound(InvoiceRefused):
    status_code = 404

    def __init__(self) -> None:
        super().__init__("No such invoice")


def checked_document(
    store: Store, invoice_id: str, body: Mapping[str, Any]
) -> tuple[InvoiceDocument, int, str]:
    """Read and re-price an upload; return the document, the amount due now (minor) and the token hash."""
    token = body.get("link_token")
    if not is_well_formed_token(token):
        raise InvoiceInvalid("invoice.link_token: must be a link token the POS made (192 random bits, URL-safe)")
    assert isinstance(token, str)
    try:
        document = InvoiceDocument.from_wire({k: v for k, v in body.items() if k != "link_token"})
    except InvoiceFormatError as exc:
        raise InvoiceInvalid(str(exc)) from None
    if document.invoice_id != invoice_id:
        raise InvoiceInvalid("invoice.invoice_id: differs from the invoice id in the address")
    if document.currency != store.currency:
        raise InvoiceInvalid(f"invoice.currency: this store charges in {store.currency}")
    settings = StoreSettings.of(store)
    if document.surcharge_rate != settings.surcharge_rate:
        raise InvoiceInvalid(
            "invoice.surcharge_rate: differs from the store's surcharge; refresh the settings and price again",
            difference={
                "surcharge_rate": {
                    "claimed": str(document.surcharge_rate),
                    "computed": str(settings.surcharge_rate),
                }
            },
        )
    try:
        priced = document.price(promotions(store))
    except ValueError as exc:
        raise InvoiceInvalid(f"invoice: cannot be priced: {exc}") from None
    difference = totals_difference(document.totals, priced)
    if difference:
        raise InvoiceInvalid("invoice.totals: differ from the companion's pricing", difference=difference)
    if document.amount_requested is not None:
        try:
            check_requested_amount(document.amount_requested, priced.balance_due)
        except ValueError as exc:
            raise InvoiceInvalid(f"invoice.amount_requested: {exc}") from None
    return document, document.card_charge(document.amount_due_now(priced)).minor, hash_token(token)


def upsert_invoice(
    session: Session, store: Store, invoice_id: str, body: Mapping[str, Any], *, now: datetime | None = None
) -> Invoice:
    """Store an uploaded invoice version (see the module docstring); raise :class:`InvoiceRefused`."""
    now = now or utcnow()
    document, amount_due, token_hash = checked_document(store, invoice_id, body)
    fingerprint = document.fingerprint()
    stored = with_promotion_terms(document.to_wire(), promotions(store))
    expires_at = min(document.expires_at, now + MAX_LINK_LIFETIME)
    client_id = document.client.id if document.client else None
    held = session.scalars(select(Invoice).where(Invoice.id == invoice_id).with_for_update()).one_or_none()
    if held is not None and held.store_id != store.id:
        raise InvoiceNotFound()
    owner = session.scalars(select(Invoice.id).where(Invoice.token_hash == token_hash)).one_or_none()
    if owner is not None and owner != invoice_id:
        raise InvoiceConflict("This link token belongs to another invoice; make a new token")

    if held is None:
        paid_ticket = session.scalars(
            select(Invoice.id).where(
                Invoice.store_id == store.id,
                Invoice.ticket_id == document.ticket_id,
                Invoice.status == InvoiceStatus.PAID.value,
            )
        ).first()
        if paid_ticket is not None:
            raise InvoiceConflict("This ticket is already paid; it cannot be invoiced again")
        held = Invoice(
            id=invoice_id,
            store_id=store.id,
            ticket_id=document.ticket_id,
            version=document.version,
            token_hash=token_hash,
            status=InvoiceStatus.SENT.value,
            currency=document.currency,
            client_id=client_id,
            document=stored,
            amount_due_minor=amount_due,
            paid_minor=0,
            tip_minor=0,
            expires_at=expires_at,
            created_at=now,
            updated_at=now,
        )
        session.add(held)
    else:
        if held.token_hash != token_hash:
            raise InvoiceConflict("An invoice's link token cannot change; make a new invoice for a new link")
        if held.ticket_id != document.ticket_id:
            raise InvoiceConflict("This invoice belongs to another ticket")
        earlier = session.scalars(
            select(InvoiceVersion).where(
                InvoiceVersion.invoice_id == invoice_id, InvoiceVersion.version == document.version
            )
        ).one_or_none()
        if earlier is not None and earlier.fingerprint == fingerprint:
            return held  # a retried upload: same answer, nothing changes
        if document.version < held.version:
            raise InvoiceConflict(
                f"The companion holds version {held.version}; version {document.version} is out of date",
                current_version=held.version,
            )
        if earlier is not None:
            raise InvoiceKeyReused(
                f"Version {document.version} was already uploaded with different content; send a new version",
                current_version=held.version,
            )
        status = InvoiceStatus(held.status)
        if status is InvoiceStatus.PAID:
            raise InvoiceConflict(
                "This invoice is paid; a paid ticket cannot change", current_version=held.version
            )
        if status is InvoiceStatus.REVOKED:
            raise InvoiceConflict("This link was revoked; send a new invoice", current_version=held.version)
        held.version = document.version
        held.document = stored
        held.amount_due_minor = amount_due
        held.client_id = client_id
        held.expires_at = expires_at
        held.status = (InvoiceStatus.PARTIALLY_PAID if held.paid_minor > 0 else InvoiceStatus.SENT).value
        held.updated_at = now
    session.add(
        InvoiceVersion(
            invoice_id=invoice_id,
            version=document.version,
            fingerprint=fingerprint,
            document=stored,
            created_at=now,
        )
    )
    session.flush()
    append_invoice_event(
        session, held, EventType.INVOICE_UPDATED, {"status": held.status, "document": document.to_wire()}, at=now
    )
    expire_if_due(session, held, now=now)
    return held


def store_invoice(session: Session, store_id: str, invoice_id: str) -> Invoice:
    """The store's invoice, or :class:`InvoiceNotFound` (also for another store's invoice)."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or invoice.store_id != store_id:
        raise InvoiceNotFound()
    return invoice


def revoke_invoice(
    session: Session, store_id: str, invoice_id: str, *, now: datetime | None = None
) -> Invoice:
    """Revoke the link (ticket voided or link leaked). Idempotent; a paid invoice cannot be revoked."""
    now = now or utcnow()
    invoice = session.scalars(
        select(Invoice).where(Invoice.id == invoice_id, Invoice.store_id == store_id).with_for_update()
    ).one_or_none()
    if invoice is None:
        raise InvoiceNotFound()
    status = InvoiceStatus(invoice.status)
    if status is InvoiceStatus.REVOKED:
        return invoice
    if status is InvoiceStatus.PAID:
        raise InvoiceConflict("This invoice is paid; there is no open link to revoke")
    invoice.status = InvoiceStatus.REVOKED.value
    invoice.updated_at = now
    append_invoice_event(session, invoice, EventType.LINK_REVOKED, at=now)
    return invoice


# -- expiry ----------------------------------------------------------------------------------------
def is_due(invoice: Invoice, *, now: datetime | None = None) -> bool:
    """Whether the link is still payable but past its expiry (read-only check)."""
    return InvoiceStatus(invoice.status).is_payable and invoice.expires_at <= (now or utcnow())


def expire_if_due(session: Session, invoice: Invoice, *, now: datetime | None = None) -> bool:
    """In a write transaction: mark ``invoice`` EXPIRED (with its event) if its link is past expiry."""
    now = now or utcnow()
    if not is_due(invoice, now=now):
        return False
    moved: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Invoice)
        .where(Invoice.id == invoice.id, Invoice.status.in_(PAYABLE), Invoice.expires_at <= now)
        .values(status=InvoiceStatus.EXPIRED.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if not moved.rowcount:  # another worker expired it first
        return False
    invoice.status = InvoiceStatus.EXPIRED.value
    append_invoice_event(session, invoice, EventType.LINK_EXPIRED, at=now)
    return True


def expire_due_invoices(db: Database, *, now: datetime | None = None, batch: int = 200) -> int:
    """Expire every payable invoice past its expiry (one short transaction each); return how many."""
    now = now or utcnow()
    with db.read() as session:
        due = session.scalars(
            select(Invoice.id).where(Invoice.status.in_(PAYABLE), Invoice.expires_at <= now).limit(batch)
        ).all()
    expired = 0
    for invoice_id in due:
        with db.write() as session:
            invoice = session.get(Invoice, invoice_id)
            if invoice is not None and expire_if_due(session, invoice, now=now):
                expired += 1
    return expired


# -- what the POS reads ----------------------------------------------------------------------------
def payment_view(payment: Payment) -> dict[str, Any]:
    """A payment as the POS API and the events show it (amounts in minor units)."""
    received = payment.succeeded_at or payment.created_at
    return {
        "id": payment.id,
        "status": payment.status,
        "kind": payment.kind,
        "invoice_version": payment.invoice_version,
        "amount": payment.amount_minor,
        "tip": payment.tip_minor,
        "currency": payment.currency,
        "refunded": payment.refunded_minor,
        "method": "online_card",
        "card_brand": payment.card_brand,
        "card_last4": payment.card_last4,
        "received_at": received.isoformat(),
        "reference": payment.gateway_payment_id or payment.id,
        "failure_message": payment.failure_message if payment.status == PaymentStatus.FAILED.value else "",
    }


def invoice_view(session: Session, invoice: Invoice) -> dict[str, Any]:
    """The answer of ``GET /invoices/{id}`` and of a successful ``PUT``."""
    payments = session.scalars(
        select(Payment).where(Payment.invoice_id == invoice.id).order_by(Payment.created_at, Payment.id)
    ).all()
    totals = invoice.document.get("totals", {})
    return {
        "invoice_id": invoice.id,
        "ticket_id": invoice.ticket_id,
        "version": invoice.version,
        "status": invoice.status,
        "link_status": invoice.status,
        "currency": invoice.currency,
        "total": totals.get("total", 0),
        "balance_due": totals.get("balance_due", 0),
        "amount_due": invoice.amount_due_minor,
        "paid": invoice.paid_minor,
        "tip": invoice.tip_minor,
        "expires_at": invoice.expires_at.isoformat(),
        "opened_at": invoice.opened_at.isoformat() if invoice.opened_at else None,
        "updated_at": invoice.updated_at.isoformat(),
        "payments": [payment_view(p) for p in payments],
    }
