"""POS > New Ticket: client, catalog, lines, totals, Save and $ Send Invoice, and today's Services.

The view edits a :class:`~posdesk.core.ticket.Ticket` in memory and prices it with
:mod:`posdesk.core.pricing` after every change; saving and sending go to the worker thread.
"""

from __future__ import annotations

import copy
import itertools
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import cast

from posdesk.core.catalog import CatalogItem, ItemKind
from posdesk.core.client import Client, Holdings
from posdesk.core.money import Money, MoneyFormatError
from posdesk.core.pricing import PricedTicket, price_ticket
from posdesk.core.ticket import Coverage, LineDiscount, Ticket, TicketLine, TicketState, TicketStateError
from posdesk.gui.backend import InvoiceInfo, TodayAppointment
from posdesk.gui.client_form import ClientFormDialog
from posdesk.gui.context import PosContext
from posdesk.gui.gift_card_dialog import GiftCardDialog
from posdesk.gui.qt import (
    QAbstractItemView,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QSplitter,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QTimer,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
    Signal,
    name,
    plain_label,
)
from posdesk.gui.status import ticket_status

log = logging.getLogger(__name__)

KIND_GROUPS = (
    (ItemKind.APPOINTMENT, "Services"),
    (ItemKind.CLASS, "Classes"),
    (ItemKind.PRODUCT, "Products"),
    (ItemKind.MEMBERSHIP, "Memberships"),
    (ItemKind.PACKAGE, "Packages"),
    (ItemKind.GIFT_CARD, "Gift cards"),
)
COL_ITEM, COL_QTY, COL_DISCOUNT, COL_AMOUNT, COL_REMOVE = range(5)
ITEM_ROLE = Qt.ItemDataRole.UserRole
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def card(parent: QWidget | None = None) -> QFrame:
    frame = QFrame(parent)
    frame.setObjectName("card")
    return frame


