"""Totals and payments: promo code, the figures down to the balance due, tips, and every payment."""

from __future__ import annotations

import logging
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from posdesk.core.money import Money
from posdesk.core.pricing import PricedTicket
from posdesk.core.ticket import Payment, Ticket
from posdesk.gui.operations import QueryOp
from posdesk.gui.qt import (
    QAbstractItemView,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
    Signal,
)
from posdesk.gui.tables import cell, figures_table
from posdesk.gui.ticket import ITEM_ROLE
from posdesk.gui.widgets import button_row, message_label, name, plain_label, set_keys, wrapped_label
from posdesk.pos.payments import method_label, payment_status, tips_of
from posdesk.pos.refunds import refundable

if TYPE_CHECKING:  # payments kept for review come from the companion once the window is up (show_kept)
    from posdesk.pos.payment_reviews import KeptPayment

log = logging.getLogger(__name__)
NEEDS_REVIEW = "Needs review"  # a kept payment's status in the payments table

TOTAL_ROWS = (
    ("subtotal", "Subtotal"),
    ("prepaid", "Prepaid"),
    ("discounts", "Discounts"),
    ("promos", "Promotions"),
    ("tax", "Tax"),
    ("surcharge", "Card surcharge"),
    ("paid", "Paid"),
)
NEGATIVE = ("prepaid", "discounts", "promos", "paid")


