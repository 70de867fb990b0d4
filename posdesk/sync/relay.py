"""The outbox relay: sends the work the POS queued (invoice uploads, messages) to the companion.

Each entry is sent with its own idempotency (the invoice's version, the message's id), so sending it
twice after a lost answer is harmless. A temporary failure schedules a retry with backoff and stops the
round (the companion is probably down); a refusal is final: the entry is closed and the refusal is
recorded where the cashier will see it (see :func:`posdesk.sync.applying.record_rejection`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from posdesk.store.database import Database
from posdesk.store.outbox import Outbox, OutboxEntry
from posdesk.sync.applying import record_rejection
from posdesk.sync.client import CompanionClient, CompanionRejected, CompanionUnavailable
from posdesk.sync.settings_reconciliation import OUTBOX_KIND as STORE_SETTINGS
from posdesk.sync.settings_reconciliation import push_store_settings, refusal_notice

log = logging.getLogger(__name__)

Handler = Callable[[CompanionClient, OutboxEntry], Awaitable[dict[str, Any]]]


async def _upload_invoice(client: CompanionClient, entry: OutboxEntry) -> dict[str, Any]:
    return await client.put_invoice(entry.payload["invoice_id"], entry.payload)


async def _revoke_invoice(client: CompanionClient, entry: OutboxEntry) -> dict[str, Any]:
    """A revoke's goal is that the link takes no more money: an invoice paid meanwhile (a counter tender
    settled it) already meets it, so the companion's "paid" refusal closes the entry as sent."""
    invoice_id = entry.payload["invoice_id"]
    try:
        return await client.revoke_invoice(invoice_id)
    except CompanionRejected as refused:
        if refused.status != 409:
            raise
        invoice = await client.get(f"/invoices/{invoice_id}")
        if invoice.get("status") not in {"paid", "revoked"}:
            raise
        log.info("invoice %s is already %s: nothing to revoke", invoice_id, invoice["status"])
        return invoice


async def _post(client: CompanionClient, entry: OutboxEntry) -> dict[str, Any]:
    return await client.post(entry.payload["path"], entry.payload["body"])


HANDLERS: dict[str, Handler] = {
    "invoice.upsert": _upload_invoice,
    "invoice.revoke": _revoke_invoice,
    "api.post": _post,  # generic: {"path": "/messages", "body": {...}} for later kinds of work
    STORE_SETTINGS: push_store_settings,  # the manager's settings and promotions, for page and pricing
}


@dataclass(frozen=True, slots=True)
class RelayRound:
    sent: int
    rejected: int
    pending: int
    reachable: bool
    notices: tuple[str, ...] = ()  # refusals the manager must see (the status bar shows them)


async def relay_once(db: Database, client: CompanionClient, *, batch: int = 20) -> RelayRound:
    """Send what is due, oldest first, until done, a temporary failure, or ``batch`` entries."""
    sent = rejected = 0
    reachable = True
    notices: list[str] = []
    with db.reading() as session:
        due = Outbox(session).due(limit=batch)
    for entry in due:
        handler = HANDLERS.get(entry.kind)
        try:
            if handler is None:
                raise CompanionRejected(0, f"this terminal does not know how to send {entry.kind!r}")
            await handler(client, entry)
        except CompanionUnavailable as exc:
            with db.session() as session:
                Outbox(session).mark_failed(entry.id, str(exc))
            reachable = False
            break
        except CompanionRejected as exc:
            log.warning("companion refused %s: %s", entry.kind, exc.detail)
            if entry.kind == STORE_SETTINGS:
                notices.append(refusal_notice(exc.detail))
            with db.session() as session:
                record_rejection(session, entry, exc.status, exc.detail)
                Outbox(session).mark_done(entry.id)
            rejected += 1
        else:
            with db.session() as session:
                Outbox(session).mark_done(entry.id)
            sent += 1
    with db.reading() as session:
        pending = Outbox(session).pending_count()
    return RelayRound(
        sent=sent, rejected=rejected, pending=pending, reachable=reachable, notices=tuple(notices)
    )
