"""Pricing: from ticket lines, promotions and payments to every figure the cashier and client see.

The order of operations (``docs/pricing.md`` has worked examples that the tests check):

1. **Gross** per line = unit price x quantity.
2. **Prepaid** lines (covered by a package session or a membership) count 0 from here on; their gross is
   reported as ``prepaid`` so the page can show what was covered.
3. **Line discount**: a percent of the gross (rounded half-up per line) or a fixed amount, capped at
   the gross.
4. **Promotions**, on the lines of eligible kinds (every kind but gift cards unless the promotion names
   its kinds), after line discounts. Stackable promotions all apply,
   percents first then fixed amounts, each on what remains. A non-stackable promotion applies alone:
   when the codes include one, the single option (that promotion alone, or all stackable ones
   together) that saves the client most wins; ties go to the stackable set. A promotion's saving is
   spread over its eligible lines in proportion to their amounts with :meth:`Money.allocate`, so no
   minor unit is lost.
5. **Tax** per line on what remains (half-up, per line). Gift cards are never taxed.
6. **Surcharge** (card payments): a percent of (net + tax), rounded half-up, shown as its own line
   (``per_tender=False``, the whole ticket paid by card). Priced **per tender** (the counter, and every
   invoice link), the surcharge is on card amounts only: each card payment carries its own
   (:func:`card_surcharge`; a link asks :func:`card_charge` of what it wants off the balance), and the
   ticket's surcharge is what its card payments carried (:func:`surcharge_within`); cash, gift cards
   and other tenders carry none.
7. **Total** = net + tax + surcharge; **paid** = payments' amounts (tips excluded);
   **balance due** = max(total - paid, 0).
8. **Tip base** = the service lines (appointments and classes) after discounts and promotions, before
   tax, with prepaid services counted at their value after line discount: a client whose haircut is in
   their package still tips on the haircut.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from posdesk.core.catalog import ItemKind
from posdesk.core.money import Money, check_percent_or_amount, total
from posdesk.core.ticket import Payment, PaymentMethod, Ticket, TicketLine

CARD_METHODS = frozenset({PaymentMethod.CARD, PaymentMethod.ONLINE_CARD})


def card_surcharge(amount: Money, rate: Decimal) -> Money:
    """The surcharge a card tender of ``amount`` toward the balance carries: ``rate`` of it, half-up."""
    return amount.apply_rate(rate)


def surcharge_within(charged: Money, rate: Decimal) -> Money:
    """The surcharge inside a card payment of ``charged`` (the amount toward the balance plus its
    surcharge). Exact for what :func:`card_surcharge` made: its rounding error, under half a minor unit,
    shrinks when divided by ``1 + rate``, so the amount rounds back to itself."""
    base = (Decimal(charged.minor) / (1 + rate)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return charged - Money(int(base), charged.currency)


def card_charge(amount: Money, rate: Decimal) -> Money:
    """What a card pays to bring ``amount`` off the balance: the amount and its surcharge. An invoice
    link asks this for its amount due (whoever pays online pays by card); :func:`toward_balance` of
    the result is ``amount`` again, exactly."""
    return amount + card_surcharge(amount, rate)


def toward_balance(payment: Payment, rate: Decimal) -> Money:
    """What a payment counts toward the balance when surcharges are per tender: a card payment less
    the surcharge it carried, any other payment in full."""
    if payment.method in CARD_METHODS:
        return payment.amount - surcharge_within(payment.amount, rate)
    return payment.amount


@dataclass(frozen=True, slots=True)
class Promotion:
    """A promo code: a percent (``Decimal("0.15")``) or a fixed amount off the eligible lines."""

    code: str
    name: str
    percent: Decimal | None = None
    amount: Money | None = None
    stackable: bool = True
    eligible_kinds: frozenset[ItemKind] = frozenset()  # empty: every kind but gift cards
    active: bool = True

    def __post_init__(self) -> None:
        check_percent_or_amount(self, "a promotion", "a promotion percent", "a promotion amount")

    def to_wire(self) -> dict[str, Any]:
        """The one JSON form of a promotion: in the POS's cache, on the API, in the companion's store."""
        return {
            "code": self.code,
            "name": self.name,
            "percent": None if self.percent is None else str(self.percent),
            "amount": None if self.amount is None else self.amount.minor,
            "stackable": self.stackable,
            "eligible_kinds": sorted(kind.value for kind in self.eligible_kinds),
            "active": self.active,
        }

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any], currency: str) -> Promotion:
        """Read :meth:`to_wire`'s form written by posdesk itself (the companion checks a terminal's
        upload field by field first). An amount is in ``currency``, the store's."""
        amount, percent = raw.get("amount"), raw.get("percent")
        return cls(
            code=str(raw["code"]).upper(),
            name=str(raw.get("name") or raw["code"]),
            percent=None if percent is None else Decimal(str(percent)),
            amount=None if amount is None else Money(int(amount), raw.get("currency") or currency),
            stackable=bool(raw.get("stackable", True)),
            eligible_kinds=frozenset(ItemKind(k) for k in raw.get("eligible_kinds", ())),
            active=bool(raw.get("active", True)),
        )

    def applies_to(self, kind: ItemKind) -> bool:
        # Selling stored value at a discount is a loss, so gift cards take a promotion only when named.
        if not self.eligible_kinds:
            return kind is not ItemKind.GIFT_CARD
        return kind in self.eligible_kinds


