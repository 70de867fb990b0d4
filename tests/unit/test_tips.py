"""Tips: presets, custom amounts, the cap, stores without tips, and whatever a form may send."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posdesk.core.money import Money
from posdesk.core.tips import (
    DEFAULT_PRESETS,
    TipChoice,
    TipChoicesChanged,
    TipError,
    TipPolicy,
    TipPreset,
    tip_amount,
    tip_cap_left,
    tip_share,
)

BASE = Money(4550, "USD")  # $45.50 of services
POLICY = TipPolicy(
    presets=(
        TipPreset(percent=Decimal("0.15")),
        TipPreset(percent=Decimal("0.20")),
        TipPreset(amount=Money(500, "USD")),
    )
)


@pytest.mark.parametrize(
    ("index", "minor"),
    [(0, 683), (1, 910), (2, 500)],  # 15% of 45.50 = 6.825 -> 6.83 (half-up); 20% = 9.10; fixed $5
)
def test_presets(index: int, minor: int) -> None:
    assert tip_amount(TipChoice(preset_index=index), BASE, POLICY) == Money(minor, "USD")


def test_no_tip_is_zero_even_where_tips_are_not_allowed() -> None:
    assert tip_amount(TipChoice.none(), BASE, POLICY) == Money(0, "USD")
    assert tip_amount(TipChoice.none(), BASE, TipPolicy(allowed=False)) == Money(0, "USD")


def test_custom_tip() -> None:
    assert tip_amount(TipChoice(custom_minor=1234), BASE, POLICY) == Money(1234, "USD")
    assert tip_amount(TipChoice(custom_minor=0), BASE, POLICY) == Money(0, "USD")


def test_tip_is_capped_at_the_policy_rate_of_the_base() -> None:
    assert tip_amount(TipChoice(custom_minor=4550), BASE, POLICY) == BASE  # 100% is the default cap
    with pytest.raises(TipError, match=r"at most \$45\.50"):
        tip_amount(TipChoice(custom_minor=4551), BASE, POLICY)
    strict = TipPolicy(max_rate=Decimal("0.25"))
    assert strict.cap(BASE) == Money(1138, "USD")  # 11.375 -> 11.38
    with pytest.raises(TipError, match=r"at most \$11\.38"):
        tip_amount(TipChoice(custom_minor=1139), BASE, strict)


def test_a_fixed_preset_above_the_cap_is_refused_rather_than_overcharging() -> None:
    # A $5 preset on a $2 base would be a 250% tip: the cap is the store's promise to the client.
    with pytest.raises(TipError, match="at most"):
        tip_amount(TipChoice(preset_index=2), Money(200, "USD"), POLICY)


def test_nothing_to_tip_on_means_no_tip_but_zero() -> None:
    zero = Money(0, "USD")
    assert tip_amount(TipChoice(preset_index=0), zero, POLICY) == zero
    with pytest.raises(TipError):
        tip_amount(TipChoice(custom_minor=100), zero, POLICY)


def test_tips_not_allowed() -> None:
    closed = TipPolicy(allowed=False)
    for choice in (TipChoice(preset_index=0), TipChoice(custom_minor=100)):
        with pytest.raises(TipError, match="does not accept tips"):
            tip_amount(choice, BASE, closed)


def test_negative_custom_tip_is_refused() -> None:
    with pytest.raises(TipError, match="cannot be negative"):
        tip_amount(TipChoice(custom_minor=-1), BASE, POLICY)


@pytest.mark.parametrize("index", [3, 99])
def test_unknown_preset_index_is_refused(index: int) -> None:
    with pytest.raises(TipError, match="Unknown tip option"):
        tip_amount(TipChoice(preset_index=index), BASE, POLICY)


def test_the_tip_is_in_the_currency_of_the_base() -> None:
    yen = tip_amount(TipChoice(preset_index=0), Money(3333, "JPY"), TipPolicy())
    assert yen == Money(500, "JPY")  # 15% of 3333 = 499.95 -> 500 yen


# -- presets -------------------------------------------------------------------------------------------
def test_preset_labels() -> None:
    assert [p.label() for p in DEFAULT_PRESETS] == ["15%", "18%", "20%"]
    assert TipPreset(percent=Decimal("0.10")).label() == "10%"
    assert TipPreset(percent=Decimal("0.125")).label() == "12.5%"
    assert TipPreset(amount=Money(500, "USD")).label() == "$5.00"
    assert TipPreset(amount=Money(500, "EUR")).label("fr_FR") == "5,00\u00a0€"


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"percent": Decimal(0)},
        {"percent": Decimal("1.5")},
        {"amount": Money(0, "USD")},
        {"percent": Decimal("0.1"), "amount": Money(100, "USD")},
    ],
)
def test_a_preset_is_one_valid_percent_or_amount(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        TipPreset(**fields)  # type: ignore[arg-type]


# -- form values ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("preset", "custom", "choice"),
    [
        (None, None, TipChoice()),
        ("", "123", TipChoice()),
        ("none", "123", TipChoice()),
        ("0", None, TipChoice(preset_index=0)),
        ("2", "ignored", TipChoice(preset_index=2)),
        ("custom", "250", TipChoice(custom_minor=250)),
        ("custom", " 250 ", TipChoice(custom_minor=250)),
        ("custom", "0", TipChoice(custom_minor=0)),
        ("custom", "-5", TipChoice(custom_minor=-5)),  # read, then refused by tip_amount
    ],
)
def test_parse_form_values(preset: str | None, custom: str | None, choice: TipChoice) -> None:
    assert TipChoice.parse(preset, custom) == choice


@pytest.mark.parametrize(
    ("preset", "custom", "message"),
    [
        ("custom", None, "Enter a tip amount"),
        ("custom", "", "Enter a tip amount"),
        ("custom", "abc", "Enter a tip amount"),
        ("custom", "12.50", "Enter a tip amount"),  # minor units only: the page sends cents
        ("custom", "--5", "Enter a tip amount"),
        ("custom", "²", "Enter a tip amount"),
        ("custom", "١٢", "Enter a tip amount"),
        ("custom", "9" * 5000, "Enter a tip amount"),
        ("custom", "1e3", "Enter a tip amount"),
        ("-1", None, "Unknown tip option"),
        ("1.0", None, "Unknown tip option"),
        ("²", None, "Unknown tip option"),
        ("9" * 5000, None, "Unknown tip option"),
        ("CUSTOM", "100", "Unknown tip option"),
        ("<script>", None, "Unknown tip option"),
    ],
)
def test_parse_refuses_garbage_with_a_tip_error(preset: str, custom: str | None, message: str) -> None:
    with pytest.raises(TipError, match=message):
        TipChoice.parse(preset, custom)


@given(preset=st.one_of(st.none(), st.text(max_size=20)), custom=st.one_of(st.none(), st.text(max_size=20)))
def test_parse_of_any_text_answers_a_choice_or_a_tip_error(preset: str | None, custom: str | None) -> None:
    try:
        choice = TipChoice.parse(preset, custom)
    except TipError:
        return
    try:
        amount = tip_amount(choice, BASE, POLICY)
    except TipError:
        return  # refused in words the page can show, never another exception
    assert Money(0, "USD") <= amount <= POLICY.cap(BASE)


# -- presets posted as the client saw them ------------------------------------------------------------------
def test_a_preset_is_posted_as_what_the_client_saw() -> None:
    preset = TipPreset(percent=Decimal("0.15"))
    value = preset.form_value(Money(10000, "USD"))
    assert value == "percent:0.15:1500"
    assert tip_amount(
        TipChoice.parse(value, None), Money(10000, "USD"), TipPolicy(presets=(preset,))
    ) == Money(1500, "USD")
    fixed = TipPreset(amount=Money(500, "USD"))
    assert tip_amount(TipChoice.parse(fixed.form_value(BASE), None), BASE, POLICY) == Money(500, "USD")


def test_a_preset_the_manager_changed_is_refused_not_charged_at_the_new_rate() -> None:
    seen = TipChoice.parse(TipPreset(percent=Decimal("0.15")).form_value(Money(10000, "USD")), None)
    now = TipPolicy(presets=(TipPreset(percent=Decimal("0.25")),))
    with pytest.raises(TipChoicesChanged):
        tip_amount(seen, Money(10000, "USD"), now)
    # Same rate, but on another base than the page showed (another part was paid meanwhile): refused too.
    with pytest.raises(TipChoicesChanged):
        tip_amount(seen, Money(9000, "USD"), TipPolicy(presets=(TipPreset(percent=Decimal("0.15")),)))


@given(
    presets=st.lists(
        st.one_of(
            st.decimals(min_value=Decimal("0.01"), max_value=1, places=2).map(lambda d: TipPreset(percent=d)),
            st.integers(min_value=1, max_value=10**6).map(lambda m: TipPreset(amount=Money(m, "USD"))),
        ),
        min_size=1,
        max_size=6,
    ),
    changed=st.lists(
        st.decimals(min_value=Decimal("0.01"), max_value=1, places=2).map(lambda d: TipPreset(percent=d)),
        min_size=1,
        max_size=6,
    ),
    base=st.integers(min_value=1, max_value=10**8).map(lambda m: Money(m, "USD")),
    pick=st.integers(min_value=0, max_value=5),
)
def test_the_charged_tip_is_what_the_page_showed_or_refused(
    presets: list[TipPreset], changed: list[TipPreset], base: Money, pick: int
) -> None:
    shown = presets[pick % len(presets)]
    posted = TipChoice.parse(shown.form_value(base), None)
    for policy in (TipPolicy(presets=tuple(presets)), TipPolicy(presets=tuple(changed))):
        try:
            charged = tip_amount(posted, base, policy)
        except TipChoicesChanged:
            assert not any(
                p.matches(shown.percent, shown.amount.minor if shown.amount else None) for p in policy.presets
            )
            continue
        except TipError:
            assert shown.amount_for(base) > policy.cap(base)
            continue
        assert charged == shown.amount_for(base)


# -- part payments: each tips on its share, the cap holds for the invoice ---------------------------------
def test_the_issue_example_two_parts_at_twenty_percent_tip_twenty_dollars_not_forty() -> None:
    base, total, usd = Money(10000, "USD"), Money(10825, "USD"), Money(0, "USD")
    first = tip_share(base, total, usd, Money(5000, "USD"))
    second = tip_share(base, total, Money(5000, "USD"), Money(5825, "USD"))
    assert (first, second) == (Money(4619, "USD"), Money(5381, "USD"))
    rate = TipPolicy(presets=(TipPreset(percent=Decimal("0.20")),))
    tips = [tip_amount(TipChoice(preset_index=0), share, rate) for share in (first, second)]
    assert tips == [Money(924, "USD"), Money(1076, "USD")]
    assert tips[0] + tips[1] == Money(2000, "USD")


def test_the_cap_holds_across_parts() -> None:
    base = Money(10000, "USD")
    policy = TipPolicy(max_rate=Decimal("0.30"))
    first = tip_amount(
        TipChoice(custom_minor=3000),
        tip_share(base, Money(10825, "USD"), Money(0, "USD"), Money(5000, "USD")),
        policy,
        tip_cap_left(policy, base, Money(0, "USD")),
    )
    assert first == Money(3000, "USD")
    left = tip_cap_left(policy, base, first)
    assert left == Money(0, "USD")
    with pytest.raises(TipError, match=r"at most \$0\.00"):
        tip_amount(TipChoice(custom_minor=3000), Money(5381, "USD"), policy, left)


def test_a_tip_alone_tips_on_what_is_unpaid_and_a_prepaid_visit_on_everything() -> None:
    base = Money(4500, "USD")
    assert tip_share(base, Money(0, "USD"), Money(0, "USD"), Money(0, "USD")) == base
    assert tip_share(base, Money(9000, "USD"), Money(4500, "USD"), Money(0, "USD")) == Money(2250, "USD")
    assert tip_share(base, Money(9000, "USD"), Money(9000, "USD"), Money(0, "USD")) == Money(0, "USD")


@given(
    tip_base=st.integers(min_value=0, max_value=10**9),
    extra=st.integers(min_value=0, max_value=10**9),
    cuts=st.lists(st.integers(min_value=1, max_value=10**9), min_size=0, max_size=8),
    rate=st.decimals(min_value=Decimal("0.01"), max_value=1, places=2),
    max_rate=st.decimals(min_value=Decimal("0.01"), max_value=1, places=2),
    currency=st.sampled_from(["USD", "JPY", "KWD"]),
)
def test_parts_share_the_tip_base_exactly_and_never_tip_past_the_cap(
    tip_base: int, extra: int, cuts: list[int], rate: Decimal, max_rate: Decimal, currency: str
) -> None:
    base, total = Money(tip_base, currency), Money(tip_base + extra, currency)
    if not total.is_positive():
        return
    # The total split into parts at random points (each part positive).
    points = sorted({c % total.minor for c in cuts} - {0})
    bounds = [0, *points, total.minor]
    parts = [Money(b - a, currency) for a, b in itertools.pairwise(bounds)]
    policy = TipPolicy(presets=(TipPreset(percent=rate),), max_rate=max_rate)
    paid, tips, shares = Money(0, currency), Money(0, currency), []
    for part in parts:
        share = tip_share(base, total, paid, part)
        assert not share.is_negative()
        shares.append(share)
        # The client asks for the preset, and then for as much as they can: neither passes the cap.
        cap = tip_cap_left(policy, base, tips)
        for choice in (
            TipChoice(preset_index=0),
            TipChoice(custom_minor=cap.minor + 1),
            TipChoice(custom_minor=cap.minor),
        ):
            try:
                tips = tips + tip_amount(choice, share, policy, cap)
                break
            except TipError:
                continue
        paid = paid + part
    assert sum(s.minor for s in shares) == base.minor
    assert tips <= policy.cap(base)


# -- docs/pricing.md's tip examples --------------------------------------------------------------------------
def _tip_examples() -> list[dict[str, object]]:
    import json
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "pricing.md").read_text(encoding="utf-8")
    return [json.loads(block) for block in re.findall(r"```tip-example\n(.*?)```", text, flags=re.DOTALL)]


def test_the_docs_have_tip_examples_with_two_parts_and_one_in_a_zero_decimal_currency() -> None:
    examples = _tip_examples()
    assert len(examples) >= 3
    assert all(len(e["parts"]) >= 2 for e in examples)  # type: ignore[arg-type]
    assert any(Money(0, str(e["currency"])).exponent == 0 for e in examples)


@pytest.mark.parametrize("example", _tip_examples(), ids=lambda e: str(e["currency"]))
def test_docs_tip_example_holds(example: dict[str, Any]) -> None:
    currency = example["currency"]

    def money(text: str) -> Money:
        return Money.from_decimal(text, currency)

    base, grand = money(example["tip_base"]), money(example["total"])
    paid, tips = Money.zero(currency), Money.zero(currency)
    for part in example["parts"]:
        amount = money(part["amount"])
        share = tip_share(base, grand, paid, amount)
        assert share == money(part["expect"]["share"])
        choice = part["choice"]
        policy = TipPolicy(
            presets=(TipPreset(percent=Decimal(choice.get("percent", "0.01"))),), max_rate=Decimal(example["max_rate"])
        )
        asked = TipChoice(preset_index=0) if "percent" in choice else TipChoice(custom_minor=money(choice["custom"]).minor)
        cap = tip_cap_left(policy, base, tips)
        if part["expect"].get("refused"):
            with pytest.raises(TipError):
                tip_amount(asked, share, policy, cap)
        else:
            tip = tip_amount(asked, share, policy, cap)
            assert tip == money(part["expect"]["tip"])
            tips = tips + tip
        paid = paid + amount
    assert tips == money(example["expect"]["tips"])
