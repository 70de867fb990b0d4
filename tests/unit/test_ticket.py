"""Ticket life cycle: forward-only states, closed tickets frozen, payments recorded once."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from posdesk.core.catalog import AppointmentDetails, CatalogItem, ItemKind, ProductDetails
from posdesk.core.money import Money
from posdesk.core.pricing import price_ticket
from posdesk.core.ticket import (
    ALLOWED_TRANSITIONS,
    Coverage,
    LineDiscount,
    Payment,
    PaymentMethod,
    Ticket,
    TicketLine,
    TicketState,
    TicketStateError,
)

WHEN = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def line(line_id: str = "l1", price: int = 5000, kind: ItemKind = ItemKind.APPOINTMENT, **fields: object) -> TicketLine:
    return TicketLine(id=line_id, item_id="item", kind=kind, name="Haircut", unit_price=usd(price), **fields)  # type: ignore[arg-type]


def payment(payment_id: str = "pay1", amount: int = 5000, tip: int = 0) -> Payment:
    return Payment(payment_id, usd(amount), usd(tip), PaymentMethod.ONLINE_CARD, WHEN)


def ticket_with_line(price: int = 5000) -> Ticket:
    ticket = Ticket.new(1, "USD", ticket_id="t1")
    ticket.add_line(line(price=price))
    return ticket


def state_of(ticket: Ticket) -> TicketState:
    """The state read afresh (a plain attribute read would stay narrowed by an earlier assert)."""
    return ticket.state


def ticket_in(state: TicketState) -> Ticket:
    ticket = ticket_with_line()
    ticket.state = state
    return ticket


# -- transitions -------------------------------------------------------------------------------------
PAIRS = list(itertools.product(TicketState, TicketState))


@pytest.mark.parametrize(("start", "target"), PAIRS, ids=[f"{a.value}->{b.value}" for a, b in PAIRS])
def test_every_transition_is_allowed_or_refused(start: TicketState, target: TicketState) -> None:
    ticket = ticket_in(start)
    revision = ticket.revision
    if start == target:
        ticket.move_to(target)  # staying put is not a move
        assert ticket.revision == revision
    elif target in ALLOWED_TRANSITIONS[start]:
        ticket.move_to(target)
        assert ticket.state is target
        assert ticket.revision == revision + 1
    else:
        with pytest.raises(TicketStateError, match=f"from {start.value} to {target.value}"):
            ticket.move_to(target)
        assert ticket.state is start
        assert ticket.revision == revision


def test_closed_states_never_reopen_and_partial_payment_never_unpays() -> None:
    assert ALLOWED_TRANSITIONS[TicketState.PAID] == frozenset()
    assert ALLOWED_TRANSITIONS[TicketState.VOIDED] == frozenset()
    assert TicketState.OPEN not in ALLOWED_TRANSITIONS[TicketState.PARTIALLY_PAID]
    assert TicketState.VOIDED not in ALLOWED_TRANSITIONS[TicketState.PARTIALLY_PAID]
    assert {s for s in TicketState if s.is_closed} == {TicketState.PAID, TicketState.VOIDED}


def test_states_have_labels_for_the_pos() -> None:
    assert TicketState.AWAITING_PAYMENT.label == "Invoice sent · awaiting payment"
    assert TicketState.PAID.label == "Paid · closed"
    assert all(state.label for state in TicketState)


# -- closed tickets -----------------------------------------------------------------------------------------
EDITS = {
    "add_line": lambda t: t.add_line(line("l2")),
    "remove_line": lambda t: t.remove_line("l1"),
    "update_line": lambda t: t.update_line("l1", quantity=2),
    "replace_line": lambda t: t.replace_line(line("l1", price=100)),
    "set_client": lambda t: t.set_client("c1", "Ada"),
    "add_promo_code": lambda t: t.add_promo_code("SPRING"),
}


@pytest.mark.parametrize("state", [TicketState.PAID, TicketState.VOIDED])
@pytest.mark.parametrize("edit", EDITS.values(), ids=list(EDITS))
def test_a_closed_ticket_refuses_edits(state: TicketState, edit: object) -> None:
    ticket = ticket_in(state)
    before = (list(ticket.lines), ticket.client_id, list(ticket.promo_codes), ticket.revision)
    with pytest.raises(TicketStateError, match="cannot change"):
        edit(ticket)  # type: ignore[operator]
    assert (list(ticket.lines), ticket.client_id, list(ticket.promo_codes), ticket.revision) == before


def test_a_closed_ticket_refuses_removing_a_promo_code() -> None:
    ticket = ticket_with_line()
    ticket.add_promo_code("spring")
    ticket.move_to(TicketState.VOIDED)
    with pytest.raises(TicketStateError):
        ticket.remove_promo_code("SPRING")
    assert ticket.promo_codes == ["SPRING"]


@pytest.mark.parametrize("state", [TicketState.OPEN, TicketState.AWAITING_PAYMENT, TicketState.PARTIALLY_PAID])
def test_an_unclosed_ticket_can_still_be_edited(state: TicketState) -> None:
    ticket = ticket_in(state)
    ticket.add_line(line("l2"))
    assert [x.id for x in ticket.lines] == ["l1", "l2"]


# -- editing and revisions ------------------------------------------------------------------------------------
def test_every_edit_bumps_the_revision_once() -> None:
    ticket = Ticket.new(7, "USD")
    assert ticket.revision == 0 and ticket.state is TicketState.OPEN and ticket.is_walk_in
    steps: list[Callable[[], object]] = [
        lambda: ticket.set_client("c1", "Ada Lovelace"),
        lambda: ticket.add_line(line("l1")),
        lambda: ticket.add_line(line("l2", kind=ItemKind.PRODUCT)),
        lambda: ticket.update_line("l1", quantity=2),
        lambda: ticket.update_line("l1", discount=LineDiscount(percent=Decimal("0.1"))),
        lambda: ticket.replace_line(line("l2", price=300, kind=ItemKind.PRODUCT)),
        lambda: ticket.add_promo_code(" spring "),
        lambda: ticket.remove_promo_code("Spring"),
        lambda: ticket.remove_line("l2"),
    ]
    for expected, step in enumerate(steps, start=1):
        before = ticket.updated_at
        step()
        assert ticket.revision == expected
        assert ticket.updated_at >= before
    assert not ticket.is_walk_in and ticket.client_name == "Ada Lovelace"
    assert ticket.line("l1").quantity == 2
    assert ticket.promo_codes == []


def test_adding_the_same_promo_code_twice_is_one_change() -> None:
    ticket = ticket_with_line()
    ticket.add_promo_code("spring")
    revision = ticket.revision
    ticket.add_promo_code("SPRING ")
    assert ticket.promo_codes == ["SPRING"]
    assert ticket.revision == revision


@pytest.mark.parametrize(
    "bad_edit",
    [
        lambda t: t.add_line(line("l1")),  # the id is taken
        lambda t: t.add_line(TicketLine("l9", "i", ItemKind.PRODUCT, "Gel", Money(100, "EUR"))),
        lambda t: t.replace_line(TicketLine("l1", "i", ItemKind.PRODUCT, "Gel", Money(100, "EUR"))),
        lambda t: t.update_line("l1", quantity=0),
        lambda t: t.update_line("nope", quantity=2),
        lambda t: t.remove_line("nope"),
        lambda t: t.remove_promo_code("NOT-THERE"),
        lambda t: t.add_promo_code("   "),
    ],
    ids=[
        "duplicate line id",
        "line in another currency",
        "replacement in another currency",
        "invalid quantity",
        "unknown line to update",
        "unknown line to remove",
        "unknown promo code",
        "blank promo code",
    ],
)
def test_a_refused_edit_changes_nothing(bad_edit: object) -> None:
    ticket = ticket_with_line()
    before = (list(ticket.lines), list(ticket.promo_codes), ticket.revision)
    with pytest.raises((ValueError, KeyError)):
        bad_edit(ticket)  # type: ignore[operator]
    assert (list(ticket.lines), list(ticket.promo_codes), ticket.revision) == before


def test_set_client_to_walk_in_clears_the_name() -> None:
    ticket = ticket_with_line()
    ticket.set_client("c1", "Ada")
    ticket.set_client(None, "ignored")
    assert ticket.is_walk_in and ticket.client_name == ""


def test_the_client_cannot_change_once_a_payment_is_recorded() -> None:
    ticket = ticket_with_line(10000)
    ticket.set_client("c1", "Ada")
    ticket.record_payment(payment(amount=4000), balance_due_after=usd(6000))
    with pytest.raises(TicketStateError, match="client cannot change"):
        ticket.set_client("c2", "Grace")
    ticket.set_client("c1", "Ada L.")  # the same client may have their name corrected
    assert ticket.client_id == "c1"


# -- invoices and payments ------------------------------------------------------------------------------------
@pytest.mark.parametrize("start", [TicketState.OPEN, TicketState.PARTIALLY_PAID, TicketState.AWAITING_PAYMENT])
def test_sending_an_invoice_awaits_payment(start: TicketState) -> None:
    ticket = ticket_in(start)
    ticket.mark_invoice_sent()
    ticket.mark_invoice_sent()  # sending again (an updated version) is fine
    assert ticket.state is TicketState.AWAITING_PAYMENT


@pytest.mark.parametrize("closed", [TicketState.PAID, TicketState.VOIDED])
def test_a_closed_ticket_cannot_be_invoiced(closed: TicketState) -> None:
    with pytest.raises(TicketStateError, match="cannot send an invoice"):
        ticket_in(closed).mark_invoice_sent()


def test_partial_then_full_payment_closes_the_ticket() -> None:
    ticket = ticket_with_line(10000)
    ticket.mark_invoice_sent()
    ticket.record_payment(payment("a", 3000), balance_due_after=usd(7000))
    assert ticket.state is TicketState.PARTIALLY_PAID and not ticket.is_closed
    revision = ticket.revision
    ticket.record_payment(payment("b", 2000), balance_due_after=usd(5000))
    # Still partially paid, but the ticket changed: other terminals must see a new revision.
    assert ticket.state is TicketState.PARTIALLY_PAID
    assert ticket.revision == revision + 1
    ticket.record_payment(payment("c", 5000, tip=900), balance_due_after=usd(0))
    assert state_of(ticket) is TicketState.PAID and ticket.is_closed
    assert ticket.paid_amount() == usd(10000)  # tips are not part of what was paid toward the ticket


def test_record_payment_is_idempotent_by_payment_id() -> None:
    ticket = ticket_with_line(10000)
    ticket.record_payment(payment("a", 4000), balance_due_after=usd(6000))
    revision = ticket.revision
    ticket.record_payment(payment("a", 4000), balance_due_after=usd(6000))  # the same event, delivered again
    assert [p.id for p in ticket.payments] == ["a"]
    assert ticket.revision == revision
    ticket.record_payment(payment("b", 6000), balance_due_after=usd(0))
    ticket.record_payment(payment("b", 6000), balance_due_after=usd(0))  # a late duplicate after closing
    assert [p.id for p in ticket.payments] == ["a", "b"]
    assert ticket.state is TicketState.PAID


def test_a_new_payment_on_a_paid_ticket_is_refused() -> None:
    ticket = ticket_with_line()
    ticket.record_payment(payment("a"), balance_due_after=usd(0))
    with pytest.raises(TicketStateError, match="already paid"):
        ticket.record_payment(payment("b"), balance_due_after=usd(0))


def test_a_voided_ticket_takes_no_payment() -> None:
    ticket = ticket_with_line()
    ticket.void()
    with pytest.raises(TicketStateError, match="voided"):
        ticket.record_payment(payment(), balance_due_after=usd(0))
    assert ticket.payments == []


def test_a_payment_in_another_currency_is_refused() -> None:
    ticket = ticket_with_line()
    foreign = Payment("p", Money(5000, "EUR"), Money(0, "EUR"), PaymentMethod.CARD, WHEN)
    with pytest.raises(ValueError, match="currency"):
        ticket.record_payment(foreign, balance_due_after=usd(0))
    assert ticket.payments == [] and ticket.state is TicketState.OPEN


def test_void_with_payments_is_refused() -> None:
    ticket = ticket_with_line(10000)
    ticket.record_payment(payment("a", 1000), balance_due_after=usd(9000))
    with pytest.raises(TicketStateError, match="refund"):
        ticket.void()
    assert ticket.state is TicketState.PARTIALLY_PAID


def test_void_an_unpaid_ticket() -> None:
    ticket = ticket_with_line()
    ticket.mark_invoice_sent()
    ticket.void()
    assert ticket.state is TicketState.VOIDED and ticket.is_closed


def test_pricing_drives_the_state_through_a_real_ticket() -> None:
    ticket = ticket_with_line(10000)
    ticket.add_line(line("gel", price=2000, kind=ItemKind.PRODUCT, tax_rate=Decimal("0.0825")))  # tax 1.65
    ticket.mark_invoice_sent()
    first = payment("a", 6000)
    ticket.payments.append(first)  # what the balance will be once the payment counts
    balance = price_ticket(ticket).balance_due
    ticket.payments.remove(first)
    ticket.record_payment(first, balance_due_after=balance)
    assert balance == usd(6165) and ticket.state is TicketState.PARTIALLY_PAID
    last = payment("b", 6165)
    ticket.record_payment(last, balance_due_after=usd(0))
    assert price_ticket(ticket).balance_due == usd(0) and state_of(ticket) is TicketState.PAID


# -- lines, discounts, payments ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"quantity": 0}, "between 1 and 999"),
        ({"quantity": 1000}, "between 1 and 999"),
        ({"quantity": True}, "integer"),
        ({"quantity": 1.0}, "integer"),
        ({"unit_price": usd(-1)}, "cannot be negative"),
        ({"name": "   "}, "needs a name"),
        ({"name": "x" * 501}, "limited to 500"),
        ({"note": "x" * 501}, "limited to 500"),
        ({"tax_rate": Decimal(1)}, "between 0 and 1"),
        ({"tax_rate": Decimal("-0.01")}, "between 0 and 1"),
        ({"kind": ItemKind.GIFT_CARD, "tax_rate": Decimal("0.05")}, "not taxed"),
        ({"kind": ItemKind.PRODUCT, "prepaid": Coverage.PACKAGE}, "only services and classes"),
        ({"discount": LineDiscount(amount=Money(100, "EUR"))}, "currency"),
    ],
)
def test_a_line_refuses_invalid_fields(fields: dict[str, object], error: str) -> None:
    base: dict[str, object] = {
        "id": "l", "item_id": "i", "kind": ItemKind.APPOINTMENT, "name": "Cut", "unit_price": usd(100)
    }
    with pytest.raises((ValueError, TypeError), match=error):
        TicketLine(**{**base, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "fields",
    [{}, {"percent": Decimal(0)}, {"percent": Decimal("1.01")}, {"amount": usd(0)},
     {"percent": Decimal("0.1"), "amount": usd(100)}],
)
def test_a_line_discount_is_one_valid_percent_or_amount(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        LineDiscount(**fields)  # type: ignore[arg-type]


def test_a_payment_is_never_negative_and_in_one_currency() -> None:
    with pytest.raises(ValueError, match="negative"):
        Payment("p", usd(-1), usd(0), PaymentMethod.CASH, WHEN)
    with pytest.raises(ValueError, match="negative"):
        Payment("p", usd(1), usd(-1), PaymentMethod.CASH, WHEN)
    with pytest.raises(ValueError, match="currencies differ"):
        Payment("p", usd(1), Money(0, "EUR"), PaymentMethod.CASH, WHEN)


def test_a_line_from_a_catalog_item_carries_its_price_tax_staff_and_start() -> None:
    start = datetime(2025, 3, 1, 14, 30, tzinfo=UTC)
    item = CatalogItem(
        "svc-cut", ItemKind.APPOINTMENT, "Haircut", usd(4500), AppointmentDetails("Sam", start), Decimal("0.0825")
    )
    made = TicketLine.from_item(item, quantity=2, line_id="x")
    assert (made.id, made.item_id, made.kind, made.name) == ("x", "svc-cut", ItemKind.APPOINTMENT, "Haircut")
    assert (made.unit_price, made.quantity, made.tax_rate) == (usd(4500), 2, Decimal("0.0825"))
    assert (made.staff, made.start, made.gross) == ("Sam", start, usd(9000))
    product = TicketLine.from_item(CatalogItem("sku", ItemKind.PRODUCT, "Gel", usd(999), ProductDetails("G1")))
    assert product.staff == "" and product.start is None and len(product.id) == 32


def test_coverage_labels_are_what_the_page_shows() -> None:
    assert Coverage.PACKAGE.label == "In package"
    assert Coverage.MEMBERSHIP.label == "In membership"


# -- tips after payment and refunds -------------------------------------------------------------------------
def tip_only(payment_id: str = "tip1", tip: int = 800) -> Payment:
    return Payment(payment_id, usd(0), usd(tip), PaymentMethod.ONLINE_CARD, WHEN)


def test_a_tip_after_payment_is_recorded_once_on_the_paid_ticket() -> None:
    ticket = ticket_with_line()
    ticket.record_payment(payment("a"), balance_due_after=usd(0))
    revision = ticket.revision
    ticket.record_tip(tip_only())
    ticket.record_tip(tip_only())  # the confirmation page's event, delivered twice
    assert [p.id for p in ticket.payments] == ["a", "tip1"]
    assert ticket.revision == revision + 1
    assert state_of(ticket) is TicketState.PAID and ticket.paid_amount() == usd(5000)


def test_a_tip_only_payment_carries_no_amount_and_a_voided_ticket_takes_none() -> None:
    ticket = ticket_with_line()
    with pytest.raises(ValueError, match="no amount"):
        ticket.record_tip(payment("x", amount=100, tip=100))
    ticket.void()
    with pytest.raises(TicketStateError, match="voided"):
        ticket.record_tip(tip_only())
    assert ticket.payments == []


def test_a_refund_is_noted_on_its_payment_and_never_exceeds_it() -> None:
    ticket = ticket_with_line(10000)
    ticket.record_payment(
        Payment("a", usd(10000), usd(1000), PaymentMethod.ONLINE_CARD, WHEN, reference="pi_123"),
        balance_due_after=usd(0),
    )
    revision = ticket.revision
    ticket.record_refund("pi_123", usd(2500))  # by the gateway's reference
    assert ticket.payments[0].refunded == usd(2500) and ticket.revision == revision + 1
    ticket.record_refund("a", usd(11000))  # the tip can be refunded too
    assert ticket.payments[0].refunded == usd(11000)
    with pytest.raises(ValueError, match="more than was paid"):
        ticket.record_refund("a", usd(11001))
    with pytest.raises(KeyError):
        ticket.record_refund("nope", usd(1))
