"""The ticket's lines: item (with what covers it, staff, time), quantity, discount, amount, remove."""

from __future__ import annotations

import itertools
from datetime import tzinfo
from typing import cast

from posdesk.core.gift_cards import codes_of
from posdesk.core.pricing import PricedTicket
from posdesk.core.ticket import Ticket, TicketLine
from posdesk.gui.qt import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
    Signal,
)
from posdesk.gui.tables import cell
from posdesk.gui.ticket import repolish
from posdesk.gui.widgets import name
from posdesk.pos.editor import discount_text

COL_ITEM, COL_QTY, COL_DISCOUNT, COL_AMOUNT, COL_REMOVE = range(5)


class LinesPanel(QWidget):
    """The lines table and the hint shown while it is empty.

    Signals:
        quantity_changed(str, int): a line's quantity spin box changed (line id, quantity).
        discount_edited(str, str): a line's discount was typed (line id, text); answer with
            :meth:`mark_discount`.
        remove_requested(str): a line's ✕ was clicked.
    """

    quantity_changed = Signal(str, int)
    discount_edited = Signal(str, str)
    remove_requested = Signal(str)

    def __init__(self, locale: str, timezone: tzinfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.money_locale = locale
        self.timezone = timezone
        self._line_ids: list[str] = []
        self.last_in_chain: QWidget | None = None  # what Tab reaches after the last line (the promo code)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.table = name(QTableWidget(0, 5), "ticketLinesView", "Ticket lines")
        self.table.setHorizontalHeaderLabels(["Item", "Qty", "Discount", "Amount", ""])
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_ITEM, QHeaderView.ResizeMode.Stretch)
        for column in (COL_QTY, COL_DISCOUNT, COL_AMOUNT, COL_REMOVE):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMinimumHeight(
            84
        )  # the header and a line: on a small screen the totals below come first
        layout.addWidget(self.table, 1)
        self.empty_hint = QLabel("Add items from the catalog, or pick an appointment under Services.")
        self.empty_hint.setObjectName("hint")
        layout.addWidget(self.empty_hint)

    def caption(self, line: TicketLine) -> str:
        details = [line.prepaid.label] if line.prepaid else []
        details.append(line.kind.label)
        if line.staff:
            details.append(line.staff)
        if line.start:
            details.append(line.start.astimezone(self.timezone).strftime("%H:%M"))
        if line.note:
            details.append(line.note)
        details += codes_of(line)  # a gift card's code(s), written on the card for the client
        return f"{line.name}\n{' · '.join(details)}"

    def show_lines(self, ticket: Ticket, priced: PricedTicket, *, read_only: bool) -> None:
        ids = [line.id for line in ticket.lines]
        if ids != self._line_ids:
            self._line_ids = ids
            self.table.setRowCount(0)
            self.table.setRowCount(len(ids))
            for row, line in enumerate(ticket.lines):
                self._make_row(row, line)
            self._order_tabs()
        for row, line in enumerate(ticket.lines):
            self._show_row(row, line, priced, read_only)
        self.table.setColumnHidden(COL_REMOVE, read_only)
        self.table.resizeRowsToContents()
        self.empty_hint.setVisible(not ids)

    def _show_row(self, row: int, line: TicketLine, priced_ticket: PricedTicket, read_only: bool) -> None:
        priced, locale = priced_ticket.line(line.id), self.money_locale
        caption = self.table.item(row, COL_ITEM)
        assert caption is not None  # every row has its cells from _make_row
        caption.setText(self.caption(line))
        # The stubs type cellWidget() as any QWidget; _make_row put these exact widgets in these columns.
        quantity = cast(QSpinBox, self.table.cellWidget(row, COL_QTY))
        quantity.blockSignals(True)
        quantity.setValue(line.quantity)
        quantity.blockSignals(False)
        discount = cast(QLineEdit, self.table.cellWidget(row, COL_DISCOUNT))
        if not discount.hasFocus():
            discount.setText(discount_text(line.discount, locale))
        discount.setEnabled(not read_only and line.prepaid is None)
        discount.setPlaceholderText("10% or 5.00" if discount.isEnabled() else "—")
        quantity.setEnabled(not read_only)
        amount = self.table.item(row, COL_AMOUNT)
        assert amount is not None  # every row has its cells from _make_row
        if line.prepaid:
            amount.setText(f"{priced.total.format(locale)}\n{priced.prepaid_label}")
            amount.setToolTip(f"{priced.gross.format(locale)} covered: {priced.prepaid_label}")
        else:
            amount.setText(priced.total.format(locale))
            amount.setToolTip(f"Before tax {priced.net.format(locale)}, tax {priced.tax.format(locale)}")
        self.table.cellWidget(row, COL_REMOVE).setEnabled(not read_only)

    def _order_tabs(self) -> None:
        """Tab goes through each line's quantity, discount and remove before the promo code, as on screen
        (cell widgets made later would otherwise come last, after the Services panel)."""
        chain: list[QWidget] = [self.table]
        for row in range(self.table.rowCount()):
            chain += [self.table.cellWidget(row, column) for column in (COL_QTY, COL_DISCOUNT, COL_REMOVE)]
        if self.last_in_chain is not None:
            chain.append(self.last_in_chain)
        for before, after in itertools.pairwise(chain):
            QWidget.setTabOrder(before, after)

    def _make_row(self, row: int, line: TicketLine) -> None:
        self.table.setItem(row, COL_ITEM, QTableWidgetItem())
        quantity = name(QSpinBox(), "lineQuantitySpin", f"Quantity of {line.name}")
        quantity.setRange(1, 999)
        quantity.valueChanged.connect(
            lambda value, line_id=line.id: self.quantity_changed.emit(line_id, value)
        )
        self.table.setCellWidget(row, COL_QTY, quantity)
        discount = name(QLineEdit(), "lineDiscountEdit", f"Discount on {line.name}")
        discount.setPlaceholderText("10% or 5.00")
        discount.setMaximumWidth(110)
        discount.editingFinished.connect(
            lambda edit=discount, line_id=line.id: self._on_discount_edited(edit, line_id)
        )
        self.table.setCellWidget(row, COL_DISCOUNT, discount)
        amount = cell("", figure=True)
        self.table.setItem(row, COL_AMOUNT, amount)
        remove = name(QToolButton(), "removeLineButton", f"Remove {line.name}")
        remove.setText("✕")
        remove.setToolTip("Remove this line")
        remove.clicked.connect(lambda _checked=False, line_id=line.id: self.remove_requested.emit(line_id))
        self.table.setCellWidget(row, COL_REMOVE, remove)

    def _on_discount_edited(self, edit: QLineEdit, line_id: str) -> None:
        if line_id in self._line_ids:
            self.discount_edited.emit(line_id, edit.text())

    def mark_discount(self, line_id: str, ok: bool) -> None:
        """Show the discount just typed for ``line_id`` as accepted or refused."""
        if line_id not in self._line_ids:
            return
        edit = cast(QLineEdit, self.table.cellWidget(self._line_ids.index(line_id), COL_DISCOUNT))
        edit.setProperty("invalid", not ok)
        repolish(edit)
