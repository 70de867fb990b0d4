"""Gift cards sold through the POS, kept by the companion so every terminal checks a code against the
same balance: issued once by code when their ticket is paid, lowered once per use (by the terminal's
use id), and told to every terminal with ``gift_card.changed`` (the new balance).

A refund of a payment made with a card is a negative use (the value goes back onto the card, never
above what it was sold for). A terminal that can reach the companion takes the card's balance here before it records the tender
(``covered_only``): one conditional UPDATE (``balance >= amount``), so two terminals spending the same
card at the same moment cannot both take it; the second is refused with what is left. A use made
offline (sent later from a terminal's outbox) is recorded even when it takes more than is left: the
money was taken at a counter that saw an older balance; the balance stops at zero and the overdraft is
kept for a manager's review (``gift_card.overdrawn``, listed by :func:`overdrawn`).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from posdesk.companion.events import append_event
from posdesk.companion.models import Event, GiftCard, GiftCardUse, Store
from posdesk.companion.refusal import Refused
from posdesk.core.events import EventType
from posdesk.core.gift_cards import normalize_code

log = logging.getLogger(__name__)


class GiftCardRefused(Refused, ValueError):
    """The gift card cannot be issued or used as asked."""

    default_status = 422


def card_wire(card: GiftCard) -> dict[str, Any]:
    return {
        "code": card.code,
        "amount": card.amount_minor,
        "balance": card.balance_minor,
        "currency": card.currency,
        "ticket_id": card.ticket_id,
        "client_id": card.client_id,
    }


def _changed(session: Session, card: GiftCard) -> None:
    append_event(session, card.store_id, EventType.GIFT_CARD_CHANGED, ticket_id=None, data=card_wire(card))


def find_card(session: Session, store: Store, code: str) -> GiftCard | None:
    return session.get(GiftCard, (store.id, normalize_code(code)))


def issue_card(
    session: Session, store: Store, code: str, amount: int, currency: str, ticket_id: str, client_id: str | None
) -> GiftCard:
    """Issue a sold card once (the same code again returns it as it is)."""
    code = normalize_code(code)
    if currency != store.currency:
        raise GiftCardRefused(f"the store takes {store.currency}, not {currency}")
    if amount <= 0:
        raise GiftCardRefused("a gift card is sold for more than zero")
    existing = find_card(session, store, code)
    if existing is not None:
        if existing.amount_minor != amount:
            raise GiftCardRefused("this gift card code was issued for another amount", 409)
        return existing
    card = GiftCard(
        store_id=store.id,
        code=code,
        currency=currency,
        amount_minor=amount,
        balance_minor=amount,
        ticket_id=ticket_id,
        client_id=client_id,
    )
    session.add(card)
    session.flush()
    _changed(session, card)
    return card


class NotCovered(GiftCardRefused):
    """The card has less left than the use asks (a terminal online is told what is left)."""

    default_status = 409

    def __init__(self, card: GiftCard) -> None:
        self.balance = card.balance_minor
        super().__init__(f"This gift card has only {card.balance_minor} left")


def use_card(
    session: Session, store: Store, code: str, use_id: str, amount: int, ticket_id: str, *, covered_only: bool = False
) -> GiftCard:
    """Lower the card's balance once for this use (see the module's docstring on overdrafts).
    ``covered_only``: refused with :class:`NotCovered` when the balance does not cover ``amount``."""
    key = (store.id, normalize_code(code))
    card = session.get(GiftCard, key)
    if card is None:
        raise GiftCardRefused("No gift card with this code was sold here", 404)
    if amount == 0 or -amount > card.amount_minor:
        raise GiftCardRefused("a use takes more than zero; a refund onto the card at most its value")
    if session.get(GiftCardUse, use_id) is not None:
        return card
    if covered_only and amount > 0:
        taken = session.execute(
            update(GiftCard)
            .where(GiftCard.store_id == store.id, GiftCard.code == card.code, GiftCard.balance_minor >= amount)
            .values(balance_minor=GiftCard.balance_minor - amount)
            .execution_options(synchronize_session=False)
        )
        session.refresh(card)
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            raise NotCovered(card)
        session.add(GiftCardUse(id=use_id, store_id=store.id, code=card.code, amount_minor=amount, ticket_id=ticket_id))
        _changed(session, card)
        return card
    card = session.get(GiftCard, key, with_for_update=True, populate_existing=True) or card
    if amount > card.balance_minor:
        log.warning("gift card %s used for %s with %s left (ticket %s)", card.code, amount, card.balance_minor, ticket_id)
        overdrawn_by = amount - card.balance_minor
        data = {
            "code": card.code,
            "use_id": use_id,
            "ticket_id": ticket_id,
            "amount": amount,
            "balance_before": card.balance_minor,
            "overdrawn_by": overdrawn_by,
            "currency": card.currency,
        }
        append_event(session, store.id, EventType.GIFT_CARD_OVERDRAWN, ticket_id=None, data=data)
    session.add(GiftCardUse(id=use_id, store_id=store.id, code=card.code, amount_minor=amount, ticket_id=ticket_id))
    # A negative use is a refund of a payment made with the card: the value goes back, up to what it was sold for.
    card.balance_minor = min(max(card.balance_minor - amount, 0), card.amount_minor)
    _changed(session, card)
    return card


def overdrawn(session: Session, store: Store) -> list[dict[str, Any]]:
    """Offline uses that took more than their card had left, oldest first: for a manager's review."""
    rows = session.scalars(
        select(Event)
        .where(Event.store_id == store.id, Event.type == EventType.GIFT_CARD_OVERDRAWN.value)
        .order_by(Event.id)
    )
    return [{**dict(row.data), "at": row.created_at.isoformat()} for row in rows]
