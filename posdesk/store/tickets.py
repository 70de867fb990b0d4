"""Tickets in the local cache: save whole (lines and payments) with an optimistic revision check."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypedDict, TypeVar, Unpack

from sqlalchemy import Select, delete, func, insert, select, update

from posdesk.core.attributes import field_values, from_attributes
from posdesk.core.catalog import ItemKind
from posdesk.core.money import Money
from posdesk.core.ticket import (
    Coverage,
    LineDiscount,
    Payment,
    PaymentMethod,
    Refund,
    Ticket,
    TicketLine,
    TicketState,
)
from posdesk.store.models import PaymentRow, TicketLineRow, TicketRow
from posdesk.store.outbox import Outbox
from posdesk.store.repository import Repository
from posdesk.store.search import name_key, prefix_upper_bound

DEFAULT_PAGE = 50
Part = TypeVar("Part", TicketLineRow, PaymentRow)


class TicketPage(TypedDict, total=False):
    """Which page of :meth:`TicketRepository.list`: one client's tickets only, page size, offset."""

    client_id: str | None
    limit: int
    offset: int


class StaleTicketError(Exception):
    """Someone saved a newer revision of this ticket (another terminal, or a payment that arrived).

    The caller reloads the ticket and shows the cashier what changed; edits are never merged silently.
    """

    def __init__(self, ticket_id: str, number: int, expected: int | None, stored: int) -> None:
        super().__init__(
            f"ticket {number} changed elsewhere (revision {stored}, this copy was based on {expected})"
        )
        self.ticket_id = ticket_id
        self.number = number
        self.expected = expected
        self.stored = stored


