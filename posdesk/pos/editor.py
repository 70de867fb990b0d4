"""The ticket being edited on a terminal, and the rules of editing it, without Qt.

:class:`TicketEditor` holds what the New Ticket screen edits (the ticket, its client and what the client
holds, the invoice known for it) and answers the questions the screen asks: is it dirty, read-only, was
it sent from another terminal. It applies package and membership coverage as lines are added or the
client changes, and it runs the save state machine:

- a save runs on the writer thread; until its result is back the editor does not know the stored
  revision, so a second save waits (:meth:`begin_save` returns None and remembers to save again),
  actions that must start from the saved revision wait (:meth:`when_saved`), and changes the store
  reports for this ticket are looked at afterwards;
- a change reported by the store is taken whole when the cashier has no unsaved edits; otherwise only
  its payments and state are merged into the edits (:meth:`take_stored`), and the edits build on the
  stored revision only when nothing else changed there: a conflicting edit stays refused, never merged
  silently.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from posdesk.core.catalog import CatalogItem, ItemKind
from posdesk.core.client import Client, Holdings
from posdesk.core.money import Money, MoneyFormatError
from posdesk.core.ticket import Coverage, LineDiscount, PaymentMethod, Ticket, TicketLine, TicketState

if TYPE_CHECKING:
    from posdesk.pos.backend import InvoiceInfo

log = logging.getLogger(__name__)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_discount(text: str, currency: str, locale: str) -> LineDiscount | None:
    """ "10%" -> 10 percent; "5" or "$5.00" -> a fixed amount; "" -> none. Raises ValueError with a message."""
    text = text.strip()
    if not text:
        return None
    if text.endswith("%"):
        try:
            percent = Decimal(text[:-1].strip().replace(",", ".")) / 100
        except InvalidOperation:
            raise ValueError("Write a discount as 10% or as an amount") from None
        return LineDiscount(percent=percent)
    try:
        return LineDiscount(amount=Money.parse(text, currency, locale))
    except MoneyFormatError as exc:
        raise ValueError(str(exc)) from None


def discount_text(discount: LineDiscount | None, locale: str) -> str:
    if discount is None:
        return ""
    if discount.percent is not None:
        return f"{(discount.percent * 100).normalize():f}%"
    assert discount.amount is not None
    return discount.amount.format(locale)


def content_of(ticket: Ticket) -> Ticket:
    """What the cashier edits on a ticket: everything but its payments, state and bookkeeping."""
    return replace(
        ticket, payments=[], state=TicketState.OPEN, revision=0, created_at=_EPOCH, updated_at=_EPOCH
    )


@dataclass(frozen=True, slots=True)
class SaveRequest:
    """A copy of the ticket to write, and the revision the cashier's edits started from."""

    ticket: Ticket
    base_revision: int | None


@dataclass(slots=True)
class AfterSave:
    """What waited for a save's result: save again, run these actions, look at these changed ids."""

    save_again: bool = False
    waiting: list[Callable[[], object]] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)
    same_ticket: bool = True


