"""Pricing: every figure the cashier and the client see, scenario by scenario.

Each scenario is one row in the same small format the worked examples of ``docs/pricing.md`` use
(a ``pricing-example`` block is JSON of exactly this shape), and the docs' examples are checked here
too, so the documentation and the code cannot drift apart. Amounts are written in major units as
strings ("19.99"), rates as decimal strings ("0.0825").
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posdesk.core.catalog import ItemKind
from posdesk.core.invoice import TOTAL_FIELDS as TOTALS  # the figures an invoice carries
from posdesk.core.money import Money
from posdesk.core.pricing import PricedTicket, Promotion, price_lines, price_ticket
from posdesk.core.ticket import Coverage, LineDiscount, Payment, PaymentMethod, Ticket, TicketLine

DOCS = Path(__file__).resolve().parents[2] / "docs" / "pricing.md"


# -- the scenario format ---------------------------------------------------------------------------
def _money(text: str, currency: str) -> Money:
    return Money.from_decimal(text, currency)


def _line(raw: dict[str, Any], currency: str, index: int) -> TicketLine:
    discount = None
    if "discount" in raw:
        d = raw["discount"]
        discount = (
            LineDiscount(percent=Decimal(d["percent"]))
            if "percent" in d
            else LineDiscount(amount=_money(d["amount"], currency))
        )
    return TicketLine(
        id=raw.get("id", f"line{index}"),
        item_id=raw.get("id", f"item{index}"),
        kind=ItemKind(raw["kind"]),
        name=raw.get("name", raw["kind"]),
        unit_price=_money(raw["price"], currency),
        quantity=raw.get("quantity", 1),
        tax_rate=Decimal(raw.get("tax_rate", "0")),
        discount=discount,
        prepaid=Coverage(raw["prepaid"]) if raw.get("prepaid") else None,
    )


def _promotion(raw: dict[str, Any], currency: str) -> Promotion:
    return Promotion(
        code=raw["code"],
        name=raw.get("name", raw["code"]),
        percent=Decimal(raw["percent"]) if "percent" in raw else None,
        amount=_money(raw["amount"], raw.get("currency", currency)) if "amount" in raw else None,
        stackable=raw.get("stackable", True),
        eligible_kinds=frozenset(ItemKind(k) for k in raw.get("kinds", ())),
        active=raw.get("active", True),
    )


def price_scenario(spec: dict[str, Any]) -> PricedTicket:
    currency = spec.get("currency", "USD")
    received = datetime(2025, 1, 1, tzinfo=UTC)
    payments = [
        Payment(
            id=f"pay{i}",
            amount=_money(p if isinstance(p, str) else p["amount"], currency),
            tip=_money("0" if isinstance(p, str) else p.get("tip", "0"), currency),
            method=PaymentMethod.ONLINE_CARD,
            received_at=received,
        )
        for i, p in enumerate(spec.get("payments", []))
    ]
    promotions = [_promotion(p, currency) for p in spec.get("promotions", [])]
    return price_lines(
        [_line(raw, currency, i) for i, raw in enumerate(spec["lines"])],
        currency,
        promo_codes=spec.get("promo_codes", []),
        promotions={p.code: p for p in promotions},
        payments=payments,
        surcharge_rate=Decimal(spec.get("surcharge_rate", "0")),
    )


def check_scenario(spec: dict[str, Any]) -> None:
    """Price ``spec`` and assert every figure its ``expect`` names (and that the figures add up)."""
    currency = spec.get("currency", "USD")
    priced = price_scenario(spec)
    expect = spec["expect"]
    shown = {name: getattr(priced, name).plain() for name in TOTALS}
    wanted = {name: _money(expect[name], currency).plain() for name in TOTALS if name in expect}
    assert {name: shown[name] for name in wanted} == wanted, spec.get("title", "")
    if "fully_prepaid" in expect:
        assert priced.is_fully_prepaid is expect["fully_prepaid"]
    if "applied" in expect:
        assert list(priced.applied_promo_codes) == expect["applied"]
    if "rejected" in expect:
        assert set(priced.rejected_promo_codes) == set(expect["rejected"])
        for code, reason in expect["rejected"].items():
            assert reason in priced.rejected_promo_codes[code]
    for line_id, figures in expect.get("lines", {}).items():
        line = priced.line(line_id)
        for name, value in figures.items():
            assert getattr(line, name).plain() == _money(value, currency).plain(), (line_id, name)
    _assert_consistent(priced)


def _assert_consistent(priced: PricedTicket) -> None:
    """What must hold for any priced ticket, whatever the scenario."""
    zero = Money.zero(priced.currency)
    assert priced.net == sum((line.net for line in priced.lines), zero)
    assert priced.tax == sum((line.tax for line in priced.lines), zero)
    assert priced.total == priced.net + priced.tax + priced.surcharge
    assert priced.balance_due == (priced.total - priced.paid).max(zero)
    for line in priced.lines:
        assert line.total == line.net + line.tax
        assert not line.net.is_negative()
        if line.prepaid.is_positive():
            assert line.net.is_zero() and line.tax.is_zero()
        else:
            assert line.net == line.gross - line.discount - line.promo


# -- scenarios ----------------------------------------------------------------------------------------
P10 = {"code": "P10", "percent": "0.10"}
F5 = {"code": "F5", "amount": "5.00"}
PRODUCT_150 = [
    {"id": "p", "kind": "product", "price": "100.00"},
    {"id": "a", "kind": "appointment", "price": "50.00"},
]

SCENARIOS: dict[str, dict[str, Any]] = {
    "prepaid-only ticket: $0 balance, tip base is still the service value": {
        "lines": [{"kind": "appointment", "price": "45.00", "tax_rate": "0.0825", "prepaid": "package"}],
        "surcharge_rate": "0.03",
        "expect": {
            "subtotal": "0", "prepaid": "45.00", "tax": "0", "surcharge": "0", "total": "0",
            "balance_due": "0", "tip_base": "45.00", "fully_prepaid": True,
        },
    },
    "prepaid class in a membership, discounted: tip base after the line discount": {
        "lines": [{"kind": "class", "price": "20.00", "prepaid": "membership", "discount": {"percent": "0.25"}}],
        "expect": {"discounts": "0", "total": "0", "tip_base": "15.00", "fully_prepaid": True},
    },
    "mixed prepaid and paid lines": {
        "lines": [
            {"id": "cut", "kind": "appointment", "price": "45.00", "tax_rate": "0.0825", "prepaid": "membership"},
            {"id": "shampoo", "kind": "product", "price": "18.00", "quantity": 2, "tax_rate": "0.0825"},
        ],
        "expect": {
            "subtotal": "36.00", "prepaid": "45.00", "tax": "2.97", "total": "38.97",
            "balance_due": "38.97", "tip_base": "45.00", "fully_prepaid": False,
            "lines": {"cut": {"net": "0", "tax": "0", "prepaid": "45.00"}, "shampoo": {"net": "36.00"}},
        },
    },
    "a ticket with no lines is worth nothing and is not 'fully prepaid'": {
        "lines": [],
        "expect": {"total": "0", "balance_due": "0", "tip_base": "0", "fully_prepaid": False},
    },
    "tax 8.25% on $0.06 rounds 0.495 cents down to nothing": {
        "lines": [{"kind": "product", "price": "0.06", "tax_rate": "0.0825"}],
        "expect": {"tax": "0.00", "total": "0.06"},
    },
    "tax is rounded per line, not on the sum": {
        # On the sum, 8.25% of $0.12 would be 0.99 cents -> $0.01; per line it is 0 + 0.
        "lines": [
            {"kind": "product", "price": "0.06", "tax_rate": "0.0825"},
            {"kind": "product", "price": "0.06", "tax_rate": "0.0825"},
        ],
        "expect": {"tax": "0.00", "total": "0.12"},
    },
    "tax 8.25% on 3 x $19.99": {
        "lines": [{"kind": "product", "price": "19.99", "quantity": 3, "tax_rate": "0.0825"}],
        "expect": {"subtotal": "59.97", "tax": "4.95", "total": "64.92"},
    },
    "tax 8.875% on $12.00 is 106.5 cents: half-up gives $1.07 (banker's rounding would give $1.06)": {
        "lines": [{"kind": "appointment", "price": "12.00", "tax_rate": "0.08875"}],
        "expect": {"tax": "1.07", "total": "13.07"},
    },
    "percent line discount, rounded half-up per line": {
        "lines": [
            {"id": "cut", "kind": "appointment", "price": "45.00", "tax_rate": "0.0825", "discount": {"percent": "0.10"}},
            {"id": "wax", "kind": "product", "price": "19.99", "discount": {"percent": "0.15"}},
        ],
        "expect": {
            "discounts": "7.50", "tax": "3.34", "total": "60.83",
            "lines": {"cut": {"discount": "4.50", "net": "40.50", "tax": "3.34"}, "wax": {"discount": "3.00", "net": "16.99"}},
        },
    },
    "fixed line discount, capped at the line's gross": {
        "lines": [
            {"id": "a", "kind": "product", "price": "45.00", "discount": {"amount": "5.00"}},
            {"id": "b", "kind": "product", "price": "45.00", "tax_rate": "0.0825", "discount": {"amount": "50.00"}},
        ],
        "expect": {
            "discounts": "50.00", "tax": "0", "total": "40.00",
            "lines": {"a": {"net": "40.00"}, "b": {"discount": "45.00", "net": "0", "tax": "0"}},
        },
    },
    "stackable promotions: percents first, then fixed amounts, spread by Money.allocate": {
        "lines": PRODUCT_150,
        "promotions": [P10, F5],
        "promo_codes": ["F5", "P10"],  # entered fixed-first: the order entered does not matter
        "expect": {
            "promos": "20.00", "total": "130.00", "tip_base": "43.33", "applied": ["F5", "P10"], "rejected": {},
            "lines": {"p": {"promo": "13.33"}, "a": {"promo": "6.67"}},
        },
    },
    "a non-stackable promotion that saves more wins alone; the others are reported": {
        "lines": PRODUCT_150,
        "promotions": [P10, F5, {"code": "VIP25", "percent": "0.25", "stackable": False}],
        "promo_codes": ["P10", "F5", "VIP25"],
        "expect": {
            "promos": "37.50", "total": "112.50", "applied": ["VIP25"],
            "rejected": {"P10": "Cannot be combined", "F5": "Cannot be combined"},
        },
    },
    "a non-stackable promotion that saves less loses to the stackable set": {
        "lines": PRODUCT_150,
        "promotions": [P10, F5, {"code": "TEN", "amount": "10.00", "stackable": False}],
        "promo_codes": ["TEN", "P10", "F5"],
        "expect": {"promos": "20.00", "applied": ["P10", "F5"], "rejected": {"TEN": "Cannot be combined"}},
    },
    "a tie between a non-stackable promotion and the stackable set goes to the stackable set": {
        "lines": PRODUCT_150,
        "promotions": [P10, {"code": "FLAT15", "amount": "15.00", "stackable": False}],
        "promo_codes": ["FLAT15", "P10"],
        "expect": {"promos": "15.00", "applied": ["P10"], "rejected": {"FLAT15": "Cannot be combined"}},
    },
    "two non-stackable promotions that tie: the one entered first wins": {
        "lines": PRODUCT_150,
        "promotions": [
            {"code": "A15", "amount": "15.00", "stackable": False},
            {"code": "B10", "percent": "0.10", "stackable": False},
        ],
        "promo_codes": ["B10", "A15"],
        "expect": {"promos": "15.00", "applied": ["B10"], "rejected": {"A15": "Cannot be combined"}},
    },
    "unknown, expired and foreign-currency codes are rejected with a reason; the rest apply": {
        "lines": PRODUCT_150,
        "promotions": [
            P10,
            {"code": "OLD", "percent": "0.50", "active": False},
            {"code": "EURO", "amount": "5.00", "currency": "EUR"},
        ],
        "promo_codes": ["NOPE", "OLD", "EURO", "P10"],
        "expect": {
            "promos": "15.00", "applied": ["P10"],
            "rejected": {"NOPE": "Unknown or expired", "OLD": "Unknown or expired", "EURO": "another currency"},
        },
    },
    "codes are matched case-insensitively and a code entered twice counts once": {
        "lines": PRODUCT_150,
        "promotions": [P10],
        "promo_codes": ["p10", " P10 "],
        "expect": {"promos": "15.00", "applied": ["P10"], "rejected": {}},
    },
    "a kind-restricted promotion applies to its kinds only": {
        "lines": PRODUCT_150,
        "promotions": [{"code": "RETAIL20", "percent": "0.20", "kinds": ["product"]}],
        "promo_codes": ["RETAIL20"],
        "expect": {"promos": "20.00", "tip_base": "50.00", "lines": {"p": {"promo": "20.00"}, "a": {"promo": "0"}}},
    },
    "a kind-restricted promotion with nothing of its kind on the ticket is rejected": {
        "lines": [{"kind": "appointment", "price": "50.00"}],
        "promotions": [{"code": "RETAIL20", "percent": "0.20", "kinds": ["product"]}],
        "promo_codes": ["RETAIL20"],
        "expect": {"promos": "0", "applied": [], "rejected": {"RETAIL20": "Applies to product only"}},
    },
    "a promotion never touches a gift card unless it names gift cards": {
        "lines": [
            {"id": "gc", "kind": "gift_card", "price": "50.00"},
            {"id": "p", "kind": "product", "price": "50.00", "tax_rate": "0.10"},
        ],
        "promotions": [{"code": "HALF", "percent": "0.50"}],
        "promo_codes": ["HALF"],
        "expect": {
            "promos": "25.00", "tax": "2.50", "total": "77.50",
            "lines": {"gc": {"promo": "0", "net": "50.00", "tax": "0"}, "p": {"promo": "25.00"}},
        },
    },
    "a promotion that names gift cards does apply to them": {
        "lines": [{"id": "gc", "kind": "gift_card", "price": "50.00"}],
        "promotions": [{"code": "GC10", "percent": "0.10", "kinds": ["gift_card"]}],
        "promo_codes": ["GC10"],
        "expect": {"promos": "5.00", "total": "45.00", "tax": "0"},
    },
    "a general promotion on a gift-card-only ticket is rejected with a readable reason": {
        "lines": [{"kind": "gift_card", "price": "50.00"}],
        "promotions": [P10],
        "promo_codes": ["P10"],
        "expect": {"promos": "0", "rejected": {"P10": "Does not apply to gift cards"}},
    },
    "a promotion on a fully prepaid ticket is rejected, not silently kept": {
        "lines": [{"kind": "appointment", "price": "45.00", "prepaid": "package"}],
        "promotions": [P10],
        "promo_codes": ["P10"],
        "expect": {"promos": "0", "total": "0", "rejected": {"P10": "prepaid"}},
    },
    "a fixed promotion larger than the eligible lines is capped: nothing goes below zero": {
        "lines": [{"kind": "product", "price": "3.00", "tax_rate": "0.0825"}],
        "promotions": [{"code": "F5", "amount": "5.00"}],
        "promo_codes": ["F5"],
        "expect": {"promos": "3.00", "tax": "0", "total": "0", "balance_due": "0"},
    },
    "promotions apply after line discounts": {
        "lines": [{"kind": "product", "price": "100.00", "discount": {"percent": "0.50"}}],
        "promotions": [P10],
        "promo_codes": ["P10"],
        "expect": {"discounts": "50.00", "promos": "5.00", "total": "45.00"},
    },
    "a promotion's share is taxed at each line's own rate after allocation": {
        "lines": [
            {"id": "taxed", "kind": "product", "price": "10.00", "tax_rate": "0.0825"},
            {"id": "free", "kind": "product", "price": "20.00"},
        ],
        "promotions": [F5],
        "promo_codes": ["F5"],
        "expect": {
            "promos": "5.00", "tax": "0.69", "total": "25.69",
            "lines": {"taxed": {"promo": "1.67", "net": "8.33", "tax": "0.69"}, "free": {"promo": "3.33"}},
        },
    },
    "surcharge on net + tax, as its own figure": {
        "lines": [{"kind": "product", "price": "100.00", "tax_rate": "0.0825"}],
        "surcharge_rate": "0.03",
        "expect": {"tax": "8.25", "surcharge": "3.25", "total": "111.50", "balance_due": "111.50"},
    },
    "tip base is the service lines after discounts and promotions, before tax": {
        "lines": [
            {"kind": "appointment", "price": "60.00", "tax_rate": "0.0825", "discount": {"percent": "0.10"}},
            {"kind": "class", "price": "20.00"},
            {"kind": "product", "price": "30.00"},
            {"kind": "membership", "price": "99.00"},
            {"kind": "package", "price": "200.00"},
            {"kind": "gift_card", "price": "25.00"},
        ],
        "expect": {"tip_base": "74.00", "subtotal": "434.00"},
    },
    "a partial payment leaves the rest due; tips do not count toward the balance": {
        "lines": [{"kind": "product", "price": "100.00", "tax_rate": "0.0825"}],
        "surcharge_rate": "0.03",
        "payments": [{"amount": "50.00", "tip": "10.00"}],
        "expect": {"total": "111.50", "paid": "50.00", "balance_due": "61.50"},
    },
    "two payments that cover the total leave nothing due": {
        "lines": [{"kind": "product", "price": "100.00"}],
        "payments": ["60.00", "40.00"],
        "expect": {"paid": "100.00", "balance_due": "0"},
    },
    "an overpayment leaves a zero balance, never a negative one": {
        "lines": [{"kind": "product", "price": "100.00"}],
        "payments": ["120.00"],
        "expect": {"total": "100.00", "paid": "120.00", "balance_due": "0"},
    },
    "gift cards are never taxed": {
        "lines": [{"kind": "gift_card", "price": "100.00"}],
        "surcharge_rate": "0.03",
        "expect": {"tax": "0", "surcharge": "3.00", "total": "103.00"},
    },
    "JPY: no minor digits, same rules": {
        "currency": "JPY",
        "lines": [
            {"kind": "product", "price": "1200", "tax_rate": "0.10"},
            {"kind": "appointment", "price": "3500", "tax_rate": "0.10", "discount": {"percent": "0.15"}},
        ],
        "surcharge_rate": "0.03",
        "expect": {
            "subtotal": "4700", "discounts": "525", "tax": "418", "surcharge": "138",
            "total": "4731", "tip_base": "2975",
        },
    },
    "KWD: three minor digits": {
        "currency": "KWD",
        "lines": [{"kind": "product", "price": "12.345", "tax_rate": "0.05"}],
        "expect": {"tax": "0.617", "total": "12.962"},
    },
}


@pytest.mark.parametrize("spec", SCENARIOS.values(), ids=list(SCENARIOS))
def test_pricing_scenario(spec: dict[str, Any]) -> None:
    check_scenario(spec)


# -- docs/pricing.md -----------------------------------------------------------------------------------
def doc_examples() -> list[dict[str, Any]]:
    text = DOCS.read_text(encoding="utf-8")
    return [json.loads(block) for block in re.findall(r"```pricing-example\n(.*?)```", text, flags=re.DOTALL)]


def test_docs_have_worked_examples_with_every_total() -> None:
    examples = doc_examples()
    assert 4 <= len(examples) <= 8
    for example in examples:
        assert example.get("title"), "every worked example has a title"
        missing = [name for name in TOTALS if name not in example["expect"]]
        assert not missing, f"{example['title']}: the docs list every total, missing {missing}"


@pytest.mark.parametrize("example", doc_examples(), ids=lambda e: str(e.get("title")))
def test_docs_worked_example_holds(example: dict[str, Any]) -> None:
    check_scenario(example)


def test_a_wrong_figure_in_an_example_is_caught() -> None:
    """The checker itself can fail: change one expected figure of a docs example and it must."""
    example = json.loads(json.dumps(doc_examples()[0]))
    example["expect"]["total"] = "999999.99"
    with pytest.raises(AssertionError):
        check_scenario(example)


# -- rules not in the table --------------------------------------------------------------------------
def test_price_ticket_uses_the_tickets_lines_codes_and_payments() -> None:
    ticket = Ticket.new(1, "USD")
    ticket.add_line(_line({"kind": "product", "price": "100.00", "tax_rate": "0.0825"}, "USD", 0))
    ticket.add_promo_code("p10")
    ticket.payments.append(
        Payment("pay", Money(5000, "USD"), Money(0, "USD"), PaymentMethod.CASH, datetime(2025, 1, 1, tzinfo=UTC))
    )
    priced = price_ticket(ticket, promotions={"P10": _promotion(P10, "USD")}, surcharge_rate=Decimal("0.03"))
    # 100 - 10 = 90; tax 7.43 (742.5 -> 743); surcharge 3% of 97.43 = 2.92 (292.29); total 100.35
    assert priced.total == Money(10035, "USD")
    assert priced.balance_due == Money(5035, "USD")


@pytest.mark.parametrize("rate", [Decimal(-1), Decimal(1), Decimal("1.5")])
def test_surcharge_rate_must_be_a_fraction(rate: Decimal) -> None:
    with pytest.raises(ValueError, match="surcharge"):
        price_lines([], "USD", surcharge_rate=rate)


def test_a_gift_card_line_cannot_carry_a_tax_rate() -> None:
    with pytest.raises(ValueError, match="gift cards are not taxed"):
        _line({"kind": "gift_card", "price": "50.00", "tax_rate": "0.0825"}, "USD", 0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "either a percent or an amount"),
        ({"percent": Decimal("0.1"), "amount": Money(100, "USD")}, "either a percent or an amount"),
        ({"percent": Decimal(0)}, "more than 0%"),
        ({"percent": Decimal("1.01")}, "at most 100%"),
        ({"amount": Money(0, "USD")}, "positive"),
    ],
)
def test_a_promotion_is_one_valid_percent_or_amount(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Promotion(code="X", name="X", **fields)


amounts = st.integers(min_value=0, max_value=10**7)
kinds = st.sampled_from(list(ItemKind))


@st.composite
def random_lines(draw: st.DrawFn) -> list[TicketLine]:
    lines = []
    for i in range(draw(st.integers(min_value=0, max_value=8))):
        kind = draw(kinds)
        discount = draw(
            st.one_of(
                st.none(),
                st.builds(LineDiscount, percent=st.decimals(min_value="0.01", max_value=1, places=2)),
                st.builds(LineDiscount, amount=st.builds(Money, st.integers(1, 10**6), st.just("USD"))),
            )
        )
        lines.append(
            TicketLine(
                id=f"l{i}",
                item_id=f"i{i}",
                kind=kind,
                name=kind.label,
                unit_price=Money(draw(amounts), "USD"),
                quantity=draw(st.integers(min_value=1, max_value=5)),
                tax_rate=Decimal(0) if kind is ItemKind.GIFT_CARD else draw(st.sampled_from(
                    [Decimal(0), Decimal("0.0825"), Decimal("0.08875"), Decimal("0.2")]
                )),
                discount=discount,
                prepaid=draw(st.sampled_from([None, *Coverage])) if kind.is_service else None,
            )
        )
    return lines


PROMOTIONS = {
    p.code: p
    for p in (
        Promotion("P10", "10%", percent=Decimal("0.10")),
        Promotion("F5", "$5", amount=Money(500, "USD")),
        Promotion("VIP", "VIP", percent=Decimal("0.25"), stackable=False),
        Promotion("BIG", "$50", amount=Money(5000, "USD"), stackable=False),
        Promotion("RETAIL", "Retail", percent=Decimal("0.2"), eligible_kinds=frozenset({ItemKind.PRODUCT})),
        Promotion("GC", "Gift", percent=Decimal("0.05"), eligible_kinds=frozenset({ItemKind.GIFT_CARD})),
    )
}


@settings(deadline=None, max_examples=150)
@given(
    lines=random_lines(),
    codes=st.lists(st.sampled_from([*PROMOTIONS, "NOPE"]), max_size=4),
    surcharge=st.sampled_from([Decimal(0), Decimal("0.03"), Decimal("0.035")]),
    paid=st.lists(st.integers(min_value=0, max_value=10**7), max_size=3),
)
def test_any_ticket_prices_consistently(
    lines: list[TicketLine], codes: list[str], surcharge: Decimal, paid: list[int]
) -> None:
    payments = [
        Payment(f"p{i}", Money(m, "USD"), Money(0, "USD"), PaymentMethod.CARD, datetime(2025, 1, 1, tzinfo=UTC))
        for i, m in enumerate(paid)
    ]
    priced = price_lines(
        lines, "USD", promo_codes=codes, promotions=PROMOTIONS, payments=payments, surcharge_rate=surcharge
    )
    _assert_consistent(priced)
    assert not priced.promos.is_negative() and priced.promos <= priced.subtotal - priced.discounts
    # Every code entered is either applied or rejected with a reason, never both, never dropped.
    entered = {c.upper() for c in codes}
    assert set(priced.applied_promo_codes) | set(priced.rejected_promo_codes) == entered
    assert not set(priced.applied_promo_codes) & set(priced.rejected_promo_codes)
    # A gift card takes a promotion only from one that names gift cards.
    for line, priced_line in zip(lines, priced.lines, strict=True):
        if line.kind is ItemKind.GIFT_CARD:
            assert priced_line.tax.is_zero()
            if "GC" not in priced.applied_promo_codes:
                assert priced_line.promo.is_zero()
    # Payments only ever lower what is due.
    assert priced.balance_due <= priced.total