class TotalsPanel(QWidget):
    """The promo code box, the ticket's message line, the totals, and the payments received.

    Signals:
        promo_entered(str): Apply (or Enter) with this code.
        payment_selected(str): the payment with this id was selected in the list ("" when none).
        refund_requested(str): Refund… on the selected payment (its id).
        tip_split_requested(str): Split tip… on the selected payment (its id).
        review_requested(str): Review… on the selected payment kept for review (its id).
    """

    promo_entered = Signal(str)
    payment_selected = Signal(str)
    refund_requested = Signal(str)
    tip_split_requested = Signal(str)
    review_requested = Signal(str)

    def __init__(self, locale: str, timezone: tzinfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.money_locale = locale
        self.timezone = timezone
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        bottom = QHBoxLayout()
        promo = QVBoxLayout()
        promo_row = QHBoxLayout()
        self.promo_edit = name(QLineEdit(), "promoCodeEdit", "Promo code")
        self.promo_edit.setPlaceholderText("Promo code")
        self.promo_edit.returnPressed.connect(lambda: self.promo_entered.emit(self.promo_edit.text()))
        promo_row.addWidget(self.promo_edit)
        self.apply_promo_button = name(QPushButton("Apply"), "applyPromoButton", "Apply promo code")
        self.apply_promo_button.clicked.connect(lambda: self.promo_entered.emit(self.promo_edit.text()))
        promo_row.addWidget(self.apply_promo_button)
        promo.addLayout(promo_row)
        self.promo_codes_label = name(plain_label(), "promoCodesLabel", "Promo codes on ticket")
        promo.addWidget(self.promo_codes_label)
        self.error = message_label("Ticket message")
        promo.addWidget(self.error)
        promo.addStretch(1)
        bottom.addLayout(promo, 1)

        self.totals = QFormLayout()
        set_keys(self.totals, "labelAlignment", "AlignRight")
        self.values: dict[str, QLabel] = {}
        for key, caption in TOTAL_ROWS:
            self.values[key] = self._add_row(key, caption)
        due_caption = QLabel("Balance due")
        due_caption.setObjectName("balanceDueCaption")
        self.balance_due_label = name(QLabel(), "balanceDueLabel", "Balance due")
        set_keys(self.balance_due_label, "alignment", "AlignRight|AlignVCenter")
        self.totals.addRow(due_caption, self.balance_due_label)
        # Tips are the provider's, not the ticket's: shown apart, below the balance they do not change.
        self.tips_label = self._add_row("tips", "Tips")
        bottom.addLayout(self.totals)
        outer.addLayout(bottom)

        self._outer = outer
        self.payments: QTableWidget | None = None  # made for the first payment (see _payments_table)
        self.review_notice = wrapped_label("reviewNotice", "Payments waiting for a manager's review")
        self.review_notice.setStyleSheet("color: #8a4b00; font-weight: 600;")
        self.review_notice.hide()
        outer.addWidget(self.review_notice)
        self.tip_split_button = name(QPushButton("Split tip…"), "splitTipButton", "Split the tip among providers")
        self.tip_split_button.setToolTip("Share the selected payment's tip among the providers (manager PIN)")
        self.tip_split_button.clicked.connect(lambda: self.tip_split_requested.emit(self.selected_payment_id()))
        self.review_button = name(QPushButton("Review…"), "reviewPaymentButton", "Review the selected payment")
        self.review_button.setToolTip("Count, refund or dismiss a payment kept for review (manager PIN)")
        self.review_button.clicked.connect(lambda: self.review_requested.emit(self.selected_payment_id()))
        self.review_button.hide()
        self.refund_button = name(QPushButton("Refund…"), "refundButton", "Refund the selected payment")
        self.refund_button.setToolTip("Refund the selected payment (manager PIN)")
        self.refund_button.clicked.connect(lambda: self.refund_requested.emit(self.selected_payment_id()))
        outer.addLayout(button_row(self.tip_split_button, self.review_button, self.refund_button))
        self._refundable: set[str] = set()
        self._tipped: set[str] = set()
        self.kept: list[KeptPayment] = []  # online payments kept for review (from the companion)
        self.kept_for = ""  # the ticket they are of
        self._payments: list[Payment] = []

    def _add_row(self, key: str, caption: str) -> QLabel:
        value = name(QLabel(), f"{key}Value", caption)
        set_keys(value, "alignment", "AlignRight")
        self.totals.addRow(caption, value)
        return value

    def show_totals(self, ticket: Ticket, priced: PricedTicket) -> None:
        locale = self.money_locale
        shown = {
            "subtotal": True,
            "prepaid": priced.prepaid.is_positive(),
            "discounts": priced.discounts.is_positive(),
            "promos": priced.promos.is_positive(),
            "tax": True,
            "surcharge": priced.surcharge.is_positive(),
            "paid": priced.paid.is_positive(),
        }
        for key, label in self.values.items():
            amount: Money = getattr(priced, key)
            if key == "subtotal":
                # Pricing's subtotal leaves prepaid lines out; shown above a "Prepaid −x" row it must
                # include them, or the column would not add up to the balance due.
                amount = priced.subtotal + priced.prepaid
            label.setText(("−" if key in NEGATIVE else "") + amount.format(locale))
            self.totals.setRowVisible(label, shown[key])
        self.balance_due_label.setText(priced.balance_due.format(locale))
        tips = tips_of(ticket)
        self.tips_label.setText(tips.format(locale))
        self.totals.setRowVisible(self.tips_label, tips.is_positive())
        self.promo_codes_label.setText(
            "Promo: " + ", ".join(priced.applied_promo_codes) if priced.applied_promo_codes else ""
        )
        self._show_payments(ticket.payments)

    def _on_selection(self) -> None:
        chosen = self.selected_payment_id()
        self.refund_button.setEnabled(chosen in self._refundable)
        self.tip_split_button.setEnabled(chosen in self._tipped)
        self.review_button.setEnabled(any(k.on_ticket_as == chosen for k in self.kept))
        self.payment_selected.emit(chosen)

    def show_kept(self, kept: list[KeptPayment], ticket_id: str = "") -> None:
        """The ticket's online payments kept for a manager's review: rows "Needs review" and a notice."""
        from posdesk.pos.payment_reviews import notice

        self.kept, self.kept_for = list(kept), ticket_id
        self.review_notice.setText(notice(self.kept, self.money_locale))
        self.review_notice.setVisible(bool(self.kept))
        self._show_payments(self._payments)

    def _show_payments(self, payments: list[Payment]) -> None:
        self._payments = list(payments)
        self._refundable = {p.id for p in payments if refundable(p).is_positive()}
        self._tipped = {p.id for p in payments if p.tip.is_positive()}
        # A kept payment the ticket already lists (a counter tender) is marked there; others get a row.
        marked = {k.on_ticket_as for k in self.kept}
        kept = [k for k in self.kept if all(p.id != k.on_ticket_as for p in payments)]
        rows: list[tuple[str, tuple[str, ...]]] = [
            (p.id, (*self._cells(p)[:4], NEEDS_REVIEW) if p.id in marked else self._cells(p)) for p in payments
        ]
        rows += [(k.on_ticket_as, self._kept_cells(k)) for k in kept]
        if rows or self.payments is not None:
            self._fill_payments(rows)
        self.refund_button.setVisible(bool(self._refundable))
        self.refund_button.setEnabled(self.selected_payment_id() in self._refundable)
        self.tip_split_button.setVisible(bool(self._tipped))
        self.tip_split_button.setEnabled(self.selected_payment_id() in self._tipped)
        self.review_button.setVisible(bool(self.kept))
        self.review_button.setEnabled(self.selected_payment_id() in marked)

    def _payments_table(self) -> QTableWidget:
        """The payments received, below the totals: made for the first ticket shown with a payment (the
        first frame shows a new ticket, and a table's ~20 widgets cost it a tenth of its making)."""
        if self.payments is None:
            headers = ["Payment", "Amount", "Tip", "When", "Status"]
            table = self.payments = figures_table("paymentsList", "Payments", headers, stretch=0, fit=range(1, 5))
            table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
            table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
            table.itemSelectionChanged.connect(self._on_selection)
            self._outer.insertWidget(1, table)  # under the totals, above the review notice
        return self.payments

    def _fill_payments(self, rows: list[tuple[str, tuple[str, ...]]]) -> None:
        selected = self.selected_payment_id()
        table = self._payments_table()
        table.blockSignals(True)
        table.setRowCount(len(rows))
        for row, (payment_id, cells) in enumerate(rows):
            for column, text in enumerate(cells):
                item = cell(text, figure=column in (1, 2))
                item.setData(ITEM_ROLE, payment_id)
                table.setItem(row, column, item)
            if payment_id == selected:
                table.selectRow(row)
        table.blockSignals(False)
        table.setVisible(bool(rows))
        # As tall as its rows (at most about three): on a short screen every pixel goes to the totals.
        height = sum(table.rowHeight(row) for row in range(len(rows)))
        header = table.horizontalHeader().sizeHint().height()
        table.setMaximumHeight(min(110, header + height + 2 * table.frameWidth() + 2))

    def _cells(self, payment: Payment) -> tuple[str, ...]:
        return (
            method_label(payment),
            payment.amount.format(self.money_locale),
            payment.tip.format(self.money_locale) if payment.tip.is_positive() else "",
            payment.received_at.astimezone(self.timezone).strftime("%b %d %H:%M"),
            payment_status(payment),
        )

    def _kept_cells(self, kept: KeptPayment) -> tuple[str, ...]:
        return (
            kept.method_words,
            kept.amount.format(self.money_locale),
            kept.tip.format(self.money_locale) if kept.tip.is_positive() else "",
            "",
            NEEDS_REVIEW,
        )

    def selected_payment_id(self) -> str:
        table = self.payments
        item = table.item(table.currentRow(), 0) if table is not None and table.selectedItems() else None
        return str(item.data(ITEM_ROLE)) if item is not None else ""

    def set_editable(self, editable: bool) -> None:
        self.promo_edit.setEnabled(editable)
        self.apply_promo_button.setEnabled(editable)


def load_kept_payments(view: Any) -> None:
    """Ask the companion (off the UI thread) for the shown ticket's online payments kept for a manager's
    review (``view``: the ticket view); its totals panel lists them. None for an unsaved ticket or offline."""
    panel, ctx, ticket_id = view.totals_panel, view.ctx, view.ticket.id
    if panel.kept_for != ticket_id:
        panel.show_kept([], ticket_id)
    connection = ctx.connection
    if view.saved_revision is None or not (connection.configured and connection.online):
        return
    from posdesk.pos.payment_reviews import kept_for_ticket

    url, vault = connection.url, ctx.vault
    QueryOp("payments kept for review", lambda: kept_for_ticket(url, vault.load(url) or "", ticket_id)).success(
        lambda kept: panel.show_kept(kept, ticket_id) if view.ticket.id == ticket_id else None
    ).failure(lambda error: log.info("payments kept for review not read: %s", error)).run_in_background(ctx)