def section_title(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("sectionTitle")
    return label


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


def _content(ticket: Ticket) -> Ticket:
    """What the cashier edits on a ticket: everything but its payments, state and bookkeeping."""
    return replace(
        ticket, payments=[], state=TicketState.OPEN, revision=0, created_at=_EPOCH, updated_at=_EPOCH
    )


class NewTicketView(QWidget):
    """The ticket being built. Public slots are what the main window and tests drive.

    Signals:
        ticket_saved(str): the ticket with this id was saved.
        send_invoice_requested(): the cashier asked to send the invoice (the main window opens the dialog).
        message(str): a short note for the status bar.
        data_loaded(): the catalog and today's appointments are shown (see ``load_later``).
    """

    ticket_saved = Signal(str)
    send_invoice_requested = Signal()
    message = Signal(str)
    data_loaded = Signal()

    def __init__(self, ctx: PosContext, parent: QWidget | None = None, *, load_later: bool = False) -> None:
        """``load_later``: build the widgets now and read the catalog and appointments from a zero-delay
        timer, so the window can be shown first (start-up); :meth:`load` then emits ``data_loaded``."""
        super().__init__(parent)
        name(self, "newTicketView", "New ticket")
        self.ctx = ctx
        self.ticket: Ticket = self._blank_ticket()
        self.client: Client | None = None
        self.holdings = Holdings()
        self.invoice: InvoiceInfo | None = None
        self.priced: PricedTicket = price_ticket(self.ticket)
        self.saved_revision: int | None = None  # None: never saved
        # The stored form at ``saved_revision``: tells a payment that arrived (merged into the edits)
        # from a change of content elsewhere (refused on save).
        self._stored: Ticket | None = None
        # While this view's save is on the worker, the store may already hold it but the view does not
        # know its revision yet: reloads and further writes wait for it (see ``_after_save``).
        self._saving_id: str | None = None
        self._save_again = False
        self._changed_while_saving: set[str] = set()
        self._when_saved: list[Callable[[], object]] = []
        self.send_button: QPushButton | None = None
        self._line_ids: list[str] = []
        self._catalog: list[CatalogItem] = []
        self.loaded = False
        self._build()
        if load_later:
            QTimer.singleShot(0, self.load)
        else:
            self.load()
        ctx.settings_changed.connect(self._on_settings_changed)
        ctx.connection_changed.connect(lambda _state: self._refresh())
        self._refresh()

    def load(self) -> None:
        """Read and show the catalog and today's appointments."""
        self._load_catalog()
        self.reload_services()
        self.loaded = True
        self.data_loaded.emit()

    # -- building ---------------------------------------------------------------------------------
    def _build(self) -> None:
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self._build_catalog())
        splitter.addWidget(self._build_ticket())
        splitter.addWidget(self._build_services())
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 5)
        splitter.setStretchFactor(2, 2)
        splitter.setSizes([250, 560, 240])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.addWidget(splitter)

    def _build_catalog(self) -> QWidget:
        frame = card()
        layout = QVBoxLayout(frame)
        layout.addWidget(section_title("Catalog"))
        self.catalog_filter = name(QLineEdit(), "catalogFilterEdit", "Filter catalog")
        self.catalog_filter.setPlaceholderText("Filter items…")
        self.catalog_filter.setClearButtonEnabled(True)
        self.catalog_filter.textChanged.connect(self._filter_catalog)
        layout.addWidget(self.catalog_filter)
        self.catalog_browser = name(QTreeWidget(), "catalogBrowser", "Catalog")
        self.catalog_browser.setColumnCount(2)
        self.catalog_browser.setHeaderLabels(["Item", "Price"])
        self.catalog_browser.setRootIsDecorated(True)
        self.catalog_browser.setUniformRowHeights(True)
        header = self.catalog_browser.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self.catalog_browser.itemActivated.connect(self._on_catalog_activated)
        self.catalog_browser.itemDoubleClicked.connect(self._on_catalog_activated)
        layout.addWidget(self.catalog_browser, 1)
        self.add_item_button = name(QPushButton("Add to ticket"), "addItemButton", "Add item to ticket")
        self.add_item_button.clicked.connect(self._on_add_clicked)
        layout.addWidget(self.add_item_button)
        return frame

    def _build_ticket(self) -> QWidget:
        frame = card()
        layout = QVBoxLayout(frame)

        top = QHBoxLayout()
        self.title_label = QLabel("New ticket")
        self.title_label.setObjectName("ticketTitle")
        top.addWidget(self.title_label)
        top.addStretch(1)
        self.status_label = name(plain_label(), "ticketStatusLabel", "Ticket status")
        top.addWidget(self.status_label)
        layout.addLayout(top)
        # A ticket another terminal invoiced says so (and its number there), in the muted "hint" look.
        self.origin_label = plain_label()
        self.origin_label.setObjectName("hint")
        self.origin_label.setAccessibleName("Ticket origin")
        self.origin_label.hide()
        layout.addWidget(self.origin_label)
        self.message_status_label = name(plain_label(), "messageStatusLabel", "Last message to the client")
        self.message_status_label.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.message_status_label.setWordWrap(True)
        layout.addWidget(self.message_status_label)

        # Client: search as you type, a chip for the chosen one, walk-in, or a new client.
        client_row = QHBoxLayout()
        self.client_search = name(QLineEdit(), "clientSearchEdit", "Search client")
        self.client_search.setPlaceholderText("Client: search by name, phone or email")
        self.client_search.setClearButtonEnabled(True)
        self.client_search.textChanged.connect(self._on_client_search)
        self.client_search.returnPressed.connect(self._pick_first_client)
        client_row.addWidget(self.client_search, 4)
        self.client_chip = name(plain_label(), "clientChip", "Client on ticket")
        self.client_chip.hide()
        client_row.addWidget(self.client_chip)
        client_row.addStretch(1)  # keeps the chip and buttons compact once the search box hides
        self.change_client_button = name(QPushButton("Change"), "changeClientButton", "Change client")
        self.change_client_button.clicked.connect(self._on_change_client)
        self.change_client_button.hide()
        client_row.addWidget(self.change_client_button)
        self.new_client_button = name(QPushButton("New client…"), "newClientButton", "Create client")
        self.new_client_button.clicked.connect(self._on_new_client)
        client_row.addWidget(self.new_client_button)
        self.walk_in_button = name(QPushButton("Walk-in"), "walkInButton", "Walk-in client")
        self.walk_in_button.setToolTip("Sell to a client who is not in the client list")
        self.walk_in_button.clicked.connect(self.set_walk_in)
        client_row.addWidget(self.walk_in_button)
        layout.addLayout(client_row)
        self.client_results = name(QListWidget(), "clientResultsList", "Matching clients")
        self.client_results.setMaximumHeight(150)
        self.client_results.itemActivated.connect(self._on_client_chosen)
        self.client_results.itemClicked.connect(self._on_client_chosen)
        self.client_results.hide()
        layout.addWidget(self.client_results)

        self.lines_view = name(QTableWidget(0, 5), "ticketLinesView", "Ticket lines")
        self.lines_view.setHorizontalHeaderLabels(["Item", "Qty", "Discount", "Amount", ""])
        self.lines_view.verticalHeader().hide()
        self.lines_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.lines_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.lines_view.setAlternatingRowColors(True)
        self.lines_view.setWordWrap(True)
        header = self.lines_view.horizontalHeader()
        header.setSectionResizeMode(COL_ITEM, QHeaderView.ResizeMode.Stretch)
        for column in (COL_QTY, COL_DISCOUNT, COL_AMOUNT, COL_REMOVE):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.lines_view.setMinimumHeight(160)
        layout.addWidget(self.lines_view, 1)

        self.empty_hint = QLabel("Add items from the catalog, or pick an appointment under Services.")
        self.empty_hint.setObjectName("hint")
        layout.addWidget(self.empty_hint)

        bottom = QHBoxLayout()
        promo = QVBoxLayout()
        promo_row = QHBoxLayout()
        self.promo_edit = name(QLineEdit(), "promoCodeEdit", "Promo code")
        self.promo_edit.setPlaceholderText("Promo code")
        self.promo_edit.returnPressed.connect(self._on_apply_promo)
        promo_row.addWidget(self.promo_edit)
        self.apply_promo_button = name(QPushButton("Apply"), "applyPromoButton", "Apply promo code")
        self.apply_promo_button.clicked.connect(self._on_apply_promo)
        promo_row.addWidget(self.apply_promo_button)
        promo.addLayout(promo_row)
        self.promo_codes_label = name(plain_label(), "promoCodesLabel", "Promo codes on ticket")
        self.promo_codes_label.setObjectName("promoCodesLabel")
        promo.addWidget(self.promo_codes_label)
        self.ticket_error = name(plain_label(), "errorMessage", "Ticket message")
        self.ticket_error.setWordWrap(True)
        promo.addWidget(self.ticket_error)
        promo.addStretch(1)
        bottom.addLayout(promo, 1)

        self.totals = QFormLayout()
        self.totals.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.total_values: dict[str, QLabel] = {}
        for key, caption in (
            ("subtotal", "Subtotal"),
            ("prepaid", "Prepaid"),
            ("discounts", "Discounts"),
            ("promos", "Promotions"),
            ("tax", "Tax"),
            ("surcharge", "Card surcharge"),
            ("paid", "Paid"),
        ):
            value = name(QLabel(), f"{key}Value", caption)
            value.setAlignment(Qt.AlignmentFlag.AlignRight)
            self.total_values[key] = value
            self.totals.addRow(caption, value)
        due_caption = QLabel("Balance due")
        due_caption.setObjectName("balanceDueCaption")
        self.balance_due_label = name(QLabel(), "balanceDueLabel", "Balance due")
        self.balance_due_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.totals.addRow(due_caption, self.balance_due_label)
        bottom.addLayout(self.totals)
        layout.addLayout(bottom)

        self.action_bar = QHBoxLayout()  # not ``self.actions``: that would hide QWidget.actions()
        self.action_bar.addStretch(1)
        self.save_button = name(QPushButton("Save"), "saveTicketButton", "Save ticket")
        self.save_button.setToolTip("Save the ticket (Ctrl+S)")
        self.save_button.clicked.connect(self.save)
        self.action_bar.addWidget(self.save_button)
        layout.addLayout(self.action_bar)
        self._sync_send_button()
        return frame

    def _build_services(self) -> QWidget:
        frame = card()
        layout = QVBoxLayout(frame)
        layout.addWidget(section_title("Services today"))
        self.services_panel = name(QListWidget(), "servicesPanel", "Today's appointments")
        self.services_panel.setWordWrap(True)
        self.services_panel.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.services_panel.itemClicked.connect(self._on_service_clicked)
        self.services_panel.itemActivated.connect(self._on_service_clicked)
        layout.addWidget(self.services_panel, 1)
        hint = QLabel("Click an appointment to put it on the ticket.")
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        return frame

    # -- the Send Invoice button exists only while the feature is on -------------------------------
    def _sync_send_button(self) -> None:
        enabled = bool(getattr(self.ctx.settings, "online_payment_link_enabled", False))
        if enabled and self.send_button is None:
            self.send_button = name(QPushButton("$ Send Invoice"), "sendInvoiceButton", "Send invoice")
            self.send_button.clicked.connect(self.send_invoice_requested.emit)
            self.action_bar.addWidget(self.send_button)
            QWidget.setTabOrder(self.save_button, self.send_button)
        elif not enabled and self.send_button is not None:
            self.action_bar.removeWidget(self.send_button)
            self.send_button.deleteLater()
            self.send_button = None

    def _on_settings_changed(self) -> None:
        self._sync_send_button()
        self._refresh()

    # -- catalog ----------------------------------------------------------------------------------
    def _load_catalog(self) -> None:
        self._catalog = [item for item in self.ctx.backend.catalog() if item.active]
        self.catalog_browser.clear()
        for kind, caption in KIND_GROUPS:
            group = QTreeWidgetItem([caption, ""])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.catalog_browser.addTopLevelItem(group)
            for item in sorted((i for i in self._catalog if i.kind is kind), key=lambda i: i.name):
                price = (
                    "Any amount"
                    if kind is ItemKind.GIFT_CARD and item.price.is_zero()
                    else item.price.format(self.ctx.locale)
                )
                row = QTreeWidgetItem([item.name, price])
                row.setData(0, ITEM_ROLE, item.id)
                row.setToolTip(0, f"{item.name} · {price}")  # names elide in a narrow pane
                row.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                group.addChild(row)
            group.setExpanded(True)

    def _filter_catalog(self, text: str) -> None:
        needle = text.strip().casefold()
        for g in range(self.catalog_browser.topLevelItemCount()):
            group = self.catalog_browser.topLevelItem(g)
            assert group is not None  # g < topLevelItemCount()
            visible = 0
            for c in range(group.childCount()):
                child = group.child(c)
                assert child is not None  # c < childCount()
                hidden = bool(needle) and needle not in child.text(0).casefold()
                child.setHidden(hidden)
                visible += not hidden
            group.setHidden(visible == 0)

    def catalog_item(self, item_id: str) -> CatalogItem:
        for item in self._catalog:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def _on_catalog_activated(self, row: QTreeWidgetItem, _column: int = 0) -> None:
        item_id = row.data(0, ITEM_ROLE)
        if item_id:
            self.request_item(self.catalog_item(item_id))

    def _on_add_clicked(self) -> None:
        row = self.catalog_browser.currentItem()
        if row is not None:
            self._on_catalog_activated(row)

    def request_item(self, item: CatalogItem) -> None:
        """Add ``item``; a gift card first asks for its amount and recipient."""
        if item.kind is ItemKind.GIFT_CARD:
            dialog = GiftCardDialog(item, self.ctx.locale, self)
            dialog.accepted.connect(
                lambda: self.add_item(item, amount=dialog.amount, recipient=dialog.recipient)
            )
            dialog.open()
            return
        self.add_item(item)

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
        line = self._with_coverage(line)
        if self._edit(f"add {item.id}", lambda: self.ticket.add_line(line)):
            return line
        return None

    def add_line(self, line: TicketLine) -> bool:
        return self._edit(f"add {line.item_id}", lambda: self.ticket.add_line(self._with_coverage(line)))

    def set_quantity(self, line_id: str, quantity: int) -> bool:
        return self._edit("quantity", lambda: self.ticket.update_line(line_id, quantity=quantity))

    def set_discount(self, line_id: str, text: str) -> bool:
        try:
            discount = parse_discount(text, self.ticket.currency, self.ctx.locale)
        except ValueError as exc:
            self.show_error(str(exc))
            return False
        if discount == self.ticket.line(line_id).discount:
            return True
        return self._edit("discount", lambda: self.ticket.update_line(line_id, discount=discount))

    def remove_line(self, line_id: str) -> bool:
        return self._edit("remove", lambda: self.ticket.remove_line(line_id))

    def _on_apply_promo(self) -> None:
        code = self.promo_edit.text()
        if self._edit("promo", lambda: self.ticket.add_promo_code(code)):
            self.promo_edit.clear()
            rejected = self.priced.rejected_promo_codes.get(code.strip().upper())
            if rejected:
                self.ticket.remove_promo_code(code)
                self._refresh()
                self.show_error(f"{code.strip().upper()}: {rejected}")

    def show_error(self, text: str) -> None:
        self.ticket_error.setText(text)

    # -- coverage by what the client holds ---------------------------------------------------------
    def _with_coverage(self, line: TicketLine, lines: list[TicketLine] | None = None) -> TicketLine:
        """Cover a service line by the client's membership or package, when they hold one for it."""
        if not line.kind.is_service or line.prepaid is not None or self.client is None:
            return line
        found = self.holdings.coverage_for(line.item_id, self.ctx.today())
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
            covered.append(self._with_coverage(bare, covered))
        for old, new in zip(list(self.ticket.lines), covered, strict=True):
            if old != new:
                self.ticket.replace_line(new)

    # -- client ------------------------------------------------------------------------------------
    def _on_client_search(self, text: str) -> None:
        self.client_results.clear()
        if len(text.strip()) < 1:
            self.client_results.hide()
            return
        found = self.ctx.backend.search_clients(text, limit=20)
        for client in found:
            contact = " · ".join(part for part in (client.phone, client.email) if part)
            row = QListWidgetItem(f"{client.display_name}    {contact}".rstrip())
            row.setData(ITEM_ROLE, client)
            self.client_results.addItem(row)
        if not found:
            empty = QListWidgetItem("No client found: use New client… to create one")
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.client_results.addItem(empty)
        self.client_results.show()

    def _pick_first_client(self) -> None:
        first = self.client_results.item(0)
        if first is not None and first.data(ITEM_ROLE):
            self._on_client_chosen(first)

    def _on_client_chosen(self, row: QListWidgetItem) -> None:
        client = row.data(ITEM_ROLE)
        if isinstance(client, Client) and self.set_client(client):
            self.catalog_filter.setFocus()  # the search box hides; adding items comes next

    def set_client(self, client: Client | None) -> bool:
        """Put ``client`` on the ticket (None: walk-in); lines they hold coverage for become prepaid."""

        def change() -> None:
            self.ticket.set_client(client.id if client else None, client.display_name if client else "")
            self.client = client
            self.holdings = self.ctx.backend.holdings(client.id) if client else Holdings()
            self._recover_lines()

        ok = self._edit("client", change)
        self.client_search.blockSignals(True)
        self.client_search.clear()
        self.client_search.blockSignals(False)
        self.client_results.hide()
        return ok

    def set_walk_in(self) -> None:
        self.set_client(None)
        self.walk_in_button.setProperty("active", True)
        self._repolish(self.walk_in_button)

    def _on_change_client(self) -> None:
        self.client_chip.hide()
        self.change_client_button.hide()
        self.client_search.show()
        self.client_search.setFocus()

    def _on_new_client(self) -> None:
        dialog = ClientFormDialog(self.ctx, self)
        dialog.client_created.connect(self.set_client)
        prefill = self.client_search.text().strip()
        if prefill and not any(ch.isdigit() for ch in prefill) and "@" not in prefill:
            dialog.first_name.setText(prefill.split(" ")[0])
            dialog.last_name.setText(" ".join(prefill.split(" ")[1:]))
        dialog.open()

    # -- services panel ----------------------------------------------------------------------------
    def reload_services(self) -> None:
        self.services_panel.clear()
        appointments = self.ctx.backend.todays_appointments(self.ctx.today(), self.ctx.timezone)
        for appointment in appointments:
            start = appointment.start.astimezone(self.ctx.timezone).strftime("%H:%M")
            who = appointment.client.display_name if appointment.client else "Walk-in"
            text = f"{start}   {who}\n{appointment.service.name} · {appointment.staff}"
            row = QListWidgetItem(text + ("\n✓ On a ticket" if appointment.ticket_id else ""))
            row.setData(ITEM_ROLE, appointment)
            row.setToolTip(f"{appointment.service.name} with {appointment.staff} at {start}")
            if appointment.ticket_id:
                row.setForeground(Qt.GlobalColor.darkGray)
            self.services_panel.addItem(row)
        if not appointments:
            empty = QListWidgetItem("No appointments today")
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.services_panel.addItem(empty)

    def _on_service_clicked(self, row: QListWidgetItem) -> None:
        appointment = row.data(ITEM_ROLE)
        if isinstance(appointment, TodayAppointment):
            self.open_appointment(appointment)

    def open_appointment(self, appointment: TodayAppointment) -> None:
        """Put an appointment on the ticket with its client (a fresh ticket when this one is someone else's)."""
        if any(line.appointment_id == appointment.id for line in self.ticket.lines):
            self.message.emit("That appointment is already on this ticket")
            return
        other_client = appointment.client is not None and self.ticket.client_id not in (
            None,
            appointment.client.id,
        )
        if (
            self.read_only
            or other_client
            or (self.ticket.lines and self.ticket.is_walk_in and appointment.client)
        ):
            self.new_ticket()
        if appointment.client is not None and self.ticket.client_id != appointment.client.id:
            self.set_client(appointment.client)
        self.add_line(appointment.to_line())

    # -- opening, saving ---------------------------------------------------------------------------
    def _blank_ticket(self) -> Ticket:
        currency = getattr(self.ctx.settings, "currency", "USD")
        return Ticket.new(number=0, currency=currency)

    def new_ticket(self) -> None:
        self.ticket = self._blank_ticket()
        self.client = None
        self.holdings = Holdings()
        self.invoice = None
        self.saved_revision = None
        self._stored = None
        self.walk_in_button.setProperty("active", False)
        self._repolish(self.walk_in_button)
        self.show_error("")
        self._refresh()
        self.client_search.setFocus()

    def open_ticket(self, ticket_id: str) -> None:
        """Show a saved ticket (reads are small and local)."""
        ticket = self.ctx.backend.load_ticket(ticket_id)
        self.ticket = ticket
        self.client = self.ctx.backend.client(ticket.client_id) if ticket.client_id else None
        self.holdings = self.ctx.backend.holdings(ticket.client_id) if ticket.client_id else Holdings()
        self.invoice = self.ctx.backend.invoice_info(ticket.id)
        self.saved_revision = ticket.revision
        self._stored = copy.deepcopy(ticket)
        self.show_error("")
        self._refresh()

    @property
    def dirty(self) -> bool:
        return self.saved_revision != self.ticket.revision

    @property
    def sent_elsewhere(self) -> bool:
        """A copy of a ticket another terminal invoiced (see posdesk.sync.applying.materialize_ticket).

        This terminal has no link for it, so editing or sending it here would fork it (a second link for
        one ticket); the terminal that sent it is where it changes. It still closes here when paid.
        """
        return (
            self.saved_revision is not None
            and self.invoice is None
            and self.ticket.state in (TicketState.AWAITING_PAYMENT, TicketState.PARTIALLY_PAID)
        )

    @property
    def read_only(self) -> bool:
        return self.ticket.is_closed or self.sent_elsewhere

    @property
    def saving(self) -> bool:
        """True while a save of the ticket shown is on the worker and its result is not back yet."""
        return self._saving_id is not None and self._saving_id == self.ticket.id

    def when_saved(self, action: Callable[[], object]) -> None:
        """Run ``action`` now, or once the save on the worker has landed (not if it was refused).

        A write queued behind a save would start from the revision the view had before that save (or
        from no number at all, for a new ticket) and be refused as stale: it waits instead.
        """
        if self.saving:
            self._when_saved.append(action)
        else:
            action()

    def save(self) -> None:
        """Save on the worker thread; the view keeps working meanwhile."""
        if not self.ticket.lines:
            self.show_error("Add at least one item before saving")
            return
        if self.read_only:
            return
        if self.saving:  # Ctrl+S again before the first save is back: save the newer edits after it
            self._save_again = True
            return
        snapshot = copy.deepcopy(self.ticket)
        base_revision = self.saved_revision
        self._saving_id = snapshot.id
        self.save_button.setEnabled(False)
        self.ctx.worker.run(
            "save ticket",
            lambda: self.ctx.backend.save_ticket(
                snapshot, base_revision=base_revision, settings=self.ctx.settings
            ),
            on_done=self._on_saved,
            on_error=self._on_save_failed,
        )

    def _on_saved(self, result: tuple[Ticket, InvoiceInfo | None]) -> None:
        saved, invoice = result
        if saved.id == self.ticket.id:
            # Edits made while the save ran stay in memory (and keep the ticket dirty).
            self.ticket.number = saved.number
            self.saved_revision = saved.revision
            self._stored = copy.deepcopy(saved)
            self.invoice = invoice
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
        """The save's result is in: now the view knows its revision, do what waited for it."""
        same_ticket = self._saving_id == self.ticket.id
        self._saving_id = None
        save_again, self._save_again = self._save_again, False
        waiting, self._when_saved = self._when_saved, []
        changed, self._changed_while_saving = self._changed_while_saving, set()
        if changed:
            self.on_tickets_changed(changed)
        if not ok or not same_ticket:  # refused, or the cashier moved on to another ticket meanwhile
            return
        if save_again and self.dirty:
            self.save()
        for action in waiting:
            self.when_saved(action)

    def adopt_saved(self, ticket: Ticket, invoice: InvoiceInfo | None) -> None:
        """The ticket was saved (and sent) by another path: take its stored form."""
        if ticket.id != self.ticket.id:
            return
        self.ticket = ticket
        self.saved_revision = ticket.revision
        self._stored = copy.deepcopy(ticket)
        self.invoice = invoice
        self._refresh()

    # -- live updates ------------------------------------------------------------------------------
    def on_tickets_changed(self, ids: set[str]) -> None:
        """Tickets changed in the database (payment from the companion, another terminal...)."""
        if self.ticket.id in ids and self.saving:
            # The store may already hold this view's own save, whose revision the view does not know
            # yet: reading it now would take our save for someone else's. Look once the save is back.
            self._changed_while_saving.add(self.ticket.id)
        elif self.ticket.id in ids and self.saved_revision is not None:
            stored = self.ctx.backend.load_ticket(self.ticket.id)
            if stored.revision == self.saved_revision:
                pass  # the invoice record changed (link status), not the ticket
            elif stored.is_closed or not self.dirty:
                self.ticket = stored
                self.saved_revision = stored.revision
                self._stored = copy.deepcopy(stored)
            else:
                self._merge_payments(stored)
            self.invoice = self.ctx.backend.invoice_info(self.ticket.id)
            self._refresh()
        self.reload_services()

    def _merge_payments(self, stored: Ticket) -> None:
        """Keep the cashier's edits; take the payments and state the companion reported.

        When that is all that changed in the store, the edits now build on the stored revision, so
        saving them is not refused. Any other change there (its lines, client, promo codes) is a
        conflicting edit: the save stays refused, never merged silently.
        """
        self.ticket.payments = stored.payments
        self.ticket.state = stored.state
        base = self._stored
        if base is None or _content(base) != _content(stored):
            return
        assert self.saved_revision is not None  # set with _stored, checked above
        edits = self.ticket.revision - self.saved_revision
        self.saved_revision = stored.revision
        self._stored = copy.deepcopy(stored)
        self.ticket.revision = stored.revision + max(edits, 1)

    # -- showing -----------------------------------------------------------------------------------
    def _refresh(self) -> None:
        settings = self.ctx.settings
        surcharge = Decimal(str(getattr(settings, "surcharge_rate", 0) or 0))
        try:
            self.priced = price_ticket(
                self.ticket, promotions=self.ctx.backend.promotions(), surcharge_rate=surcharge
            )
        except ValueError as exc:
            self.show_error(str(exc))
            self.priced = price_ticket(self.ticket)
        number = f"Ticket #{self.ticket.number}" if self.ticket.number else "New ticket"
        self.title_label.setText(number + ("  •" if self.dirty and self.ticket.lines else ""))
        self.origin_label.setText(self.ticket.note)
        self.origin_label.setVisible(bool(self.ticket.note))
        self._refresh_client()
        self._refresh_lines()
        self._refresh_totals()
        self._refresh_status()
        self._refresh_actions()

    def _refresh_client(self) -> None:
        if self.client is not None:
            self.client_chip.setText(self.client.display_name)
            self.client_chip.setToolTip(" · ".join(p for p in (self.client.phone, self.client.email) if p))
            self.client_chip.show()
            self.change_client_button.setVisible(not self.read_only)
            self.client_search.hide()
            self.walk_in_button.setProperty("active", False)
        else:
            self.client_chip.hide()
            self.change_client_button.hide()
            self.client_search.show()
        self._repolish(self.walk_in_button)

    def _line_caption(self, line: TicketLine) -> str:
        details = [line.prepaid.label] if line.prepaid else []
        details.append(line.kind.label)
        if line.staff:
            details.append(line.staff)
        if line.start:
            details.append(line.start.astimezone(self.ctx.timezone).strftime("%H:%M"))
        if line.note:
            details.append(line.note)
        return f"{line.name}\n{' · '.join(details)}"

    def _refresh_lines(self) -> None:
        ids = [line.id for line in self.ticket.lines]
        read_only = self.read_only
        if ids != self._line_ids:
            self._line_ids = ids
            self.lines_view.setRowCount(0)
            self.lines_view.setRowCount(len(ids))
            for row, line in enumerate(self.ticket.lines):
                self._make_row(row, line)
            self._order_line_tabs()
        for row, line in enumerate(self.ticket.lines):
            priced = self.priced.line(line.id)
            caption = self.lines_view.item(row, COL_ITEM)
            assert caption is not None  # every row has its cells from _make_row
            caption.setText(self._line_caption(line))
            # The stubs type cellWidget() as any QWidget; _make_row put these exact widgets in these columns.
            quantity = cast(QSpinBox, self.lines_view.cellWidget(row, COL_QTY))
            quantity.blockSignals(True)
            quantity.setValue(line.quantity)
            quantity.blockSignals(False)
            discount = cast(QLineEdit, self.lines_view.cellWidget(row, COL_DISCOUNT))
            if not discount.hasFocus():
                discount.setText(discount_text(line.discount, self.ctx.locale))
            discount.setEnabled(not read_only and line.prepaid is None)
            discount.setPlaceholderText("10% or 5.00" if discount.isEnabled() else "—")
            quantity.setEnabled(not read_only)
            amount = self.lines_view.item(row, COL_AMOUNT)
            assert amount is not None  # every row has its cells from _make_row
            if line.prepaid:
                amount.setText(f"{priced.total.format(self.ctx.locale)}\n{priced.prepaid_label}")
                amount.setToolTip(f"{priced.gross.format(self.ctx.locale)} covered: {priced.prepaid_label}")
            else:
                amount.setText(priced.total.format(self.ctx.locale))
                amount.setToolTip(
                    f"Before tax {priced.net.format(self.ctx.locale)}, tax {priced.tax.format(self.ctx.locale)}"
                )
            self.lines_view.cellWidget(row, COL_REMOVE).setEnabled(not read_only)
        self.lines_view.setColumnHidden(COL_REMOVE, read_only)
        self.lines_view.resizeRowsToContents()
        self.empty_hint.setVisible(not ids)

    def _order_line_tabs(self) -> None:
        """Tab goes through each line's quantity, discount and remove before the promo code, as on screen
        (cell widgets made later would otherwise come last, after the Services panel)."""
        chain: list[QWidget] = [self.lines_view]
        for row in range(self.lines_view.rowCount()):
            chain += [
                self.lines_view.cellWidget(row, column) for column in (COL_QTY, COL_DISCOUNT, COL_REMOVE)
            ]
        chain.append(self.promo_edit)
        for before, after in itertools.pairwise(chain):
            QWidget.setTabOrder(before, after)

    def _make_row(self, row: int, line: TicketLine) -> None:
        item = QTableWidgetItem()
        self.lines_view.setItem(row, COL_ITEM, item)
        quantity = name(QSpinBox(), "lineQuantitySpin", f"Quantity of {line.name}")
        quantity.setRange(1, 999)
        quantity.valueChanged.connect(lambda value, line_id=line.id: self.set_quantity(line_id, value))
        self.lines_view.setCellWidget(row, COL_QTY, quantity)
        discount = name(QLineEdit(), "lineDiscountEdit", f"Discount on {line.name}")
        discount.setPlaceholderText("10% or 5.00")
        discount.setMaximumWidth(110)
        discount.editingFinished.connect(
            lambda edit=discount, line_id=line.id: self._on_discount_edited(edit, line_id)
        )
        self.lines_view.setCellWidget(row, COL_DISCOUNT, discount)
        amount = QTableWidgetItem()
        amount.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.lines_view.setItem(row, COL_AMOUNT, amount)
        remove = name(QToolButton(), "removeLineButton", f"Remove {line.name}")
        remove.setText("✕")
        remove.setToolTip("Remove this line")
        remove.clicked.connect(lambda _checked=False, line_id=line.id: self.remove_line(line_id))
        self.lines_view.setCellWidget(row, COL_REMOVE, remove)

    def _on_discount_edited(self, edit: QLineEdit, line_id: str) -> None:
        if line_id not in self._line_ids:
            return
        ok = self.set_discount(line_id, edit.text())
        edit.setProperty("invalid", not ok)
        self._repolish(edit)

    def _refresh_totals(self) -> None:
        priced, locale = self.priced, self.ctx.locale
        shown = {
            "subtotal": True,
            "prepaid": priced.prepaid.is_positive(),
            "discounts": priced.discounts.is_positive(),
            "promos": priced.promos.is_positive(),
            "tax": True,
            "surcharge": priced.surcharge.is_positive(),
            "paid": priced.paid.is_positive(),
        }
        for key, label in self.total_values.items():
            amount: Money = getattr(priced, key)
            if key == "subtotal":
                # Pricing's subtotal leaves prepaid lines out; shown above a "Prepaid −x" row it must
                # include them, or the column would not add up to the balance due.
                amount = priced.subtotal + priced.prepaid
            negative = key in ("prepaid", "discounts", "promos", "paid")
            label.setText(("−" if negative else "") + amount.format(locale))
            self.totals.setRowVisible(label, shown[key])
        self.balance_due_label.setText(priced.balance_due.format(locale))
        self.promo_codes_label.setText(
            "Promo: " + ", ".join(priced.applied_promo_codes) if priced.applied_promo_codes else ""
        )

    def _refresh_status(self) -> None:
        text, tone = ticket_status(self.ticket, self.invoice, saved=self.saved_revision is not None)
        if (
            self.invoice is not None
            and not self.ticket.is_closed
            and self.dirty
            and not self.invoice.out_of_date
        ):
            text, tone = "Unsaved changes: the invoice will be out of date", "warning"
        self.status_label.setText(text)
        self.status_label.setProperty("tone", tone)
        self._repolish(self.status_label)
        last = None
        if self.saved_revision is not None:  # the Communicator's last message about this ticket
            from posdesk.gui.communicator_dialog import delivery_words  # SQLAlchemy: not needed to start
            from posdesk.store.messages import MessageRepository

            with self.ctx.backend.db.reading() as session:
                last = MessageRepository(session).last_for_ticket(self.ticket.id)
        self.message_status_label.setText(f"Last message: {delivery_words(last)}" if last else "")
        self.message_status_label.setVisible(last is not None)

    def _refresh_actions(self) -> None:
        closed = self.read_only
        for widget in (
            self.client_search,
            self.new_client_button,
            self.walk_in_button,
            self.catalog_browser,
            self.add_item_button,
            self.promo_edit,
            self.apply_promo_button,
        ):
            widget.setEnabled(not closed)
        self.save_button.setEnabled(not closed and bool(self.ticket.lines))
        if self.send_button is not None:
            if self.sent_elsewhere:
                self.send_button.setEnabled(False)
                self.send_button.setToolTip("Sent from another terminal: change or send it again there")
            elif closed:
                self.send_button.setEnabled(False)
                self.send_button.setToolTip("This ticket is closed")
            elif self.ticket.is_walk_in:
                self.send_button.setEnabled(False)
                self.send_button.setToolTip("Add a client to send an invoice")
            elif not self.ticket.lines:
                self.send_button.setEnabled(False)
                self.send_button.setToolTip("Add an item to send an invoice")
            else:
                self.send_button.setEnabled(True)
                self.send_button.setToolTip("Send a pay-by-link invoice (Ctrl+I)")

    @staticmethod
    def _repolish(widget: QWidget) -> None:
        widget.style().unpolish(widget)
        widget.style().polish(widget)
