"""Events the companion appends to a store's log and every POS applies in order, once."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class EventType(enum.StrEnum):
    INVOICE_UPDATED = "invoice.updated"  # a new version arrived from a terminal
    INVOICE_OPENED = "invoice.opened"  # the client opened the link
    INVOICE_REPRICED = "invoice.repriced"  # a promo code applied on the page made a new version
    INVOICE_PAID = "invoice.paid"  # paid in full: the ticket closes
    INVOICE_PARTIALLY_PAID = "invoice.partially_paid"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_REFUNDED = "payment.refunded"
    # Money taken for a superseded version or a revoked link, given back by the companion on its own.
    PAYMENT_REFUNDED_STALE = "payment.refunded_stale"
    # A gateway report that disagrees with the companion's record: kept, applied to nothing, for a manager.
    PAYMENT_NEEDS_REVIEW = "payment.needs_review"
    # A manager settled a payment kept for review: counted, refunded, or dismissed as not charged.
    PAYMENT_REVIEW_SETTLED = "payment.review_settled"
    TIP_ADDED = "tip.added"  # a tip charged after payment, from the confirmation page
    TENDER_RECORDED = "tender.recorded"  # money taken at a terminal's counter (cash, counter card...)
    TIP_SPLIT = "tip.split"  # a manager's split of a payment's tip among providers
    TIP_REFUNDED = "tip.refunded"  # how much of a payment's refunded total was tip
    GIFT_CARD_CHANGED = "gift_card.changed"  # a gift card sold through the POS was issued or used
    # A use made offline took more than the card had left when it reached the companion: for a manager.
    GIFT_CARD_OVERDRAWN = "gift_card.overdrawn"
    LINK_EXPIRED = "link.expired"
    LINK_REVOKED = "link.revoked"
    MESSAGE_STATUS = "message.status"  # Communicator delivery state changed
    CLIENT_CONSENT = "client.consent"  # e.g. SMS STOP received
    STORE_SETTINGS_CHANGED = "store.settings_changed"  # a manager saved settings or promotions: terminals adopt
    # A type this version does not know (a newer companion's): read as this, applied as nothing, so the
    # terminal's cursor moves past it instead of stopping at it. Never appended by the companion.
    UNKNOWN = "unknown"


_KNOWN_TYPES = frozenset(t.value for t in EventType)


class LinkStatus(enum.StrEnum):
    """What the POS shows about an invoice link. Moves forward only (see :data:`LINK_STATUS_ORDER`)."""

    PREPARING = "preparing"  # made on the terminal, not yet uploaded
    SENT = "sent"
    OPENED = "opened"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    EXPIRED = "expired"
    REVOKED = "revoked"


LINK_STATUS_ORDER = {status: rank for rank, status in enumerate(LinkStatus)}


def link_status_advances(current: LinkStatus, new: LinkStatus) -> bool:
    """True when ``new`` is a forward move from ``current`` (a late 'opened' never undoes 'paid')."""
    if current is LinkStatus.PAID:
        return False
    if new is LinkStatus.PAID:
        # Money collected is a fact: a charge already in flight when the link expired or was revoked
        # still shows as paid, or the POS would call a paid ticket's link "expired".
        return True
    if current is LinkStatus.REVOKED:
        return False
    return LINK_STATUS_ORDER[new] > LINK_STATUS_ORDER[current]


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of a store's event log. ``id`` increases strictly within a store."""

    id: int
    type: EventType
    created_at: datetime
    invoice_id: str | None = None
    ticket_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type.value,
            "created_at": self.created_at.isoformat(),
            "invoice_id": self.invoice_id,
            "ticket_id": self.ticket_id,
            "data": self.data,
        }

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> Event:
        return cls(
            id=int(raw["id"]),
            type=EventType(raw["type"]) if raw["type"] in _KNOWN_TYPES else EventType.UNKNOWN,
            created_at=datetime.fromisoformat(raw["created_at"]),
            invoice_id=raw.get("invoice_id"),
            ticket_id=raw.get("ticket_id"),
            data=dict(raw.get("data") or {}),
        )
