"""What the payment page changes on the invoice itself: a promo code (a new version) and the first visit."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import func, select

from posdesk.companion.database import Database
from posdesk.companion.events import append_invoice_event
from posdesk.companion.invoices import version_promotions, with_promotion_terms
from posdesk.companion.models import Invoice as InvoiceRow
from posdesk.companion.models import InvoiceStatus, InvoiceVersion, Payment, Store, utcnow
from posdesk.companion.payments.attempts import refuse_unpayable
from posdesk.companion.payments.errors import PaymentRefused, VersionChanged
from posdesk.companion.payments.values import COUNTED, IN_FLIGHT
from posdesk.companion.stores import promotions
from posdesk.core.events import EventType
from posdesk.core.invoice import Invoice, totals_of


def apply_promo_code(db: Database, token_hash: str, code: str, version: int) -> int:
    """Add ``code`` to the invoice as a new version (and an ``invoice.repriced`` event); return it.

    Raises :class:`PaymentRefused` with the pricing's reason when the code does not apply.
    """
    code = code.strip().upper()
    if not code or len(code) > 40:
        raise PaymentRefused("Enter a promo code")
    with db.write() as session:
        row = refuse_unpayable(
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
        row.amount_due_minor = candidate.card_charge(candidate.amount_due_now(priced)).minor
        session.add(InvoiceVersion(invoice_id=row.id, version=candidate.version, fingerprint=candidate.fingerprint(), document=document))
        append_invoice_event(session, row, EventType.INVOICE_REPRICED, {"document": candidate.to_wire()})
        return candidate.version


def mark_opened(db: Database, invoice_id: str) -> bool:
    """Record the first time the link was opened (``invoice.opened``, once)."""
    with db.write() as session:
        row = session.get(InvoiceRow, invoice_id, with_for_update=True)
        if row is None or row.opened_at is not None:
            return False
        row.opened_at = utcnow()
        if row.status == InvoiceStatus.SENT.value:
            row.status = InvoiceStatus.OPENED.value
        append_invoice_event(session, row, EventType.INVOICE_OPENED)
        return True
