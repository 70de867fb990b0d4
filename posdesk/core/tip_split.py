"""Splitting a ticket's tips among the providers who did its services (what salon payroll needs).

By default each provider's share is in proportion to the tip base of their service lines (the same base
the tip presets apply to: a service's amount after discounts and promotions, a prepaid service at its
value after line discount); gift cards, products and other kinds take no share. The split conserves
minor units exactly: the shares always add up to the tip, the cents left over by rounding going to the
largest remainders (see :meth:`Money.allocate`). A service without a named provider counts under
:data:`UNASSIGNED`. A manager may set the shares by hand; :func:`check_manual_split` holds them to the
same total. A tip refunded in part comes off the providers in proportion to their shares
(:func:`net_of_refunded_tip`, minor units conserved the same way).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from posdesk.core.money import Money
from posdesk.core.pricing import PricedTicket
from posdesk.core.ticket import TicketLine

UNASSIGNED = "Unassigned"


def provider_bases(lines: Sequence[TicketLine], priced: PricedTicket) -> dict[str, Money]:
    """Each provider's tip base on a ticket, in the order the providers first appear."""
    bases: dict[str, Money] = {}
    for line in lines:
        if not line.kind.is_service:
            continue
        p = priced.line(line.id)
        base = (p.gross - p.discount) if line.prepaid else p.net
        who = line.staff.strip() or UNASSIGNED
        bases[who] = bases.get(who, Money.zero(priced.currency)) + base
    return bases


def split_tip(tip: Money, bases: Mapping[str, Money]) -> dict[str, Money]:
    """``tip`` shared in proportion to ``bases`` (equally when they are all zero); shares add up to ``tip``."""
    if not bases:
        return {UNASSIGNED: tip} if tip.is_positive() else {}
    names = list(bases)
    weights = [max(bases[n].minor, 0) for n in names]
    if not any(weights):
        weights = [1] * len(names)
    return dict(zip(names, tip.allocate(weights), strict=True))


def check_manual_split(tip: Money, shares: Mapping[str, Money]) -> None:
    """A manager's split: no negative share, and the shares add up to the tip exactly."""
    total = Money.zero(tip.currency)
    for name, share in shares.items():
        if share.is_negative():
            raise ValueError(f"{name}'s share cannot be negative")
        total = total + share
    if total != tip:
        raise ValueError(f"The shares add up to {total.format()}, the tips are {tip.format()}")


def payment_split(
    tip: Money, saved: Sequence[tuple[str, Money]] | None, bases: Mapping[str, Money]
) -> dict[str, Money]:
    """A payment's tip by provider: the manager's saved split when there is one that adds up to the
    tip, else the default split of :func:`split_tip`."""
    if saved is not None:
        shares = dict(saved)
        try:
            check_manual_split(tip, shares)
        except ValueError:
            pass  # the tip changed since the split was saved: the default applies again
        else:
            return {name: share for name, share in shares.items() if not share.is_zero()}
    return split_tip(tip, bases)


def net_of_refunded_tip(shares: Mapping[str, Money], refunded: Money) -> dict[str, Money]:
    """``shares`` of a tip less ``refunded`` of it, taken from each provider in proportion to their share
    (largest remainders, so the nets add up to the tip less the refund exactly); a provider left with
    nothing is dropped."""
    names = [name for name, share in shares.items() if share.is_positive()]
    if not refunded.is_positive() or not names:
        return dict(shares)
    total = sum((shares[name] for name in names), Money.zero(refunded.currency))
    taken = refunded.min(total).allocate([shares[name].minor for name in names])
    nets = {name: shares[name] - part for name, part in zip(names, taken, strict=True)}
    return {name: net for name, net in nets.items() if net.is_positive()}