@dataclass(frozen=True, slots=True)
class PricedLine:
    """One ticket line's figures, from its gross price down to its total."""

    line_id: str
    gross: Money
    prepaid: Money  # the value covered by a package or membership (0 when not prepaid)
    prepaid_label: str
    discount: Money
    promo: Money
    net: Money  # after coverage, discount and promotions, before tax
    tax: Money
    total: Money  # net + tax


@dataclass(frozen=True, slots=True)
class PricedTicket:
    """Every figure of a priced ticket, in one currency."""

    currency: str
    lines: tuple[PricedLine, ...]
    subtotal: Money  # gross of the lines that are not prepaid
    prepaid: Money
    discounts: Money
    promos: Money
    tax: Money
    surcharge: Money
    total: Money
    paid: Money
    balance_due: Money
    tip_base: Money
    applied_promo_codes: tuple[str, ...] = ()
    rejected_promo_codes: Mapping[str, str] = field(default_factory=dict)

    def line(self, line_id: str) -> PricedLine:
        for priced in self.lines:
            if priced.line_id == line_id:
                return priced
        raise KeyError(line_id)

    @property
    def net(self) -> Money:
        return self.subtotal - self.discounts - self.promos

    @property
    def is_fully_prepaid(self) -> bool:
        return self.prepaid.is_positive() and self.total.is_zero()


def _line_discount(line: TicketLine, gross: Money) -> Money:
    if line.discount is None:
        return Money.zero(gross.currency)
    if line.discount.percent is not None:
        return gross.apply_rate(line.discount.percent)
    assert line.discount.amount is not None
    return line.discount.amount.min(gross)


def _promo_savings(
    promos: Sequence[Promotion], kinds: Sequence[ItemKind], amounts: Sequence[Money]
) -> list[Money]:
    """Per-line savings of applying ``promos`` in sequence (percents first) to ``amounts``."""
    currency = amounts[0].currency
    remaining = list(amounts)
    savings = [Money.zero(currency) for _ in amounts]
    ordered = sorted(promos, key=lambda p: (p.percent is None, p.code))
    for promo in ordered:
        eligible = [i for i, kind in enumerate(kinds) if promo.applies_to(kind)]
        base = total((remaining[i] for i in eligible), currency)
        if base.is_zero():
            continue
        if promo.percent is not None:
            saving = base.apply_rate(promo.percent)
        else:
            assert promo.amount is not None
            saving = promo.amount.min(base)
        shares = saving.allocate([remaining[i].minor for i in eligible])
        for i, share in zip(eligible, shares, strict=True):
            remaining[i] = remaining[i] - share
            savings[i] = savings[i] + share
    return savings


def _choose_promotions(
    codes: Sequence[str],
    promotions: Mapping[str, Promotion],
    kinds: Sequence[ItemKind],
    amounts: Sequence[Money],
) -> tuple[list[Money], tuple[str, ...], dict[str, str]]:
    rejected: dict[str, str] = {}
    usable: list[Promotion] = []
    seen: set[str] = set()
    for raw_code in codes:
        code = raw_code.strip().upper()
        if code in seen:  # a code entered twice counts once, never as two promotions
            continue
        seen.add(code)
        promo = promotions.get(code)
        if promo is None or not promo.active:
            rejected[code] = "Unknown or expired promo code"
        elif promo.amount is not None and amounts and promo.amount.currency != amounts[0].currency:
            rejected[code] = "This promo code is for another currency"
        elif not any(promo.applies_to(kind) for kind in kinds):
            if promo.eligible_kinds:
                names = ", ".join(sorted(kind.label.lower() for kind in promo.eligible_kinds))
                rejected[code] = f"Applies to {names} only"
            else:
                rejected[code] = "Does not apply to gift cards or prepaid lines"
        else:
            usable.append(promo)
    if not amounts or not usable:
        return [Money.zero(amounts[0].currency) for _ in amounts] if amounts else [], (), rejected

    stackable = [p for p in usable if p.stackable]
    options: list[list[Promotion]] = [stackable] if stackable else []
    options += [[p] for p in usable if not p.stackable]

    def saving_of(option: list[Promotion]) -> int:
        return sum(s.minor for s in _promo_savings(option, kinds, amounts))

    best = max(options, key=saving_of)  # max keeps the first of equals: the stackable set
    for promo in usable:
        if promo not in best:
            rejected[promo.code] = "Cannot be combined with the other promo codes"
    return _promo_savings(best, kinds, amounts), tuple(p.code for p in best), rejected


