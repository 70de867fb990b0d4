"""Gateway reports kept for a manager that name no payment the companion recorded.

A report about a payment the companion recorded is kept on that payment (``Payment.review``,
:mod:`~posdesk.companion.payments.review`). A report that names none (a payment id never issued with an
amount that is not positive or beyond what the invoice could ask, a version never issued, another
currency, another store's invoice...) has nothing to count or refund through the ledger: it is kept here
with what the gateway said and why, listed with the payments kept for review, and raises
``payment.needs_review``. The manager checks it at the gateway's dashboard (the money may have been
taken) and marks it handled with a note; every terminal is told ``payment.review_settled``.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from posdesk.companion.database import Database
from posdesk.companion.events import append_event_about
from posdesk.companion.models import GatewayReport, Invoice, WebhookEvent, utcnow
from posdesk.companion.payments.errors import ReviewRefused
from posdesk.core.events import EventType
from posdesk.gateways.base import payment_from_wire

log = logging.getLogger(__name__)

NOTE_MAX = 500


@dataclass(frozen=True)
class KeptReport:
    """One gateway report kept for review, as the POS lists it."""

    report_id: str
    gateway: str
    reference: str  # the gateway's payment id
    status: str  # what the gateway said of the charge (succeeded, refunded...)
    amount: int
    tip: int
    currency: str
    invoice_id: str
    ticket_id: str
    reason: str
    received_at: str
    handled: bool = False
    note: str = ""

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)


def keep(session: Session, store_id: str, row: WebhookEvent, reason: str) -> GatewayReport:
    """Keep the stored event ``row``, verified by ``store_id``'s secret and naming no payment the companion
    recorded, for a manager; ``payment.needs_review`` with the report's id. Once per event."""
    report = session.scalars(
        select(GatewayReport).where(GatewayReport.gateway == row.gateway, GatewayReport.event_id == row.event_id)
    ).first()
    if report is not None:
        return report
    report = GatewayReport(
        id=uuid.uuid4().hex, store_id=store_id, gateway=row.gateway, event_id=row.event_id[:100], reason=reason[:500]
    )
    _fill(session, report, (row.payload or {}).get("payment"))
    session.add(report)
    session.flush()
    append_event_about(
        session,
        report,
        EventType.PAYMENT_NEEDS_REVIEW,
        {"payment_id": None, **_summary(report), "gateway": row.gateway, "event_id": row.event_id},
    )
    return report


def _fill(session: Session, report: GatewayReport, raw_payment: Any) -> None:
    """What the report said of the charge; the invoice and ticket only when they are this store's."""
    try:
        said = payment_from_wire(raw_payment) if raw_payment is not None else None
    except ValueError:
        said = None
    if said is None:
        return
    report.gateway_payment_id = said.ref[:100]
    report.status = said.status.value[:20]
    report.amount_minor, report.tip_minor, report.currency = said.amount.minor, said.tip.minor, said.amount.currency[:3]
    invoice = session.get(Invoice, str(said.metadata.get("invoice_id", ""))[:64])
    if invoice is not None and invoice.store_id == report.store_id:
        report.invoice_id, report.ticket_id = invoice.id, invoice.ticket_id


def _summary(report: GatewayReport) -> dict[str, Any]:
    """What a report's events say of it: these fields of its wire form."""
    wire = _kept(report).to_wire()
    return {name: wire[name] for name in ("report_id", "reason", "reference", "amount", "tip", "currency")}


def _kept(report: GatewayReport) -> KeptReport:
    return KeptReport(
        report.id, report.gateway, report.gateway_payment_id, report.status, report.amount_minor, report.tip_minor,
        report.currency, report.invoice_id or "", report.ticket_id or "", report.reason,
        report.received_at.isoformat(), report.handled_at is not None, report.note,
    )


def kept_reports(db: Database, store_id: str, ticket_id: str | None = None) -> list[KeptReport]:
    """The store's reports waiting for a manager (about one ticket), oldest first."""
    with db.read() as session:
        query = (
            select(GatewayReport)
            .where(GatewayReport.store_id == store_id, GatewayReport.handled_at.is_(None))
            .order_by(GatewayReport.received_at)
        )
        if ticket_id is not None:
            query = query.where(GatewayReport.ticket_id == ticket_id)
        return [_kept(r) for r in session.scalars(query).all()]


def handle(db: Database, store_id: str, report_id: str, note: str) -> dict[str, Any]:
    """A manager marks a kept report handled with ``note`` (what they found at the gateway, what they
    did); ``payment.review_settled`` to every terminal. Handling it again answers the same, told once."""
    note = note.strip()
    if not note:
        raise ReviewRefused("Say what you found or did (a note is required)", 422)
    with db.write() as session:
        report = session.scalars(
            select(GatewayReport).where(GatewayReport.id == report_id).with_for_update()
        ).first()
        if report is None or report.store_id != store_id:
            raise ReviewRefused("No such report", 404)
        if report.handled_at is None:
            report.handled_at = utcnow()
            report.note = note[:NOTE_MAX]
            settled = {"decision": "handled", "settled_as": "handled", "note": report.note}
            told = {"payment_id": None, **_summary(report), **settled}
            append_event_about(session, report, EventType.PAYMENT_REVIEW_SETTLED, told)
            log.info("gateway report %s kept for review handled", report.id)
        return _kept(report).to_wire()
