"""A manager's split of a payment's tip among the providers who did the ticket's services.

The editor starts from the default split (in proportion to each provider's service amount, see
:mod:`posdesk.core.tip_split`) or the split saved before. A split is saved only when it adds up to the
tip exactly; otherwise the manager is told by how much it is short or over. A saved split is kept on
the payment, and goes to the companion through the outbox (``PUT``-like: the last one saved wins), so
every terminal's day summary counts the same tips by provider.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from posdesk.core.money import Money
from posdesk.core.pricing import price_ticket
from posdesk.core.ticket import Payment, Ticket
from posdesk.core.tip_split import UNASSIGNED, payment_split, provider_bases, split_tip

if TYPE_CHECKING:
    from posdesk.store import Database
    from posdesk.store.values import TerminalSettings

TIP_SPLITS_PATH = "/tip-splits"


class TipSplitError(ValueError):
    """The split cannot be saved as entered; the message says why (and by how much it is off)."""


@dataclass(frozen=True, slots=True)
class TipSplitRow:
    provider: str
    default: Money  # the share the default rule gives
    share: Money  # the share now (the saved one, or the default)


def tip_split_rows(ticket: Ticket, payment: Payment, settings: TerminalSettings) -> list[TipSplitRow]:
    """One row per provider of the ticket's services (and any named in a saved split)."""
    priced = price_ticket(
        ticket,
        promotions=settings.promotions_by_code(),
        surcharge_rate=settings.surcharge_rate,
        per_tender=True,
    )
    bases = provider_bases(ticket.lines, priced)
    default = split_tip(payment.tip, bases)
    current = payment_split(payment.tip, payment.tip_split, bases)
    names = list(default) + [n for n in current if n not in default]
    if not names:
        names = [UNASSIGNED]
    zero = Money.zero(payment.tip.currency)
    return [TipSplitRow(n, default.get(n, zero), current.get(n, zero)) for n in names]


def split_difference(tip: Money, shares: Mapping[str, Money], locale: str = "en_US") -> str:
    """"" when the shares add up to the tip; else what the manager must fix, with the amount."""
    total = Money.zero(tip.currency)
    for who, share in shares.items():
        if share.is_negative():
            return f"{who}'s share cannot be negative"
        total = total + share
    if total == tip:
        return ""
    gap = (tip - total) if tip > total else (total - tip)
    way = "short of" if tip > total else "over"
    return (
        f"The shares add up to {total.format(locale)}: {gap.format(locale)} {way} the "
        f"{tip.format(locale)} tip"
    )


def save_tip_split(
    db: Database, ticket_id: str, payment_id: str, shares: Mapping[str, Money] | None, locale: str = "en_US"
) -> Ticket:
    """Save a manager's split (None: back to the default) on the payment and queue it for the
    companion. Raises :class:`TipSplitError` when it does not add up to the tip."""
    from posdesk.store import Outbox, TicketRepository

    with db.session() as session:
        tickets = TicketRepository(session)
        ticket = tickets.get(ticket_id)
        payment = next((p for p in ticket.payments if p.id == payment_id), None) if ticket else None
        if ticket is None or payment is None:
            raise TipSplitError("The payment is not on this terminal")
        kept: tuple[tuple[str, Money], ...] | None = None
        if shares is not None:
            problem = split_difference(payment.tip, shares, locale)
            if problem:
                raise TipSplitError(problem)
            kept = tuple((who, share) for who, share in shares.items() if not share.is_zero())
        base = ticket.revision
        ticket.split_tip(payment_id, kept)
        tickets.save(ticket, base_revision=base)
        Outbox(session).enqueue(
            "api.post",
            f"tip-split:{payment_id}:{uuid.uuid4().hex}",  # each save is sent: the last one wins
            {
                "path": f"{TIP_SPLITS_PATH}/{payment_id}",
                "body": {
                    "ticket_id": ticket_id,
                    "currency": payment.tip.currency,
                    "shares": None if kept is None else {who: share.minor for who, share in kept},
                },
            },
        )
        return ticket
