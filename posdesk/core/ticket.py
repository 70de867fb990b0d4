"""Tickets: what a client is buying now, its lines, payments and life cycle.

A :class:`Ticket` is the one mutable aggregate of the core: the cashier edits it, the store saves it,
the sync layer applies payments to it. Everything it holds is a frozen value. Prices come from
:func:`posdesk.core.pricing.price_ticket`, never from fields stored on the ticket.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

from posdesk.core.catalog import CatalogItem, ItemKind
from posdesk.core.money import Money, check_percent_or_amount

MAX_QUANTITY = 999
MAX_TEXT = 500


class TicketStateError(ValueError):
    """A ticket was asked to move to a state it cannot reach from where it is, or to change when closed."""


class TicketState(enum.StrEnum):
    OPEN = "open"
    AWAITING_PAYMENT = "awaiting_payment"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"  # paid in full: the ticket is closed
    VOIDED = "voided"

    @property
    def is_closed(self) -> bool:
        return self in (TicketState.PAID, TicketState.VOIDED)

    @property
    def label(self) -> str:
        return _STATE_LABELS[self]


_STATE_LABELS = {
    TicketState.OPEN: "Open",
    TicketState.AWAITING_PAYMENT: "Invoice sent · awaiting payment",
    TicketState.PARTIALLY_PAID: "Partially paid",
    TicketState.PAID: "Paid · closed",
    TicketState.VOIDED: "Voided",
}

# Forward moves only; a closed ticket never reopens.
ALLOWED_TRANSITIONS: dict[TicketState, frozenset[TicketState]] = {
    TicketState.OPEN: frozenset(
        {TicketState.AWAITING_PAYMENT, TicketState.PARTIALLY_PAID, TicketState.PAID, TicketState.VOIDED}
    ),
    TicketState.AWAITING_PAYMENT: frozenset(
        {TicketState.OPEN, TicketState.PARTIALLY_PAID, TicketState.PAID, TicketState.VOIDED}
    ),
    TicketState.PARTIALLY_PAID: frozenset({TicketState.AWAITING_PAYMENT, TicketState.PAID}),
    TicketState.PAID: frozenset(),
    TicketState.VOIDED: frozenset(),
}


class Coverage(enum.StrEnum):
    """What prepaid a line: a package session or a membership."""

    PACKAGE = "package"
    MEMBERSHIP = "membership"

    @property
    def label(self) -> str:
        return "In package" if self is Coverage.PACKAGE else "In membership"


@dataclass(frozen=True, slots=True)
class LineDiscount:
    """A discount on one line: either a percent (``Decimal("0.10")``) or a fixed amount."""

    percent: Decimal | None = None
    amount: Money | None = None

    def __post_init__(self) -> None:
        check_percent_or_amount(self, "a line discount", "a percent discount", "a discount amount")


@dataclass(frozen=True, slots=True)
class TicketLine:
    """One line of a ticket. ``unit_price`` is the price before any discount, tax or coverage."""

    id: str
    item_id: str
    kind: ItemKind
    name: str
    unit_price: Money
    quantity: int = 1
    tax_rate: Decimal = Decimal(0)
    discount: LineDiscount | None = None
    prepaid: Coverage | None = None
    prepaid_holding_id: str = ""
    staff: str = ""
    start: datetime | None = None
    appointment_id: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int):
            raise TypeError("quantity must be an integer")
        if not 1 <= self.quantity <= MAX_QUANTITY:
            raise ValueError(f"quantity must be between 1 and {MAX_QUANTITY}")
        if self.unit_price.is_negative():
            raise ValueError("a unit price cannot be negative")
        if not self.name.strip():
            raise ValueError("a line needs a name")
        if len(self.name) > MAX_TEXT or len(self.note) > MAX_TEXT:
            raise ValueError(f"names and notes are limited to {MAX_TEXT} characters")
        if not Decimal(0) <= self.tax_rate < Decimal(1):
            raise ValueError("tax rate must be a fraction between 0 and 1")
        if not self.kind.is_taxable and self.tax_rate:
            raise ValueError("gift cards are not taxed")
        if self.prepaid is not None and not self.kind.is_service:
            raise ValueError("only services and classes can be covered by a package or membership")
        if self.discount and self.discount.amount and self.discount.amount.currency != self.unit_price.currency:
            raise ValueError("discount currency differs from the line's")

    @property
    def gross(self) -> Money:
        return self.unit_price * self.quantity

    @classmethod
    def from_item(cls, item: CatalogItem, *, quantity: int = 1, line_id: str | None = None) -> TicketLine:
        staff = getattr(item.details, "staff", "")
        start = getattr(item.details, "start", None) or getattr(item.details, "session_start", None)
        return cls(
            id=line_id or new_id(),
            item_id=item.id,
            kind=item.kind,
            name=item.name,
            unit_price=item.price,
            quantity=quantity,
            tax_rate=item.tax_rate,
            staff=staff,
            start=start,
        )


class PaymentMethod(enum.StrEnum):
    ONLINE_CARD = "online_card"  # paid through an invoice link
    CARD = "card"
    CASH = "cash"
    GIFT_CARD = "gift_card"
    OTHER = "other"  # taken at the counter by other means (a cheque, a voucher...), with a reference


@dataclass(frozen=True, slots=True)
class Refund:
    """One refund of a payment: when it was made, and how much of it came off the amount and the tip."""

    at: datetime
    amount: Money
    tip: Money

    @property
    def total(self) -> Money:
        return self.amount + self.tip


@dataclass(frozen=True, slots=True)
class Payment:
    """Money received for a ticket. ``amount`` goes to the balance; ``tip`` is on top of it.

    ``refunded`` is all that was refunded of it (amount and tip), ``refunded_tip`` the part of that
    which was tip, and ``refunds`` each refund with its time (the day summary counts a refund on the
    day it was made). ``tip_split`` is a manager's split of the tip among providers, in their order;
    None: the default split (:mod:`posdesk.core.tip_split`).
    """

    id: str
    amount: Money
    tip: Money
    method: PaymentMethod
    received_at: datetime
    reference: str = ""  # gateway payment id, or the companion's payment id
    card_brand: str = ""
    card_last4: str = ""
    refunded: Money | None = None
    refunded_tip: Money | None = None
    refunds: tuple[Refund, ...] = ()
    tip_split: tuple[tuple[str, Money], ...] | None = None

    def __post_init__(self) -> None:
        if self.amount.is_negative() or self.tip.is_negative():
            raise ValueError("payments and tips cannot be negative")
        if self.amount.currency != self.tip.currency:
            raise ValueError("payment and tip currencies differ")

    @property
    def refunded_total(self) -> Money:
        return self.refunded if self.refunded is not None else Money.zero(self.amount.currency)

    @property
    def refunded_of_tip(self) -> Money:
        """The part of the refunded total that was tip (not recorded: what is beyond the amount)."""
        if self.refunded_tip is not None:
            return self.refunded_tip
        return (self.refunded_total - self.amount).max(Money.zero(self.amount.currency))

    @property
    def refunded_of_amount(self) -> Money:
        return self.refunded_total - self.refunded_of_tip

    def with_refunded_tip(self, tip_total: Money) -> Payment:
        """This payment once told that ``tip_total`` of its refunded total was tip (a terminal that heard
        the refund without its parts counted it off the amount first): the refunds' parts move from
        amount to tip, latest first. It only grows, and never beyond the tip or what was refunded."""
        tip_total = tip_total.min(self.tip).min(self.refunded_total)
        shift = tip_total - self.refunded_of_tip
        if not shift.is_positive():
            return self
        refunds = list(self.refunds)
        for index in reversed(range(len(refunds))):
            refund = refunds[index]
            moved = refund.amount.min(shift)
            refunds[index] = Refund(refund.at, refund.amount - moved, refund.tip + moved)
            shift = shift - moved
        return replace(self, refunded_tip=tip_total, refunds=tuple(refunds))

    def with_refund(self, refunded_total: Money, tip_total: Money | None, at: datetime) -> Payment:
        """This payment after a refund that brought its refunded total to ``refunded_total``, of which
        ``tip_total`` is tip (None: not said, as in a report from the gateway; then the refund comes off
        the amount first and the tip last). A total not above the one recorded changes nothing."""
        if refunded_total > self.amount + self.tip:
            raise ValueError("cannot refund more than was paid")
        more = refunded_total - self.refunded_total
        if not more.is_positive():
            return self
        amount_left = self.amount - self.refunded_of_amount
        if tip_total is None:
            of_tip = (more - amount_left).max(Money.zero(more.currency))
        else:
            of_tip = (tip_total - self.refunded_of_tip).max(Money.zero(more.currency)).min(more)
        of_tip = of_tip.min(self.tip - self.refunded_of_tip)
        of_amount = more - of_tip
        if of_amount > amount_left:  # the tip said is less than the refund needs: the rest is tip
            of_tip, of_amount = of_tip + (of_amount - amount_left), amount_left
        refund = Refund(at, of_amount, of_tip)
        return replace(
            self,
            refunded=refunded_total,
            refunded_tip=self.refunded_of_tip + of_tip,
            refunds=(*self.refunds, refund),
        )


def new_id() -> str:
    """A random (version 4) UUID in hex, exactly as ``uuid.uuid4().hex``: made here from 16 random bytes
    because importing :mod:`uuid` imports :mod:`platform` too, which the POS's first frame otherwise
    does without (several ms of every start)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    return raw.hex()


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Ticket:
    """A ticket being built or paid. Edits bump ``revision``; a closed ticket refuses edits."""

    id: str
    number: int
    currency: str
    client_id: str | None = None
    client_name: str = ""
    lines: list[TicketLine] = field(default_factory=list)
    promo_codes: list[str] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    state: TicketState = TicketState.OPEN
    revision: int = 0
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    note: str = ""

    @classmethod
    def new(cls, number: int, currency: str, ticket_id: str | None = None) -> Ticket:
        return cls(id=ticket_id or new_id(), number=number, currency=currency)

    # -- reading ---------------------------------------------------------------------------------
    @property
    def is_walk_in(self) -> bool:
        return self.client_id is None

    @property
    def is_closed(self) -> bool:
        return self.state.is_closed

    def line(self, line_id: str) -> TicketLine:
        for line in self.lines:
            if line.id == line_id:
                return line
        raise KeyError(line_id)

    # -- editing ---------------------------------------------------------------------------------
    def _edit(self) -> None:
        if self.is_closed:
            raise TicketStateError(f"ticket {self.number} is {self.state.label.lower()} and cannot change")
        self._changed()

    def _changed(self) -> None:
        """A new revision: other terminals and the invoice see the ticket changed."""
        self.revision += 1
        self.updated_at = utcnow()

    def set_client(self, client_id: str | None, client_name: str = "") -> None:
        if self.payments and client_id != self.client_id:
            raise TicketStateError("the client cannot change once a payment is recorded")
        self._edit()
        self.client_id = client_id
        self.client_name = client_name if client_id else ""

    def add_line(self, line: TicketLine) -> TicketLine:
        if line.unit_price.currency != self.currency:
            raise ValueError(f"line is in {line.unit_price.currency}, ticket is in {self.currency}")
        if any(existing.id == line.id for existing in self.lines):
            raise ValueError(f"line {line.id} is already on the ticket")
        self._edit()
        self.lines.append(line)
        return line

    def replace_line(self, line: TicketLine) -> None:
        index = self.lines.index(self.line(line.id))
        if line.unit_price.currency != self.currency:
            raise ValueError(f"line is in {line.unit_price.currency}, ticket is in {self.currency}")
        self._edit()
        self.lines[index] = line

    def update_line(self, line_id: str, **changes: object) -> TicketLine:
        """Change fields of a line (quantity, discount, prepaid, note...); validation as on creation."""
        updated = replace(self.line(line_id), **changes)  # type: ignore[arg-type]
        self.replace_line(updated)
        return updated

    def remove_line(self, line_id: str) -> None:
        line = self.line(line_id)
        self._edit()
        self.lines.remove(line)

    def add_promo_code(self, code: str) -> None:
        code = code.strip().upper()
        if not code:
            raise ValueError("enter a promo code")
        if code not in self.promo_codes:
            self._edit()
            self.promo_codes.append(code)

    def remove_promo_code(self, code: str) -> None:
        code = code.strip().upper()
        if code not in self.promo_codes:
            raise ValueError(f"promo code {code} is not on the ticket")
        self._edit()
        self.promo_codes.remove(code)

    # -- life cycle ------------------------------------------------------------------------------
    def move_to(self, state: TicketState) -> None:
        if state == self.state:
            return
        if state not in ALLOWED_TRANSITIONS[self.state]:
            raise TicketStateError(f"a ticket cannot go from {self.state.value} to {state.value}")
        self.state = state
        self._changed()

    def mark_invoice_sent(self) -> None:
        if self.state in (TicketState.OPEN, TicketState.PARTIALLY_PAID):
            self.move_to(TicketState.AWAITING_PAYMENT)
        elif self.state is not TicketState.AWAITING_PAYMENT:
            raise TicketStateError(f"cannot send an invoice for a ticket that is {self.state.label.lower()}")

    def record_payment(self, payment: Payment, balance_due_after: Money) -> None:
        """Record a payment (idempotent by payment id) and move the state by what is still due.

        ``balance_due_after`` is the balance once this payment counts (from pricing); the caller
        prices the ticket, so this method stays free of pricing rules.
        """
        if any(existing.id == payment.id for existing in self.payments):
            return
        if self.state is TicketState.VOIDED:
            raise TicketStateError("a voided ticket cannot take payments")
        if self.state is TicketState.PAID:
            raise TicketStateError("the ticket is already paid")
        if payment.amount.currency != self.currency:
            raise ValueError("payment currency differs from the ticket's")
        self.payments.append(payment)
        state = TicketState.PAID if balance_due_after.minor <= 0 else TicketState.PARTIALLY_PAID
        if state is self.state:
            # A second partial payment changes the balance without changing the state: still a new revision.
            self._changed()
        else:
            self.move_to(state)

    def record_tip(self, tip: Payment) -> None:
        """Record a tip charged after the ticket was paid (from the confirmation page); idempotent by id.

        A tip changes no balance, so it is allowed on a paid ticket; it is refused on a voided one.
        """
        if any(existing.id == tip.id for existing in self.payments):
            return
        if self.state is TicketState.VOIDED:
            raise TicketStateError("a voided ticket cannot take a tip")
        if not tip.amount.is_zero():
            raise ValueError("a tip-only payment carries no amount toward the balance")
        self.payments.append(tip)
        self._changed()

    def record_refund(
        self,
        payment_id: str,
        refunded_total: Money,
        *,
        tip_total: Money | None = None,
        at: datetime | None = None,
    ) -> None:
        """Note how much of a payment has been refunded in all (a manager's refund, possibly partial),
        of which ``tip_total`` was tip, the latest refund made ``at`` (see :meth:`Payment.with_refund`)."""
        at = at or utcnow()
        self._change_payment(payment_id, lambda p: p.with_refund(refunded_total, tip_total, at), or_reference=True)

    def note_refunded_tip(self, payment_id: str, tip_total: Money) -> None:
        """Another terminal said how much of a payment's refunds was tip (see :meth:`Payment.with_refunded_tip`)."""
        self._change_payment(payment_id, lambda p: p.with_refunded_tip(tip_total))

    def split_tip(self, payment_id: str, shares: tuple[tuple[str, Money], ...] | None) -> None:
        """A manager's split of a payment's tip (None: back to the default split). The caller checks it
        adds up (:func:`posdesk.core.tip_split.check_manual_split`)."""
        self._change_payment(payment_id, lambda p: replace(p, tip_split=shares))

    def _change_payment(
        self, payment_id: str, change: Callable[[Payment], Payment], *, or_reference: bool = False
    ) -> None:
        """Put ``change(payment)`` in place of the payment ``payment_id`` (or, ``or_reference``, the one
        with that gateway reference); a new revision only if that changed it."""
        for index, payment in enumerate(self.payments):
            if payment.id == payment_id or (or_reference and payment.reference == payment_id):
                after = change(payment)
                if after != payment:
                    self.payments[index] = after
                    self._changed()
                return
        raise KeyError(payment_id)

    def void(self) -> None:
        if self.payments:
            raise TicketStateError("a ticket with payments cannot be voided; refund it instead")
        self.move_to(TicketState.VOIDED)

    def paid_amount(self) -> Money:
        result = Money.zero(self.currency)
        for payment in self.payments:
            result = result + payment.amount
        return result
