"""POS > New Ticket: a thin view composed of panels (catalog, client bar, lines, totals and payments,
services) around a :class:`~posdesk.pos.editor.TicketEditor`, which holds the ticket and its editing
rules. The view prices the ticket with :mod:`posdesk.core.pricing` after every change and shows it;
saving goes to the writer thread as a :class:`~posdesk.gui.operations.CollectionOp`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

from posdesk.core.catalog import CatalogItem, ItemKind
from posdesk.core.client import Client, Holdings
from posdesk.core.money import Money
from posdesk.core.pricing import PricedTicket, price_at_counter, price_ticket
from posdesk.core.ticket import Ticket, TicketLine, TicketStateError
from posdesk.gui.context import PosContext
from posdesk.gui.operations import CollectionOp, OpChanges
from posdesk.gui.qt import QPushButton, QResizeEvent, QSplitter, QTimer, QVBoxLayout, QWidget, Signal
from posdesk.gui.ticket import ITEM_ROLE
from posdesk.gui.ticket.actions import ActionBar
from posdesk.gui.ticket.card import TicketCard
from posdesk.gui.ticket.catalog import CatalogPanel
from posdesk.gui.ticket.client_bar import ClientBar
from posdesk.gui.ticket.header import TicketHeader
from posdesk.gui.ticket.lines import LinesPanel
from posdesk.gui.ticket.services import ServicesPanel
from posdesk.gui.ticket.totals import TotalsPanel, load_kept_payments
from posdesk.gui.widgets import name
from posdesk.pos.backend import InvoiceInfo, TodayAppointment
from posdesk.pos.editor import TicketEditor
from posdesk.pos.phones import store_region

__all__ = ["ITEM_ROLE", "NewTicketView"]
log = logging.getLogger(__name__)
# Narrower than this (a small terminal, or 200% scale), the ticket keeps the room and one side panel shows
# at a time: the catalog, or today's services behind a toggle.
NARROW_WIDTH = 1000


class NewTicketView(QWidget):
    """The ticket being built. Public slots are what the main window and tests drive.

    Signals:
        ticket_saved(str): the ticket with this id was saved.
        send_invoice_requested(): the cashier asked to send the invoice (the main window opens the dialog).
        take_payment_requested(): Take payment (the main window opens the tender dialog).
        refund_requested(str): Refund… on the payment with this id (the main window asks for the PIN).
        message(str): a short note for the status bar.
        data_loaded(): the catalog and today's appointments are shown (see ``load_later``).
    """

    ticket_saved = Signal(str)
    send_invoice_requested = Signal()
    take_payment_requested = Signal()
    refund_requested = Signal(str)
    message = Signal(str)
    data_loaded = Signal()

    def __init__(self, ctx: PosContext, parent: QWidget | None = None, *, load_later: bool = False) -> None:
        """``load_later``: build the widgets now and read the catalog and appointments from a zero-delay
        timer, so the window can be shown first (start-up); :meth:`load` then emits ``data_loaded``."""
        super().__init__(parent)
        name(self, "newTicketView", "New ticket")
        self.ctx = ctx
        self.editor = TicketEditor(self._currency(), ctx.today)
        self.priced: PricedTicket = price_ticket(self.editor.ticket)
        self.loaded = False
        self._last_message_text = ""
        self._build()
        if load_later:
            QTimer.singleShot(0, self.load)
        else:
            self.load()
        ctx.settings_changed.connect(self._on_settings_changed)
        ctx.connection_changed.connect(lambda _state: self._refresh())
        self._refresh()

    # -- the editor's state, as the main window and tests read it ---------------------------------
    ticket = property(lambda self: self.editor.ticket)
    client = property(lambda self: self.editor.client)
    holdings = property(lambda self: self.editor.holdings)
    invoice = property(lambda self: self.editor.invoice)
    saved_revision = property(lambda self: self.editor.saved_revision)
    dirty = property(lambda self: self.editor.dirty)
    sent_elsewhere = property(lambda self: self.editor.sent_elsewhere)
    read_only = property(lambda self: self.editor.read_only)
    saving = property(lambda self: self.editor.saving)

    def load(self) -> None:
        """Read and show the catalog and today's appointments."""
        self.catalog.show_items(self.ctx.backend.catalog())
        self.reload_services()
        self.loaded = True
        self.data_loaded.emit()

    # -- building ---------------------------------------------------------------------------------
    def _build(self) -> None:
        ctx = self.ctx
        self.catalog = CatalogPanel(ctx.locale)
        self.catalog.item_requested.connect(self.request_item)
        self.client_bar = ClientBar(lambda text: ctx.backend.search_clients(text, limit=20))
        self.client_bar.region = store_region(ctx.settings.locale)
        self.client_bar.client_chosen.connect(self._on_client_chosen)
        self.client_bar.walk_in_requested.connect(self.set_walk_in)
        self.client_bar.new_client_requested.connect(self._on_new_client)
        self.lines = LinesPanel(ctx.locale, ctx.timezone)
        self.lines.quantity_changed.connect(self.set_quantity)
        self.lines.discount_edited.connect(
            lambda line_id, text: self.lines.mark_discount(line_id, self.set_discount(line_id, text))
        )
        self.lines.remove_requested.connect(self.remove_line)
        self.totals_panel = TotalsPanel(ctx.locale, ctx.timezone)
        self.totals_panel.promo_entered.connect(self._on_apply_promo)
        self.lines.last_in_chain = self.totals_panel.promo_edit
        self.services = ServicesPanel()
        self.header = TicketHeader()
        self.services.appointment_chosen.connect(self.open_appointment)
        self.actions_bar = ActionBar()
        self.actions_bar.save_requested.connect(self.save)
        self.actions_bar.send_invoice_requested.connect(self.send_invoice_requested.emit)
        self.actions_bar.payment_requested.connect(self.take_payment_requested.emit)
        self.actions_bar.close_requested.connect(self.close_ticket)
        self.totals_panel.refund_requested.connect(self.refund_requested.emit)
        self.actions_bar.set_send_invoice(self.ctx.settings.online_payment_link_enabled)

        # Side by side, Qt's default; ``parent=`` by name, or PySide tries the overload that takes an
        # orientation first and makes the ``Qt`` namespace for it (see posdesk.gui.qt).
        splitter = self.splitter = QSplitter(parent=self)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.catalog)
        self.card = TicketCard(self.header, self.client_bar, self.lines, self.totals_panel, self.actions_bar)
        self.panel_toggle = self.card.panel_toggle
        self.panel_toggle.toggled.connect(lambda _on: self._fit_panels())
        self.ticket_scroll = self.card.scroll_area
        splitter.addWidget(self.card)
        splitter.addWidget(self.services)
        for index, stretch in enumerate((2, 5, 2)):
            splitter.setStretchFactor(index, stretch)
        splitter.setSizes([250, 560, 240])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.addWidget(splitter)
        self._alias_widgets()

    def _alias_widgets(self) -> None:
        """The panels' widgets under the names the main window, scripts and tests know."""
        self.catalog_filter = self.catalog.filter
        self.catalog_browser = self.catalog.browser
        self.add_item_button = self.catalog.add_button
        self.client_search = self.client_bar.search_edit
        self.client_chip = self.client_bar.chip
        self.walk_in_button = self.client_bar.walk_in_button
        self.lines_view = self.lines.table
        self.promo_edit = self.totals_panel.promo_edit
        self.ticket_error = self.totals_panel.error
        self.total_values = self.totals_panel.values
        self.balance_due_label = self.totals_panel.balance_due_label
        self.services_panel = self.services.list
        self.title_label = self.header.title_label
        self.status_label = self.header.status_label
        self.origin_label = self.header.origin_label
        self.save_button = self.actions_bar.save_button

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_panels()

    def _fit_panels(self) -> None:
        self.card.fit_side_panels(self.width() < NARROW_WIDTH, self.catalog, self.services)

    @property
    def send_button(self) -> QPushButton | None:
        return self.actions_bar.send_button

    def _on_settings_changed(self) -> None:
        self.actions_bar.set_send_invoice(self.ctx.settings.online_payment_link_enabled)
        self._refresh()

    # -- catalog and services ---------------------------------------------------------------------
    def catalog_item(self, item_id: str) -> CatalogItem:
        return self.catalog.item(item_id)

    def request_item(self, item: CatalogItem) -> None:
        """Add ``item``; a gift card first asks for its amount and recipient."""
        if item.kind is ItemKind.GIFT_CARD:
            from posdesk.gui.gift_card_dialog import GiftCardDialog  # loaded when first opened, not at start
            dialog = GiftCardDialog(item, self.ctx.locale, self)
            dialog.accepted.connect(
                lambda: self.add_item(item, amount=dialog.amount, recipient=dialog.recipient)
            )
            dialog.open()
            return
        self.add_item(item)

    def reload_services(self) -> None:
        self.services.show_appointments(
            self.ctx.backend.todays_appointments(self.ctx.today(), self.ctx.timezone), self.ctx.timezone
        )

    def open_appointment(self, appointment: TodayAppointment) -> None:
        """Put an appointment on the ticket with its client (a fresh ticket when this one is someone else's)."""
        if self.editor.has_appointment(appointment.id):
            self.message.emit("That appointment is already on this ticket")
            return
        if self.editor.needs_fresh_ticket_for(appointment.client):
            self.new_ticket()
        if appointment.client is not None and self.ticket.client_id != appointment.client.id:
            self.set_client(appointment.client)
        self.add_line(appointment.to_line())

    # -- editing the ticket ------------------------------------------------------------------------
    def _edit(self, change: str, action: Callable[[], object]) -> bool:
        """Run one edit of the ticket; a refusal (closed ticket, bad value) shows as a message."""
        try:
            action()
        except (TicketStateError, ValueError, TypeError) as exc:
            self.show_error(str(exc))
            return False
        self.show_error("")
        self._refresh()
        log.debug("ticket %s: %s", self.ticket.number, change)
        return True

    def add_item(
        self, item: CatalogItem, *, amount: Money | None = None, recipient: str = ""
    ) -> TicketLine | None:
        added: list[TicketLine] = []
        ok = self._edit(
            f"add {item.id}",
            lambda: added.append(self.editor.add_item(item, amount=amount, recipient=recipient)),
        )
        return added[0] if ok else None

    def add_line(self, line: TicketLine) -> bool:
        return self._edit(f"add {line.item_id}", lambda: self.editor.add_line(line))

    def set_quantity(self, line_id: str, quantity: int) -> bool:
        return self._edit("quantity", lambda: self.editor.set_quantity(line_id, quantity))

    def set_discount(self, line_id: str, text: str) -> bool:
        return self._edit("discount", lambda: self.editor.set_discount(line_id, text, self.ctx.locale))

    def remove_line(self, line_id: str) -> bool:
        return self._edit("remove", lambda: self.editor.remove_line(line_id))

    def _on_apply_promo(self, code: str) -> None:
        if self._edit("promo", lambda: self.ticket.add_promo_code(code)):
            self.promo_edit.clear()
            rejected = self.priced.rejected_promo_codes.get(code.strip().upper())
            if rejected:
                self.ticket.remove_promo_code(code)
                self._refresh()
                self.show_error(f"{code.strip().upper()}: {rejected}")

    def show_error(self, text: str) -> None:
        self.ticket_error.setText(text)

    # -- client ------------------------------------------------------------------------------------
    def _on_client_chosen(self, client: Client) -> None:
        if self.set_client(client):
            self.catalog_filter.setFocus()  # the search box hides; adding items comes next

    def set_client(self, client: Client | None) -> bool:
        """Put ``client`` on the ticket (None: walk-in); lines they hold coverage for become prepaid."""
        ok = self._edit(
            "client",
            lambda: self.editor.set_client(
                client, self.ctx.backend.holdings(client.id) if client else Holdings()
            ),
        )
        self.client_bar.clear_search()
        return ok

    def set_walk_in(self) -> None:
        """Make the ticket a walk-in; on a ticket already invoiced to a client, only after asking."""
        if self.invoice is not None and self.client is not None and not self.read_only:
            self.client_bar.confirm_walk_in(self.client.display_name, self._make_walk_in)
            return
        self._make_walk_in()

    def _make_walk_in(self) -> None:
        self.set_client(None)
        self.client_bar.set_walk_in_active(True)

    def _on_new_client(self, prefill: str) -> None:
        from posdesk.gui.client_form import ClientFormDialog  # loaded when first opened, not at start
        dialog = ClientFormDialog(self.ctx, self)
        dialog.client_created.connect(self.set_client)
        if prefill and not any(ch.isdigit() for ch in prefill) and "@" not in prefill:
            dialog.first_name.setText(prefill.split(" ")[0])
            dialog.last_name.setText(" ".join(prefill.split(" ")[1:]))
        dialog.open()

    # -- opening, saving ---------------------------------------------------------------------------
    def _currency(self) -> str:
        return self.ctx.settings.currency

    def new_ticket(self) -> None:
        self.editor.new(self._currency())
        self._last_message_text = ""
        self.client_bar.set_walk_in_active(False)
        self.show_error("")
        self._refresh()
        load_kept_payments(self)
        self.client_search.setFocus()

    def open_ticket(self, ticket_id: str) -> None:
        """Show a saved ticket (reads are small and local)."""
        backend = self.ctx.backend
        ticket = backend.load_ticket(ticket_id)
        client = backend.client(ticket.client_id) if ticket.client_id else None
        holdings = backend.holdings(ticket.client_id) if ticket.client_id else Holdings()
        self.editor.open(ticket, client, holdings, backend.invoice_info(ticket.id))
        self._read_last_message()
        self.show_error("")
        self._refresh()
        load_kept_payments(self)  # online payments kept for a manager's review, from the companion

    def when_saved(self, action: Callable[[], object]) -> None:
        """Run ``action`` now, or once the save on the writer has landed (not if it was refused)."""
        if not self.editor.when_saved(action):
            action()

    def save(self) -> None:
        """Save on the writer thread; the view keeps working meanwhile."""
        if not self.ticket.lines:
            self.show_error("Add at least one item before saving")
            return
        if self.read_only:
            return
        request = self.editor.begin_save()
        if request is None:  # Ctrl+S again before the first save is back: save the newer edits after it
            return
        self.save_button.setEnabled(False)
        backend, settings = self.ctx.backend, self.ctx.settings
        CollectionOp(
            "save ticket",
            lambda: backend.save_ticket(
                request.ticket, base_revision=request.base_revision, settings=settings
            ),
            changes=lambda result: OpChanges(tickets=frozenset({result[0].id})),
            initiator=self,
        ).success(self._on_saved).failure(self._on_save_failed).run_in_background(self.ctx)

    def _on_saved(self, result: tuple[Ticket, InvoiceInfo | None]) -> None:
        saved, invoice = result
        self.editor.saved(saved, invoice)
        self._read_last_message()
        self._refresh()
        self.reload_services()
        self.message.emit(f"Ticket {saved.number} saved")
        self.ticket_saved.emit(saved.id)
        self._after_save(ok=True)

    def _on_save_failed(self, error: Exception) -> None:
        self._refresh()
        self.show_error(f"Could not save: {error}")
        self._after_save(ok=False)

    def _after_save(self, *, ok: bool) -> None:
        after = self.editor.finish_save(ok=ok)
        if after.changed:
            self.on_tickets_changed(after.changed)
        if after.save_again and self.dirty:
            self.save()
        for action in after.waiting:
            self.when_saved(action)

    def close_ticket(self) -> None:
        """Close a ticket with nothing due (fully prepaid, or paid online without a tip) in one click."""
        if self.dirty or self.saved_revision is None:
            self.save()
            self.when_saved(self.close_ticket)
            return
        backend, settings, ticket_id = self.ctx.backend, self.ctx.settings, self.ticket.id
        CollectionOp(
            "close ticket",
            lambda: (backend.close_settled_ticket(ticket_id, settings), backend.invoice_info(ticket_id)),
            changes=OpChanges(tickets=frozenset({ticket_id})),
            initiator=self,
        ).success(lambda result: self._on_closed(*result)).failure(
            lambda error: self.show_error(str(error))
        ).run_in_background(self.ctx)

    def _on_closed(self, ticket: Ticket, invoice: InvoiceInfo | None) -> None:
        self.adopt_saved(ticket, invoice)
        self.message.emit(f"Ticket {ticket.number} closed")
        self.ticket_saved.emit(ticket.id)
        self.ctx.wake_sync()

    def adopt_saved(self, ticket: Ticket, invoice: InvoiceInfo | None) -> None:
        """The ticket was saved (and sent) by another path: take its stored form."""
        if self.editor.adopt(ticket, invoice):
            self._refresh()

    # -- live updates ------------------------------------------------------------------------------
    def on_tickets_changed(self, ids: set[str]) -> None:
        """Tickets changed in the database (payment from the companion, another terminal...)."""
        if not self.editor.defer_if_saving(ids) and self.editor.concerns(ids):
            self.editor.take_stored(self.ctx.backend.load_ticket(self.ticket.id))
            self.editor.invoice = self.ctx.backend.invoice_info(self.ticket.id)
            self._read_last_message()
            self._refresh()
            load_kept_payments(self)
        self.reload_services()

    # -- showing -----------------------------------------------------------------------------------
    def _refresh(self) -> None:
        surcharge = Decimal(str(getattr(self.ctx.settings, "surcharge_rate", 0) or 0))
        try:
            self.priced = price_at_counter(self.ticket, self.ctx.backend.promotions(), surcharge)
        except ValueError as exc:
            self.show_error(str(exc))
            self.priced = price_ticket(self.ticket)
        self.header.show_state(self.editor, self._last_message_text)
        read_only = self.read_only
        self.client_bar.show_client(self.client, read_only=read_only)
        self.lines.show_lines(self.ticket, self.priced, read_only=read_only)
        self.totals_panel.show_totals(self.ticket, self.priced)
        self._refresh_actions()

    def _read_last_message(self) -> None:
        """The Communicator's last message about this ticket: read when the ticket is opened, saved or
        changes, not on every edit."""
        from posdesk.pos.message_templates import delivery_words  # SQLAlchemy: not needed to start

        last = (
            self.ctx.backend.last_message_for_ticket(self.ticket.id)
            if self.saved_revision is not None
            else None
        )
        self._last_message_text = f"Last message: {delivery_words(last)}" if last else ""

    def _refresh_actions(self) -> None:
        editable = not self.read_only
        self.client_bar.set_editable(editable)
        self.catalog.set_editable(editable)
        self.totals_panel.set_editable(editable)
        self.actions_bar.show_state(self.editor, self.priced)
