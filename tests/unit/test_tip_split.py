"""Tips shared among providers in proportion to their services, conserving every minor unit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from posdesk.core.catalog import ItemKind
from posdesk.core.money import Money
from posdesk.core.pricing import price_lines
from posdesk.core.ticket import LineDiscount, TicketLine
from posdesk.core.tip_split import UNASSIGNED, check_manual_split, provider_bases, split_tip


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def line(staff: str, price: int, kind: ItemKind = ItemKind.APPOINTMENT, **fields: object) -> TicketLine:
    return TicketLine(id=f"{staff}{price}", item_id="i", kind=kind, name="x", unit_price=usd(price), staff=staff,
                      **fields)  # type: ignore[arg-type]  # fmt: skip


def test_shares_follow_each_providers_service_amount_and_add_up_to_the_tip() -> None:
    lines = [
        line("Rosa", 6000),
        line("Sam", 3000),
        line("", 1000, ItemKind.PRODUCT, tax_rate=Decimal("0.08")),
    ]
    bases = provider_bases(lines, price_lines(lines, "USD"))
    assert bases == {"Rosa": usd(6000), "Sam": usd(3000)}  # a product takes no share
    assert split_tip(usd(1000), bases) == {"Rosa": usd(667), "Sam": usd(333)}


@pytest.mark.parametrize("tip", [1, 2, 99, 1001, 123457])
def test_no_cent_is_lost_or_made(tip: int) -> None:
    bases = {"A": usd(3333), "B": usd(3333), "C": usd(3334)}
    shares = split_tip(usd(tip), bases)
    assert sum(s.minor for s in shares.values()) == tip
    for name, share in shares.items():  # each within a cent of its exact proportional share
        assert abs(share.minor - tip * bases[name].minor / 10000) < 1


def test_discounts_count_and_a_service_without_a_provider_is_unassigned() -> None:
    lines = [line("Rosa", 6000, discount=LineDiscount(percent=Decimal("0.5"))), line("", 3000)]
    bases = provider_bases(lines, price_lines(lines, "USD"))
    assert bases == {"Rosa": usd(3000), UNASSIGNED: usd(3000)}
    assert split_tip(usd(500), {}) == {UNASSIGNED: usd(500)}


def test_a_manual_split_must_add_up_to_the_tip() -> None:
    check_manual_split(usd(1000), {"Rosa": usd(1000), "Sam": usd(0)})
    with pytest.raises(ValueError, match="add up to"):
        check_manual_split(usd(1000), {"Rosa": usd(600), "Sam": usd(300)})
    with pytest.raises(ValueError, match="negative"):
        check_manual_split(usd(0), {"Rosa": usd(-1), "Sam": usd(1)})
