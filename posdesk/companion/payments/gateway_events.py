"""What a verified gateway event means for the ledger, by its typed variant (see
:class:`~posdesk.gateways.base.GatewayEvent`): a payment update, a refund update, a cancelled attempt,
or a card saved without paying. The webhook pipeline stores the event first and calls these after.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from posdesk.companion.database import Database
from posdesk.companion.models import PaymentStatus, Store
from posdesk.companion.payments import ledger
from posdesk.companion.payments.directory import GatewayDirectory
from posdesk.companion.payments.saved_cards import record_setup
from posdesk.gateways.base import AttemptCancelled, GatewayError, MethodSaved, RefundUpdate, SavesCardsOnPage

log = logging.getLogger(__name__)


def apply_refund(session: Session, gateway: str, update: RefundUpdate, store_id: str | None = None) -> bool | None:
    """The gateway's refunded total of a payment; True when the record moved, False when there was
    nothing new (or the payment is not this companion's), None while the payment's success is not
    recorded yet (the caller keeps the report, so refund and success are recorded in order)."""
    payment = ledger.payment_by_ref(session, gateway, update.payment_ref, store_id)
    if payment is None:
        log.info("%s refund for a payment this companion does not know: %s", gateway, update.payment_ref)
        return False
    if PaymentStatus(payment.status) not in (*ledger.REFUNDABLE, PaymentStatus.STALE):
        return None
    return ledger.record_refund(session, payment, update.refunded_total)


def apply_cancelled(session: Session, gateway: str, cancelled: AttemptCancelled, store_id: str | None = None) -> bool:
    payment = ledger.payment_by_ref(session, gateway, cancelled.payment_ref, store_id)
    if payment is None:
        log.info("%s cancellation for a payment this companion does not know: %s", gateway, cancelled.payment_ref)
        return False
    return ledger.cancel(payment)


def apply_method_saved(db: Database, directory: GatewayDirectory, saved: MethodSaved) -> None:
    """Keep the card for the client (asks the gateway for the card's details: never in a transaction)."""
    store_id = saved.metadata.get("store_id", "")
    with db.read() as session:
        store = session.get(Store, store_id)
        if store is None:
            return
        session.expunge(store)
    try:
        gateway = directory.for_store(store)
        if isinstance(gateway, SavesCardsOnPage):
            record_setup(db, gateway, store_id, saved)
    except GatewayError as exc:
        log.warning("saving the card of %s failed: %s", saved.setup_ref, exc.message)
