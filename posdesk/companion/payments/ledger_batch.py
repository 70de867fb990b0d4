"""The ledger's batch form: many "payment succeeded" reports applied with a few statements in all.

A burst of webhooks is mostly one kind of news: a charge succeeded. Applied one at a time through the
ORM (:func:`.ledger.payment_from_gateway`, :func:`.ledger.apply_gateway_payment`) each report costs
about ten statements and four flushes (~4 ms of CPU here). Here a batch of them costs one read of the
payments they name, one of their invoices, one of the stores, one of the invoices' counted payments,
then one multi-row insert or update per table and one event-counter update per store.

The rules are the ledger's, in its order: the payment found by the gateway's id, else by ours, else
made from the report's metadata when the store and invoice agree; the figures checked against the
record (:func:`.ledger.check_matches`); the state moved forward only; the invoice's totals and status
and its ``invoice.paid`` / ``invoice.partially_paid`` event written with the payment. A report is
taken here only when the ledger would apply it exactly so; every other one is handed back, to be applied
one at a time by the ledger as before: a refund, a cancellation, a tip, a card to save, a report that
disagrees with the record (kept for review there), a payment that would not move, an invoice not known
yet, and any report whose invoice, payment or gateway id another report of the same batch also names
(so reports handed back never touch what this batch wrote, and their order does not matter).

On PostgreSQL the payments and invoices are read under their row locks (in id order), as the ledger
reads them one at a time.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, or_, select, text, update
from sqlalchemy.orm import Session

from posdesk.companion.events import PG_CHANNEL
from posdesk.companion.models import (
    Event,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    Store,
    StoreEventCounter,
    payment_status_advances,
    utcnow,
)
from posdesk.companion.models import Invoice as InvoiceRow
from posdesk.companion.payments.balance import IN_STORE, balance_with, document_of
from posdesk.companion.payments.errors import MismatchError
from posdesk.companion.payments.ledger import REVIEW_UNKNOWN, check_matches, payment_wire
from posdesk.companion.payments.values import COUNTED
from posdesk.core.events import EventType
from posdesk.gateways.base import ChargeStatus, GatewayPayment

PAYMENTS = cast(Table, Payment.__table__)
INVOICES = cast(Table, InvoiceRow.__table__)
EVENTS = cast(Table, Event.__table__)
STORES = cast(Table, Store.__table__)
COUNTED_VALUES = [status.value for status in COUNTED]


@dataclass(frozen=True, slots=True)
class Report:
    """One stored event's payment report, as :func:`.ledger.payment_from_gateway` would read it."""

    key: Any  # the caller's handle (its row id)
    gateway: str
    result: GatewayPayment
    store_id: str | None = None  # the store whose secret verified the report (None: a companion-wide secret)


def _plain(result: GatewayPayment) -> bool:
    metadata = result.metadata
    return (
        result.status is ChargeStatus.SUCCEEDED
        and bool(result.card_last4)  # one without the card waits for the event that has it (the pipeline)
        and result.saved_method is None
        and metadata.get("kind") != "tip"
        and bool(metadata.get("invoice_id"))
        and bool(metadata.get("payment_id"))
    )


