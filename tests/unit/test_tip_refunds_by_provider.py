"""A tip refunded in part comes off the providers in proportion to their shares, losing no cent."""

from __future__ import annotations

import pytest

from posdesk.core.money import Money
from posdesk.core.tip_split import net_of_refunded_tip


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def test_a_partly_refunded_tip_comes_off_each_provider_in_proportion() -> None:
    nets = net_of_refunded_tip({"Sam": usd(533), "Ana": usd(467)}, usd(300))
    # 159.9 and 140.1 cents: the odd cent from Sam (the larger remainder).
    assert nets == {"Sam": usd(373), "Ana": usd(327)}


@pytest.mark.parametrize("refunded", [0, 1, 2, 99, 333, 999])
def test_the_nets_add_up_to_the_tip_less_the_refund(refunded: int) -> None:
    shares = {"Sam": usd(334), "Ana": usd(333), "Lee": usd(333)}
    nets = net_of_refunded_tip(shares, usd(refunded))
    assert sum(n.minor for n in nets.values()) == 1000 - refunded
    assert all(0 < nets[name].minor <= shares[name].minor for name in nets)


def test_a_whole_refunded_tip_leaves_no_provider() -> None:
    assert net_of_refunded_tip({"Sam": usd(600), "Ana": usd(400)}, usd(1000)) == {}
    assert net_of_refunded_tip({"Sam": usd(600)}, usd(0)) == {"Sam": usd(600)}
