"""Selling a gift card asks for its amount and who it is for."""

from __future__ import annotations

from posdesk.core.catalog import CatalogItem
from posdesk.core.money import Money, MoneyFormatError
from posdesk.gui.qt import QDialog, QFormLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget
from posdesk.gui.widgets import cancel_or, name, plain_label

MAX_RECIPIENT = 200


class GiftCardDialog(QDialog):
    """Amount (in the store's currency, > 0) and recipient of a gift card line."""

    def __init__(self, item: CatalogItem, locale: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name(self, "giftCardDialog", "Gift card")
        self.setWindowTitle(item.name)
        self.item = item
        self.money_locale = locale  # not ``self.locale``: that would hide QWidget.locale()
        self.amount: Money | None = None
        self.recipient = ""
        self.amount_edit = name(QLineEdit(), "giftAmountEdit", "Gift card amount")
        if item.price.is_positive():
            self.amount_edit.setText(item.price.plain())
        self.recipient_edit = name(QLineEdit(), "giftRecipientEdit", "Gift card recipient")
        self.recipient_edit.setMaxLength(MAX_RECIPIENT)
        self.recipient_edit.setPlaceholderText("Who is it for?")
        self.error = name(plain_label(), "errorMessage", "Gift card message")
        form = QFormLayout()
        form.addRow(f"Amount ({item.price.currency})", self.amount_edit)
        form.addRow("Recipient", self.recipient_edit)
        add = name(QPushButton("OK"), "addGiftCardButton", "Add gift card")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(cancel_or(self, add, self.submit))

    def submit(self) -> None:
        try:
            amount = Money.parse(self.amount_edit.text(), self.item.price.currency, self.money_locale)
        except MoneyFormatError as exc:
            self.error.setText(str(exc))
            return
        if not amount.is_positive():
            self.error.setText("A gift card needs an amount above zero")
            return
        recipient = self.recipient_edit.text().strip()
        if not recipient:
            self.error.setText("Enter who the gift card is for")
            return
        self.amount, self.recipient = amount, recipient
        self.accept()