def apply_successes(
    session: Session, reports: Sequence[Report], other_refs: Iterable[tuple[str, str]] = ()
) -> set[Any]:
    """Apply those of ``reports`` (every payment report of the batch) the ledger would apply as plain
    successes; the keys of those applied. ``other_refs``: (gateway, gateway id) of the batch's other
    events (refunds, cancellations), which the ledger finds by the gateway's id. The reports not applied
    are untouched, for the ledger to apply one at a time; none of them names or finds a payment or an
    invoice this wrote."""
    other_refs = list(other_refs)
    if not any(_plain(report.result) for report in reports):
        return set()
    postgres = session.get_bind().dialect.name == "postgresql"
    payments = _payments_named(session, reports, other_refs, postgres)
    found_of: dict[Any, Any] = {}
    touched: Counter[str] = Counter()
    touches: dict[Any, set[str]] = {}
    for report in reports:
        metadata = report.result.metadata
        payment_id = metadata.get("payment_id") or ""
        found = payments.get(("ref", report.gateway, report.result.ref)) or payments.get(("id", payment_id))
        names = {f"ref:{report.gateway}:{report.result.ref}", f"invoice:{metadata.get('invoice_id', '')}"}
        names |= {f"payment:{payment_id}", f"payment:{payment_id[:32]}"} if payment_id else set()
        names |= {f"payment:{found.id}", f"invoice:{found.invoice_id}"} if found is not None else set()
        found_of[report.key], touches[report.key] = found, names
        touched.update(names)
    for gateway, ref in other_refs:
        found = payments.get(("ref", gateway, ref))
        names = {f"ref:{gateway}:{ref}"}
        names |= {f"payment:{found.id}", f"invoice:{found.invoice_id}"} if found is not None else set()
        touched.update(names)
    plans = [
        (report, found_of[report.key])
        for report in reports
        if _plain(report.result) and all(touched[name] == 1 for name in touches[report.key])
    ]
    if not plans:
        return set()
    invoice_ids = {
        (found.invoice_id if found is not None else report.result.metadata["invoice_id"])
        for report, found in plans
    }
    invoices = {row.id: row for row in _rows(session, INVOICES, INVOICES.c.id, invoice_ids, postgres)}
    stores = {
        row.id: row
        for row in session.execute(
            select(STORES).where(STORES.c.id.in_({i.store_id for i in invoices.values()}))
        )
    }
    counted: dict[str, list[Any]] = defaultdict(list)
    for row in session.execute(
        select(PAYMENTS).where(PAYMENTS.c.invoice_id.in_(invoices), PAYMENTS.c.status.in_(COUNTED_VALUES))
    ):
        counted[row.invoice_id].append(row)

    now = utcnow()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    invoice_updates: list[dict[str, Any]] = []
    events: list[tuple[str, dict[str, Any]]] = []
    applied = set()
    for report, found in plans:
        new = found is None
        change = _success(report, found, invoices, now)
        if change is None:
            continue
        payment, invoice = change
        store = stores.get(invoice.store_id)
        if store is None:
            continue
        others = [p for p in counted[invoice.id] if p.id != payment.id]
        if any(p.gateway == IN_STORE for p in others):
            continue  # money was also taken at the counter: the ledger checks the two do not overlap
        document = document_of(invoice, cast(Any, store))
        if new and payment.amount_minor > _most_believed(balance_with(invoice, cast(Any, store), others, document)):
            continue  # never issued and more than the balance: the ledger keeps it for review
        balance = balance_with(invoice, cast(Any, store), [*others, payment], document)
        paid_in_full = balance.balance_due.is_zero()
        (inserts if new else updates).append(_columns(payment))
        invoice_updates.append(
            {
                "b_id": invoice.id,
                "paid_minor": invoice.paid_minor + payment.amount_minor,
                "tip_minor": invoice.tip_minor + payment.tip_minor,
                "status": (InvoiceStatus.PAID if paid_in_full else InvoiceStatus.PARTIALLY_PAID).value,
                "updated_at": now,
            }
        )
        events.append(
            (
                store.id,
                {
                    "type": (
                        EventType.INVOICE_PAID if paid_in_full else EventType.INVOICE_PARTIALLY_PAID
                    ).value,
                    "invoice_id": invoice.id,
                    "ticket_id": invoice.ticket_id,
                    "data": {
                        "version": invoice.version,
                        "payment": payment_wire(payment),
                        "paid_total": balance.paid_total.minor,
                        "balance_due": balance.balance_due.minor,
                    },
                    "created_at": now,
                },
            )
        )
        applied.add(report.key)
    _write(session, inserts, updates, invoice_updates, events, postgres)
    return applied


def _most_believed(balance: Any) -> int:
    """The most a payment never issued may be: the whole balance paid by card."""
    return int(balance.invoice.card_charge(balance.balance_due).minor)


def _payments_named(
    session: Session, reports: Sequence[Report], other_refs: Sequence[tuple[str, str]], postgres: bool
) -> dict[tuple[str, ...], Any]:
    by_gateway: dict[str, set[str]] = defaultdict(set)
    for gateway, ref in [*((r.gateway, r.result.ref) for r in reports), *other_refs]:
        by_gateway[gateway].add(ref)
    ids = {report.result.metadata.get("payment_id") or "" for report in reports}
    query = (
        select(PAYMENTS)
        .where(
            or_(
                PAYMENTS.c.id.in_(ids),
                *(
                    and_(PAYMENTS.c.gateway == g, PAYMENTS.c.gateway_payment_id.in_(refs))
                    for g, refs in by_gateway.items()
                ),
            )
        )
        .order_by(PAYMENTS.c.id)
    )
    found: dict[tuple[str, ...], Any] = {}
    for row in session.execute(query.with_for_update() if postgres else query):
        found[("id", row.id)] = row
        if row.gateway_payment_id is not None:
            found[("ref", row.gateway, row.gateway_payment_id)] = row
    return found


def _rows(session: Session, table: Any, column: Any, keys: set[str], postgres: bool) -> Iterable[Any]:
    query = select(table).where(column.in_(keys)).order_by(column)
    return session.execute(query.with_for_update() if postgres else query)