class TicketRepository(Repository):
    """Tickets of this terminal's cache."""

    # -- writing ---------------------------------------------------------------------------------
    def save(self, ticket: Ticket, *, base_revision: int | None) -> None:
        """Write the whole ticket, replacing its lines and payments.

        ``base_revision`` is the revision the ticket had when it was loaded (None for a ticket never
        saved). If the stored revision is different, someone else saved in between and
        :class:`StaleTicketError` is raised; nothing is written.
        """
        values = _ticket_values(ticket)
        if base_revision is None:
            stored = self.session.scalar(select(TicketRow.revision).where(TicketRow.id == ticket.id))
            if stored is not None:
                raise StaleTicketError(ticket.id, ticket.number, None, stored)
            self.session.execute(insert(TicketRow).values(id=ticket.id, **values))
        else:
            result = self.session.execute(
                update(TicketRow)
                .where(TicketRow.id == ticket.id, TicketRow.revision == base_revision)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                stored = self.session.scalar(select(TicketRow.revision).where(TicketRow.id == ticket.id))
                raise StaleTicketError(
                    ticket.id, ticket.number, base_revision, -1 if stored is None else stored
                )
            self.session.execute(delete(TicketLineRow).where(TicketLineRow.ticket_id == ticket.id))
            self.session.execute(delete(PaymentRow).where(PaymentRow.ticket_id == ticket.id))
        if ticket.lines:
            self.session.execute(
                insert(TicketLineRow),
                [_line_values(ticket.id, i, line) for i, line in enumerate(ticket.lines)],
            )
        if ticket.payments:
            self.session.execute(
                insert(PaymentRow), [_payment_values(ticket.id, i, p) for i, p in enumerate(ticket.payments)]
            )
        if ticket.state is TicketState.PAID and any(line.kind is ItemKind.GIFT_CARD for line in ticket.lines):
            # Paid in full however it happened (a tender, an online payment, another terminal's event):
            # the gift cards it sold become usable holdings in the same transaction.
            from posdesk.store.gift_cards import GiftCardRepository

            GiftCardRepository(self.session).issue_sold(ticket)

    def save_with_outbox(
        self, ticket: Ticket, *, base_revision: int | None, kind: str, key: str, payload: dict[str, Any]
    ) -> int:
        """Save the ticket and enqueue work for the companion in the same transaction (both or neither)."""
        self.save(ticket, base_revision=base_revision)
        return Outbox(self.session).enqueue(kind, key, payload)

    def next_number(self) -> int:
        """The next ticket number of this cache (one more than the largest, 1 for the first)."""
        largest = self.session.scalar(select(func.max(TicketRow.number)))
        return (largest or 0) + 1

    # -- reading ---------------------------------------------------------------------------------
    def get(self, ticket_id: str) -> Ticket | None:
        found = self._load_many(select(TicketRow).where(TicketRow.id == ticket_id))
        return found[0] if found else None

    def require(self, ticket_id: str, refusal: Exception) -> Ticket:
        """The ticket; ``refusal`` (what the cashier is told) is raised when this cache does not hold it."""
        ticket = self.get(ticket_id)
        if ticket is None:
            raise refusal
        return ticket

    def get_by_number(self, number: int) -> Ticket | None:
        found = self._load_many(select(TicketRow).where(TicketRow.number == number))
        return found[0] if found else None

    def revision_of(self, ticket_id: str) -> int | None:
        return self.session.scalar(select(TicketRow.revision).where(TicketRow.id == ticket_id))

    def list(
        self, states: Iterable[TicketState] = (), search: str = "", **page: Unpack[TicketPage]
    ) -> builtins.list[Ticket]:
        """Tickets matching every filter given.

        ``search`` is a ticket number (digits, exact) or the start of the client's name, ignoring case
        and accents. Name matches come in name order, newest first within a name; everything else
        newest first. Each order is read straight off an index, so a page costs the same with a million
        tickets as with a hundred.
        """
        return self._load_many(self.list_query(states, search, **page))

    def list_query(
        self,
        states: Iterable[TicketState] = (),
        search: str = "",
        *,
        client_id: str | None = None,
        limit: int = DEFAULT_PAGE,
        offset: int = 0,
    ) -> Select[Any]:
        """The SELECT behind :meth:`list` (tests read its query plan)."""
        query = select(TicketRow)
        wanted = [state.value for state in states]
        if client_id is not None:
            query = query.where(TicketRow.client_id == client_id)
        text = search.strip().lstrip("#")
        key = "" if text.isdigit() else name_key(search)
        if key:
            if wanted:
                # "state || ''" keeps SQLite from choosing the state index and then sorting every ticket
                # of that state: the name index, read in order, is the fast path.
                query = query.where(TicketRow.state.concat("").in_(wanted))
            query = query.where(TicketRow.client_key >= key, TicketRow.client_key < prefix_upper_bound(key))
            return query.order_by(TicketRow.client_key, TicketRow.number.desc()).limit(limit).offset(offset)
        if wanted:
            query = query.where(TicketRow.state.in_(wanted))
        if text.isdigit():
            query = query.where(TicketRow.number == int(text))
        return query.order_by(TicketRow.number.desc()).limit(limit).offset(offset)

    def count(self, states: Iterable[TicketState] = ()) -> int:
        query = select(func.count()).select_from(TicketRow)
        wanted = [state.value for state in states]
        if wanted:
            query = query.where(TicketRow.state.in_(wanted))
        return self.session.scalar(query) or 0

    def _load_many(self, query: Select[Any]) -> builtins.list[Ticket]:
        # populate_existing (here and in _by_ticket): saves write with Core statements, so rows this
        # session loaded earlier may be out of date in its identity map.
        rows = list(self.session.scalars(query.execution_options(populate_existing=True)))
        if not rows:
            return []
        ids = [row.id for row in rows]
        lines = self._by_ticket(TicketLineRow, ids)
        payments = self._by_ticket(PaymentRow, ids)
        return [_ticket_of(row, lines[row.id], payments[row.id]) for row in rows]

    def _by_ticket(self, part: type[Part], ids: builtins.list[str]) -> dict[str, builtins.list[Part]]:
        """The lines (or payments) of the tickets ``ids``, in their order, by ticket id."""
        found: dict[str, builtins.list[Part]] = {i: [] for i in ids}
        for row in self.session.scalars(
            select(part)
            .where(part.ticket_id.in_(ids))
            .order_by(part.ticket_id, part.position)
            .execution_options(populate_existing=True)
        ):
            found[row.ticket_id].append(row)
        return found


# -- rows <-> core ---------------------------------------------------------------------------------
def _ticket_of(row: TicketRow, lines: list[TicketLineRow], payments: list[PaymentRow]) -> Ticket:
    return from_attributes(
        Ticket,
        row,
        lines=[_line_of(line, row.currency) for line in lines],
        promo_codes=list(row.promo_codes),
        payments=[_payment_of(p, row.currency) for p in payments],
        state=TicketState(row.state),
    )


def _ticket_values(ticket: Ticket) -> dict[str, object]:
    return field_values(
        ticket,
        leaving=("id", "lines", "payments"),  # the lines and payments have their own tables
        client_key=name_key(ticket.client_name),
        state=ticket.state.value,
        promo_codes=list(ticket.promo_codes),
    )


def _line_values(ticket_id: str, position: int, line: TicketLine) -> dict[str, Any]:
    discount = line.discount
    return {
        "id": line.id,
        "ticket_id": ticket_id,
        "position": position,
        "item_id": line.item_id,
        "kind": line.kind.value,
        "name": line.name,
        "unit_price_minor": line.unit_price.minor,
        "quantity": line.quantity,
        "tax_rate": str(line.tax_rate),
        "discount_percent": None if discount is None or discount.percent is None else str(discount.percent),
        "discount_minor": None if discount is None or discount.amount is None else discount.amount.minor,
        "prepaid": line.prepaid.value if line.prepaid else None,
        "prepaid_holding_id": line.prepaid_holding_id,
        "staff": line.staff,
        "start_at": line.start,
        "appointment_id": line.appointment_id,
        "note": line.note,
    }


def _line_of(row: TicketLineRow, currency: str) -> TicketLine:
    discount = None
    if row.discount_percent is not None:
        discount = LineDiscount(percent=Decimal(row.discount_percent))
    elif row.discount_minor is not None:
        discount = LineDiscount(amount=Money(row.discount_minor, currency))
    return TicketLine(
        id=row.id,
        item_id=row.item_id,
        kind=ItemKind(row.kind),
        name=row.name,
        unit_price=Money(row.unit_price_minor, currency),
        quantity=row.quantity,
        tax_rate=Decimal(row.tax_rate),
        discount=discount,
        prepaid=Coverage(row.prepaid) if row.prepaid else None,
        prepaid_holding_id=row.prepaid_holding_id,
        staff=row.staff,
        start=row.start_at,
        appointment_id=row.appointment_id,
        note=row.note,
    )


def _payment_values(ticket_id: str, position: int, payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.id,
        "ticket_id": ticket_id,
        "position": position,
        "amount_minor": payment.amount.minor,
        "tip_minor": payment.tip.minor,
        "method": payment.method.value,
        "received_at": payment.received_at,
        "reference": payment.reference,
        "card_brand": payment.card_brand,
        "card_last4": payment.card_last4,
        "refunded_minor": None if payment.refunded is None else payment.refunded.minor,
        "refunded_tip_minor": None if payment.refunded_tip is None else payment.refunded_tip.minor,
        "refunds": [
            {"at": r.at.isoformat(), "amount": r.amount.minor, "tip": r.tip.minor} for r in payment.refunds
        ]
        or None,
        "tip_split": None
        if payment.tip_split is None
        else {who: share.minor for who, share in payment.tip_split},
    }


def _refunds_of(raw: list[Any] | None, currency: str) -> tuple[Refund, ...]:
    return tuple(
        Refund(
            datetime.fromisoformat(r["at"]), Money(int(r["amount"]), currency), Money(int(r["tip"]), currency)
        )
        for r in raw or ()
    )


def _payment_of(row: PaymentRow, currency: str) -> Payment:
    return Payment(
        id=row.id,
        amount=Money(row.amount_minor, currency),
        tip=Money(row.tip_minor, currency),
        method=PaymentMethod(row.method),
        received_at=row.received_at,
        reference=row.reference,
        card_brand=row.card_brand,
        card_last4=row.card_last4,
        refunded=None if row.refunded_minor is None else Money(row.refunded_minor, currency),
        refunded_tip=None if row.refunded_tip_minor is None else Money(row.refunded_tip_minor, currency),
        refunds=_refunds_of(row.refunds, currency),
        tip_split=None
        if row.tip_split is None
        else tuple((str(who), Money(int(minor), currency)) for who, minor in row.tip_split.items()),
    )