class TicketEditor:
    """One terminal's ticket in the making. ``today`` gives the store's date (coverage by holdings)."""

    def __init__(self, currency: str, today: Callable[[], date]) -> None:
        self.today = today
        self.ticket: Ticket = Ticket.new(number=0, currency=currency)
        self.client: Client | None = None
        self.holdings = Holdings()
        self.invoice: InvoiceInfo | None = None
        self.saved_revision: int | None = None  # None: never saved
        # The stored form at ``saved_revision``: tells a payment that arrived (merged into the edits)
        # from a change of content elsewhere (refused on save).
        self.stored: Ticket | None = None
        self._saving_id: str | None = None
        self._save_again = False
        self._changed_while_saving: set[str] = set()
        self._when_saved: list[Callable[[], object]] = []

    # -- what the screen asks --------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        return self.saved_revision != self.ticket.revision

    @property
    def sent_elsewhere(self) -> bool:
        """A copy of a ticket another terminal invoiced (see posdesk.sync.applying.materialize_ticket).

        This terminal has no link for it, so editing or sending it here would fork it (a second link for
        one ticket); the terminal that sent it is where it changes. It still closes here when paid.
        """
        ticket = self.ticket
        if self.saved_revision is None or self.invoice is not None:
            return False
        if ticket.state is TicketState.AWAITING_PAYMENT:
            return True
        # Partly paid with no link here: online (so invoiced elsewhere), or only at this counter.
        return ticket.state is TicketState.PARTIALLY_PAID and any(
            p.method is PaymentMethod.ONLINE_CARD for p in ticket.payments
        )

    @property
    def read_only(self) -> bool:
        return self.ticket.is_closed or self.sent_elsewhere

    @property
    def saving(self) -> bool:
        """True while a save of the ticket shown is on the writer and its result is not back yet."""
        return self._saving_id is not None and self._saving_id == self.ticket.id

    # -- opening ---------------------------------------------------------------------------------
    def new(self, currency: str) -> None:
        self.ticket = Ticket.new(number=0, currency=currency)
        self.client = None
        self.holdings = Holdings()
        self.invoice = None
        self.saved_revision = None
        self.stored = None

    def open(
        self, ticket: Ticket, client: Client | None, holdings: Holdings, invoice: InvoiceInfo | None
    ) -> None:
        self.ticket = ticket
        self.client = client
        self.holdings = holdings
        self.invoice = invoice
        self._take_whole(ticket)

    def _take_whole(self, stored: Ticket) -> None:
        self.ticket = stored
        self.saved_revision = stored.revision
        self.stored = copy.deepcopy(stored)

    # -- editing (each raises TicketStateError / ValueError / TypeError when refused) -------------
    def add_item(self, item: CatalogItem, *, amount: Money | None = None, recipient: str = "") -> TicketLine:
        line = TicketLine.from_item(item)
        if item.kind is ItemKind.GIFT_CARD:
            line = TicketLine(
                id=line.id,
                item_id=item.id,
                kind=item.kind,
                name=item.name,
                unit_price=amount or item.price,
                note=f"For {recipient}" if recipient else "",
            )
        return self.ticket.add_line(self.with_coverage(line))

    def add_line(self, line: TicketLine) -> TicketLine:
        return self.ticket.add_line(self.with_coverage(line))

    def set_quantity(self, line_id: str, quantity: int) -> None:
        self.ticket.update_line(line_id, quantity=quantity)

    def set_discount(self, line_id: str, text: str, locale: str) -> bool:
        """Parse and set a line's discount; False when it is the discount already there."""
        discount = parse_discount(text, self.ticket.currency, locale)
        if discount == self.ticket.line(line_id).discount:
            return False
        self.ticket.update_line(line_id, discount=discount)
        return True

    def remove_line(self, line_id: str) -> None:
        self.ticket.remove_line(line_id)

    def set_client(self, client: Client | None, holdings: Holdings) -> None:
        """Put ``client`` on the ticket (None: walk-in); lines they hold coverage for become prepaid."""
        self.ticket.set_client(client.id if client else None, client.display_name if client else "")
        self.client = client
        self.holdings = holdings if client else Holdings()
        self._recover_lines()

    def has_appointment(self, appointment_id: str) -> bool:
        return any(line.appointment_id == appointment_id for line in self.ticket.lines)

    def needs_fresh_ticket_for(self, client: Client | None) -> bool:
        """An appointment of ``client`` goes on a new ticket when this one cannot take it."""
        other_client = client is not None and self.ticket.client_id not in (None, client.id)
        return (
            self.read_only
            or other_client
            or bool(self.ticket.lines and self.ticket.is_walk_in and client is not None)
        )

    # -- coverage by what the client holds -------------------------------------------------------
    def with_coverage(self, line: TicketLine, lines: list[TicketLine] | None = None) -> TicketLine:
        """Cover a service line by the client's membership or package, when they hold one for it."""
        if not line.kind.is_service or line.prepaid is not None or self.client is None:
            return line
        found = self.holdings.coverage_for(line.item_id, self.today())
        if found is None:
            return line
        kind, holding_id = found
        if kind == "package":
            package = next(p for p in self.holdings.packages if p.package_id == holding_id)
            in_use = sum(
                existing.quantity
                for existing in (lines if lines is not None else self.ticket.lines)
                if existing.prepaid is Coverage.PACKAGE and existing.prepaid_holding_id == holding_id
            )
            if in_use + line.quantity > package.sessions_left:
                return line
        return replace(line, prepaid=Coverage(kind), prepaid_holding_id=holding_id)

    def _recover_lines(self) -> None:
        """The client changed: drop the old client's coverage and apply the new client's."""
        covered: list[TicketLine] = []
        for line in self.ticket.lines:
            bare = replace(line, prepaid=None, prepaid_holding_id="") if line.prepaid else line
            covered.append(self.with_coverage(bare, covered))
        for old, new in zip(list(self.ticket.lines), covered, strict=True):
            if old != new:
                self.ticket.replace_line(new)

    # -- saving ----------------------------------------------------------------------------------
    def begin_save(self) -> SaveRequest | None:
        """The copy to write now, or None: a save of this ticket is already out (it saves again after)."""
        if self.saving:
            self._save_again = True
            return None
        self._saving_id = self.ticket.id
        return SaveRequest(copy.deepcopy(self.ticket), self.saved_revision)

    def saved(self, saved: Ticket, invoice: InvoiceInfo | None) -> None:
        """The writer stored ``saved``; edits made while it ran stay in memory (and keep it dirty)."""
        if saved.id == self.ticket.id:
            self.ticket.number = saved.number
            self.saved_revision = saved.revision
            self.stored = copy.deepcopy(saved)
            self.invoice = invoice

    def finish_save(self, *, ok: bool) -> AfterSave:
        """The save's result is in: now the revision is known, hand back what waited for it."""
        same_ticket = self._saving_id == self.ticket.id
        self._saving_id = None
        after = AfterSave(
            save_again=self._save_again and ok and same_ticket,  # and still dirty: the caller checks
            waiting=self._when_saved if ok and same_ticket else [],
            changed=self._changed_while_saving,
            same_ticket=same_ticket,
        )
        self._save_again, self._when_saved, self._changed_while_saving = False, [], set()
        return after

    def when_saved(self, action: Callable[[], object]) -> bool:
        """Keep ``action`` until the save on the writer has landed; False: nothing is saving, run it now.

        A write queued behind a save would start from the revision the editor had before that save (or
        from no number at all, for a new ticket) and be refused as stale: it waits instead.
        """
        if self.saving:
            self._when_saved.append(action)
            return True
        return False

    def adopt(self, ticket: Ticket, invoice: InvoiceInfo | None) -> bool:
        """The ticket was saved (and sent) by another path: take its stored form."""
        if ticket.id != self.ticket.id:
            return False
        self._take_whole(ticket)
        self.invoice = invoice
        return True

    # -- changes from the store (a payment from the companion, another terminal) ----------------
    def defer_if_saving(self, ids: set[str]) -> bool:
        """True when this ticket changed while its own save is out: look again once the save is back.

        The store may already hold the save, whose revision the editor does not know yet: reading it
        now would take our save for someone else's.
        """
        if self.ticket.id in ids and self.saving:
            self._changed_while_saving.add(self.ticket.id)
            return True
        return False

    def concerns(self, ids: set[str]) -> bool:
        return self.ticket.id in ids and self.saved_revision is not None and not self.saving

    def take_stored(self, stored: Ticket) -> str:
        """Apply the stored form of this ticket: "same", "replaced" (taken whole) or "merged"."""
        if stored.revision == self.saved_revision:
            return "same"  # the invoice record changed (link status), not the ticket
        if stored.is_closed or not self.dirty:
            self._take_whole(stored)
            return "replaced"
        self._merge_payments(stored)
        return "merged"

    def _merge_payments(self, stored: Ticket) -> None:
        """Keep the cashier's edits; take the payments and state the companion reported."""
        self.ticket.payments = stored.payments
        self.ticket.state = stored.state
        base = self.stored
        if base is None or content_of(base) != content_of(stored):
            return
        assert self.saved_revision is not None  # set with ``stored``, checked above
        edits = self.ticket.revision - self.saved_revision
        self.saved_revision = stored.revision
        self.stored = copy.deepcopy(stored)
        self.ticket.revision = stored.revision + max(edits, 1)
