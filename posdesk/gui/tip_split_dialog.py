"""The manager's tip split (behind the manager PIN): a payment's tip shared among the providers of the
ticket's services. It starts from the saved split or the default one (in proportion to each provider's
service amount); a split that does not add up to the tip is refused, saying by how much, next to the
shares the manager is editing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from posdesk.core.money import Money, MoneyFormatError
from posdesk.core.ticket import Payment, Ticket
from posdesk.gui.context import PosContext
from posdesk.gui.dialog import TicketDialog
from posdesk.gui.operations import CollectionOp, OpChanges
from posdesk.gui.qt import (
    QAbstractItemView,
    QDialogButtonBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from posdesk.gui.tables import cell, figures_table
from posdesk.gui.widgets import name, plain_label, wrapped_label
from posdesk.pos.payments import method_label
from posdesk.pos.tip_splits import TipSplitRow, split_difference, tip_split_rows

if TYPE_CHECKING:
    from posdesk.gui.main_window import MainWindow

SHARE = 2  # the editable column


class TipSplitDialog(TicketDialog):
    """Edit one payment's tip split.

    Signals:
        saved(object): the ticket as stored with the split.
    """

    saved = Signal(object)

    def __init__(self, ctx: PosContext, ticket: Ticket, payment: Payment, parent: QWidget | None = None) -> None:
        super().__init__(ctx, ticket, "tipSplitDialog", "Tip split", parent)
        self.payment = payment
        self.rows: list[TipSplitRow] = tip_split_rows(ticket, payment, ctx.settings)
        layout = QVBoxLayout(self)
        layout.addWidget(
            plain_label(
                f"Tip of {payment.tip.format(ctx.locale)} ({method_label(payment)}). By default it is shared "
                "in proportion to each provider's services."
            )
        )
        headers = ["Provider", "Default", f"Share ({payment.tip.currency})"]
        self.table = figures_table("tipSplitTable", "Tip shares by provider", headers, stretch=0)
        self.table.setEditTriggers(  # the manager types the shares (the only editable cells)
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        for split in self.rows:
            self._show_row(split)
        self.table.itemChanged.connect(self._on_edited)
        layout.addWidget(self.table)
        # Someone who did no service on the ticket (an assistant, a shampoo) may share the tip too.
        adding = QHBoxLayout()
        self.provider_edit = name(QLineEdit(), "tipSplitProviderEdit", "Another provider's name")
        self.provider_edit.setPlaceholderText("Another provider (an assistant…)")
        self.provider_edit.setMaxLength(100)
        adding.addWidget(self.provider_edit, 1)
        self.add_button = name(QPushButton("Add provider"), "addTipSplitProviderButton", "Add a provider")
        self.add_button.clicked.connect(self.add_provider)
        self.provider_edit.returnPressed.connect(self.add_provider)
        adding.addWidget(self.add_button)
        layout.addLayout(adding)
        # Right under the shares: where the manager is looking when the split does not add up.
        self.difference = wrapped_label("tipSplitDifferenceLabel", "Tip split check")
        layout.addWidget(self.difference)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.reset_button = name(QPushButton("Default split"), "resetTipSplitButton", "Back to the default split")
        buttons.addButton(self.reset_button, QDialogButtonBox.ButtonRole.ResetRole)
        self.reset_button.clicked.connect(self.reset)
        self.save_button = name(QPushButton("Save split"), "saveTipSplitButton", "Save the tip split")
        buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.save_button.clicked.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._on_edited()

    def _show_row(self, split: TipSplitRow) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        for column, text in enumerate((split.provider, split.default.format(self.ctx.locale), split.share.plain())):
            item = cell(text, figure=column > 0)
            if column != SHARE:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(row, column, item)

    def add_provider(self) -> None:
        """A row for someone not on the ticket, with no share yet (the manager types it)."""
        who = " ".join(self.provider_edit.text().split())
        if not who:
            self.difference.setText("Type the provider's name first")
            return
        if any(r.provider.casefold() == who.casefold() for r in self.rows):
            self.difference.setText(f"{who} is already in the split")
            return
        zero = Money.zero(self.payment.tip.currency)
        split = TipSplitRow(who, zero, zero)
        self.rows.append(split)
        self.table.blockSignals(True)
        self._show_row(split)
        self.table.blockSignals(False)
        self.provider_edit.clear()
        self._on_edited()

    def shares(self) -> dict[str, Money]:
        """The shares as typed (an empty cell is zero). Raises MoneyFormatError for one that is not money."""
        currency = self.payment.tip.currency
        shares: dict[str, Money] = {}
        for row, split in enumerate(self.rows):
            item = self.table.item(row, SHARE)
            text = item.text().strip() if item is not None else ""
            try:
                shares[split.provider] = Money.parse(text, currency, self.ctx.locale) if text else Money.zero(currency)
            except MoneyFormatError as exc:
                raise MoneyFormatError(f"{split.provider}: {exc}") from None
        return shares

    def problem(self) -> str:
        try:
            return split_difference(self.payment.tip, self.shares(), self.ctx.locale)
        except MoneyFormatError as exc:
            return str(exc)

    def _on_edited(self, *_args: object) -> None:
        problem = self.problem()
        self.difference.setText(problem or f"The shares add up to the {self.payment.tip.format(self.ctx.locale)} tip.")
        self.difference.setProperty("error", bool(problem))

    def reset(self) -> None:
        self.table.blockSignals(True)
        for row, split in enumerate(self.rows):
            self.table.setItem(row, SHARE, cell(split.default.plain(), figure=True))
        self.table.blockSignals(False)
        self._on_edited()

    def save(self) -> None:
        problem = self.problem()
        if problem:
            self.difference.setText(f"Not saved: {problem}.")
            self.table.setFocus()
            return
        shares = self.shares()
        is_default = all(shares[r.provider] == r.default for r in self.rows)
        backend, ticket_id, payment_id, locale = self.ctx.backend, self.ticket.id, self.payment.id, self.ctx.locale
        self.save_button.setEnabled(False)
        CollectionOp(
            "save tip split",
            lambda: backend.save_tip_split(ticket_id, payment_id, None if is_default else shares, locale),
            changes=OpChanges(tickets=frozenset({ticket_id}), payments=True),
            initiator=self,
        ).success(self._on_saved).failure(self._on_failed).run_in_background(self.ctx)

    def _on_saved(self, ticket: Ticket) -> None:
        self.ctx.wake_sync()
        self.saved.emit(ticket)
        self.accept()

    def _on_failed(self, error: Exception) -> None:
        self.save_button.setEnabled(True)
        self.difference.setText(f"Not saved: {error}")


def open_tip_split(window: MainWindow, payment_id: str) -> None:
    """Split tip… on a payment of the ticket on screen: behind the manager PIN."""
    from posdesk.gui.manager_pin import with_manager_pin

    view = window.ticket_view
    ticket = view.ticket
    payment = next((p for p in ticket.payments if p.id == payment_id), None)
    if payment is None or not payment.tip.is_positive():
        return

    def on_saved(stored: Ticket) -> None:
        view.adopt_saved(stored, window.ctx.backend.invoice_info(stored.id))
        window.statusBar().showMessage("Tip split saved", 8000)

    def tip_split_dialog() -> TipSplitDialog:
        dialog = TipSplitDialog(window.ctx, ticket, payment, window)
        dialog.saved.connect(on_saved)
        return dialog

    with_manager_pin(window.ctx, window, tip_split_dialog, purpose="tip splits")