def _success(report: Report, found: Any, invoices: Mapping[str, Any], now: Any) -> tuple[Any, Any] | None:
    """The payment as the ledger would leave it and its invoice; None when the ledger would do anything
    other than a plain forward move to succeeded."""
    result, metadata = report.result, report.result.metadata
    if found is None:
        invoice = invoices.get(metadata["invoice_id"])
        version = metadata.get("invoice_version", "")
        if invoice is None or metadata.get("store_id") != invoice.store_id or version != str(invoice.version):
            return None  # not this invoice's current version: the ledger decides (stale, or for review)
        if result.amount.minor <= 0 or result.tip.minor != 0 or result.amount.currency != invoice.currency:
            return None
        current = SimpleNamespace(
            id=metadata["payment_id"][:32], store_id=invoice.store_id, invoice_id=invoice.id,
            invoice_version=int(version), gateway=report.gateway, gateway_payment_id=None,
            idempotency_key=f"{report.gateway}:{result.ref}", kind="invoice",
            status=PaymentStatus.PENDING.value, amount_minor=result.amount.minor, tip_minor=result.tip.minor,
            currency=result.amount.currency, card_brand="", card_last4="", payment_method_ref="",
            failure_message="", succeeded_at=None, refunded_minor=0,
        )  # fmt: skip
    else:
        invoice = invoices.get(found.invoice_id)
        if invoice is None or found.kind != "invoice" or found.invoice_version != invoice.version:
            return None  # a success for a superseded version: the ledger records it as stale
        current = SimpleNamespace(**found._mapping)
        if current.review == REVIEW_UNKNOWN:
            return None  # kept for review as unknown: the ledger's move settles the review with it
    if report.store_id is not None and invoice.store_id != report.store_id:
        return None  # another store's: the ledger keeps it for review
    if invoice.status in (InvoiceStatus.REVOKED.value, InvoiceStatus.EXPIRED.value):
        return None  # the link is no longer active: the ledger records it as stale
    try:
        check_matches(current, result)  # type: ignore[arg-type]
    except MismatchError:
        return None  # kept for review: the ledger records why
    if current.gateway_payment_id not in (None, result.ref):
        return None
    if not payment_status_advances(PaymentStatus(current.status), PaymentStatus.SUCCEEDED):
        return None
    current.gateway_payment_id = result.ref
    if result.card_last4 and not current.card_last4:
        current.card_brand, current.card_last4 = result.card_brand[:20], result.card_last4[:4]
    if result.method_ref:
        current.payment_method_ref = result.method_ref[:100]
    current.status = PaymentStatus.SUCCEEDED.value
    current.succeeded_at = now
    current.failure_message = ""
    current.updated_at = now
    return current, invoice


_WRITTEN = (
    "status", "succeeded_at", "failure_message", "gateway_payment_id", "card_brand", "card_last4",
    "payment_method_ref", "updated_at",
)  # fmt: skip
_MADE = (
    "id", "store_id", "invoice_id", "invoice_version", "gateway", "idempotency_key", "kind", "amount_minor",
    "tip_minor", "currency", "refunded_minor",
)  # fmt: skip


def _columns(payment: Any) -> dict[str, Any]:
    return {name: getattr(payment, name) for name in (*_MADE, *_WRITTEN)}


def _write(
    session: Session,
    inserts: list[dict[str, Any]],
    updates: list[dict[str, Any]],
    invoice_updates: list[dict[str, Any]],
    events: list[tuple[str, dict[str, Any]]],
    postgres: bool,
) -> None:
    if inserts:
        session.execute(
            PAYMENTS.insert(), [{**values, "created_at": values["updated_at"]} for values in inserts]
        )
    if updates:
        session.execute(
            update(PAYMENTS)
            .where(PAYMENTS.c.id == bindparam("b_id"))
            .values({name: bindparam(name) for name in _WRITTEN}),
            [{"b_id": values["id"], **{name: values[name] for name in _WRITTEN}} for values in updates],
        )
    if invoice_updates:
        session.execute(
            update(INVOICES)
            .where(INVOICES.c.id == bindparam("b_id"))
            .values({name: bindparam(name) for name in ("paid_minor", "tip_minor", "status", "updated_at")}),
            invoice_updates,
        )
    per_store: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for store_id, values in events:
        per_store[store_id].append(values)
    for store_id, appended in per_store.items():
        last = session.execute(
            update(StoreEventCounter)
            .where(StoreEventCounter.store_id == store_id)
            .values(last_id=StoreEventCounter.last_id + len(appended))
            .returning(StoreEventCounter.last_id)
        ).scalar_one_or_none()
        if last is None:
            raise LookupError(f"store {store_id} has no event counter")
        first = int(last) - len(appended) + 1
        session.execute(
            EVENTS.insert(),
            [{**values, "store_id": store_id, "seq": first + n} for n, values in enumerate(appended)],
        )
        if postgres:
            session.execute(
                text("SELECT pg_notify(:channel, :store)"), {"channel": PG_CHANNEL, "store": store_id}
            )
        session.info.setdefault("posdesk_appended_stores", set()).add(store_id)
