"""A manager's split of a payment's tip among providers, as saved on a terminal: kept here so every
terminal's day summary (and the companion's own) counts the same tips by provider.

The last split a terminal saved wins (the outbox sends them in order); ``shares`` None means "back to
the default split". Other terminals hear ``tip.split`` and keep it on their copy of the payment.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from posdesk.companion.events import append_event
from posdesk.companion.models import Event, Payment, Store, Tender, TipSplit
from posdesk.companion.refusal import Refused
from posdesk.core.events import EventType
from posdesk.core.money import Money

MAX_PROVIDERS = 50


class TipSplitRefused(Refused, ValueError):
    """The split cannot be saved as sent."""

    default_status = 422


def read_shares(raw: Any) -> dict[str, int] | None:
    """The wire's ``{provider: minor}`` checked: names are short text, shares whole and not negative."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or len(raw) > MAX_PROVIDERS:
        raise TipSplitRefused("shares are {provider: amount in minor units}")
    shares: dict[str, int] = {}
    for who, minor in raw.items():
        if not isinstance(who, str) or not who.strip() or len(who) > 200:
            raise TipSplitRefused("a provider's name is 1 to 200 characters")
        if isinstance(minor, bool) or not isinstance(minor, int) or minor < 0:
            raise TipSplitRefused(f"{who}'s share must be a whole number of minor units, not negative")
        shares[who] = minor
    return shares


def save_tip_split(
    session: Session, store: Store, payment_id: str, ticket_id: str, currency: str, shares: dict[str, int] | None
) -> TipSplit:
    """Keep the split (replacing the one before) and tell the other terminals."""
    if currency != store.currency:
        raise TipSplitRefused(f"the store takes {store.currency}, not {currency}")
    row = session.get(TipSplit, payment_id)
    if row is not None and row.store_id != store.id:
        raise TipSplitRefused("No such payment", 404)
    if row is None:
        row = TipSplit(payment_id=payment_id, store_id=store.id, ticket_id=ticket_id, currency=currency)
        session.add(row)
    row.shares = shares
    append_event(
        session,
        store.id,
        EventType.TIP_SPLIT,
        ticket_id=ticket_id,
        data={"payment_id": payment_id, "currency": currency, "shares": shares},
    )
    return row


def note_refunded_tip(session: Session, store: Store, payment_id: str, ticket_id: str, refunded_tip_total: int) -> None:
    """Tell the terminals how much of a payment's refunds was tip (a payment or tender of this store)."""
    payment = session.get(Payment, payment_id)
    tender = session.get(Tender, payment_id) if payment is None else None
    found = payment or tender
    if found is None or found.store_id != store.id:
        raise TipSplitRefused("No such payment", 404)
    if not 0 <= refunded_tip_total <= min(found.tip_minor, found.refunded_minor):
        raise TipSplitRefused("The refunded tip is at most the tip and at most what was refunded")
    append_event(
        session,
        store.id,
        EventType.TIP_REFUNDED,
        ticket_id=ticket_id,
        data={"payment_id": payment_id, "refunded_tip_total": refunded_tip_total},
    )


def saved_splits(session: Session, store_id: str, payment_ids: Iterable[str]) -> dict[str, tuple[tuple[str, Money], ...]]:
    """The saved splits of these payments (those that have one)."""
    ids = list(payment_ids)
    if not ids:
        return {}
    rows = session.scalars(select(TipSplit).where(TipSplit.store_id == store_id, TipSplit.payment_id.in_(ids)))
    return {
        row.payment_id: tuple((who, Money(minor, row.currency)) for who, minor in row.shares.items())
        for row in rows
        if row.shares is not None
    }


def refunded_tips(session: Session, store_id: str, payment_ids: Iterable[str]) -> dict[str, int]:
    """What of these payments' refunds a terminal said was tip (``tip.refunded``, or a counter refund's
    ``refunded_tip_total``), the highest said for each: refunded tips only grow."""
    ids = set(payment_ids)
    if not ids:
        return {}
    said: dict[str, int] = {}
    rows = session.scalars(
        select(Event.data).where(
            Event.store_id == store_id,
            Event.type.in_((EventType.TIP_REFUNDED.value, EventType.PAYMENT_REFUNDED.value)),
        )
    )
    for data in rows:
        payment_id = str(data.get("payment_id"))
        if payment_id in ids and data.get("refunded_tip_total") is not None:
            said[payment_id] = max(said.get(payment_id, 0), int(data["refunded_tip_total"]))
    return said
