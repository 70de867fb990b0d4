"""Tips: presets, custom amounts, the cap, stores without tips, and whatever a form may send."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posdesk.core.money import Money
from posdesk.core.tips import DEFAULT_PRESETS, TipChoice, TipError, TipPolicy, TipPreset, tip_amount

BASE = Money(4550, "USD")  # $45.50 of services
POLICY = TipPolicy(
    presets=(TipPreset(percent=Decimal("0.15")), TipPreset(percent=Decimal("0.20")), TipPreset(amount=Money(500, "USD")))
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
    [{}, {"percent": Decimal(0)}, {"percent": Decimal("1.5")}, {"amount": Money(0, "USD")},
     {"percent": Decimal("0.1"), "amount": Money(100, "USD")}],
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