def price_lines(
    lines: Sequence[TicketLine],
    currency: str,
    *,
    promo_codes: Sequence[str] = (),
    promotions: Mapping[str, Promotion] | None = None,
    payments: Sequence[Payment] = (),
    surcharge_rate: Decimal = Decimal(0),
    per_tender: bool = False,
) -> PricedTicket:
    """Price ``lines`` by the rules in this module's docstring; ``per_tender``: the surcharge is what
    the card payments carried, not a percent of the whole ticket (rule 6)."""
    zero = Money.zero(currency)
    promotions = promotions or {}
    if not Decimal(0) <= surcharge_rate < Decimal(1):
        raise ValueError("surcharge rate must be a fraction between 0 and 1")

    gross = [line.gross for line in lines]
    prepaid = [g if line.prepaid else zero for line, g in zip(lines, gross, strict=True)]
    discount = [
        zero if line.prepaid else _line_discount(line, g) for line, g in zip(lines, gross, strict=True)
    ]
    after_discount = [
        zero if line.prepaid else g - d for line, g, d in zip(lines, gross, discount, strict=True)
    ]
    # Prepaid lines take no part in promotions: their amount is zero and they are not offered as eligible.
    paying = [i for i, line in enumerate(lines) if not line.prepaid]
    promo_savings, applied, rejected = _choose_promotions(
        promo_codes, promotions, [lines[i].kind for i in paying], [after_discount[i] for i in paying]
    )
    promo = [zero] * len(lines)
    for i, saving in zip(paying, promo_savings, strict=True):
        promo[i] = saving

    priced: list[PricedLine] = []
    for i, line in enumerate(lines):
        net = after_discount[i] - promo[i]
        tax = net.apply_rate(line.tax_rate) if line.kind.is_taxable else zero
        priced.append(
            PricedLine(
                line_id=line.id,
                gross=gross[i],
                prepaid=prepaid[i],
                prepaid_label=line.prepaid.label if line.prepaid else "",
                discount=discount[i],
                promo=promo[i],
                net=net,
                tax=tax,
                total=net + tax,
            )
        )

    net_total = total((p.net for p in priced), currency)
    tax_total = total((p.tax for p in priced), currency)
    if per_tender:
        carried = (surcharge_within(p.amount, surcharge_rate) for p in payments if p.method in CARD_METHODS)
        surcharge = total(carried, currency)
    else:
        surcharge = (net_total + tax_total).apply_rate(surcharge_rate)
    grand_total = net_total + tax_total + surcharge
    paid = total((p.amount for p in payments), currency)
    tip_base = total(
        (
            (p.gross - _line_discount(line, p.gross)) if line.prepaid else p.net
            for line, p in zip(lines, priced, strict=True)
            if line.kind.is_service
        ),
        currency,
    )
    return PricedTicket(
        currency=currency,
        lines=tuple(priced),
        subtotal=total((g for g, line in zip(gross, lines, strict=True) if not line.prepaid), currency),
        prepaid=total(prepaid, currency),
        discounts=total(discount, currency),
        promos=total(promo, currency),
        tax=tax_total,
        surcharge=surcharge,
        total=grand_total,
        paid=paid,
        balance_due=(grand_total - paid).max(zero),
        tip_base=tip_base,
        applied_promo_codes=applied,
        rejected_promo_codes=rejected,
    )


def price_ticket(
    ticket: Ticket,
    *,
    promotions: Mapping[str, Promotion] | None = None,
    surcharge_rate: Decimal = Decimal(0),
    per_tender: bool = False,
) -> PricedTicket:
    """Price a ticket with the store's promotions and card surcharge (per tender: see rule 6)."""
    return price_lines(
        ticket.lines,
        ticket.currency,
        promo_codes=ticket.promo_codes,
        promotions=promotions,
        payments=ticket.payments,
        surcharge_rate=surcharge_rate,
        per_tender=per_tender,
    )


def price_at_counter(
    ticket: Ticket, promotions: Mapping[str, Promotion] | None, surcharge_rate: Decimal
) -> PricedTicket:
    """The ticket as the counter prices it: the card surcharge per tender (``docs/pricing.md``)."""
    return price_ticket(ticket, promotions=promotions, surcharge_rate=surcharge_rate, per_tender=True)
