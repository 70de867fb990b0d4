"""Take payment: cash (with change), the counter card terminal (with its surcharge on top), a gift card
sold here, or other means."""

from __future__ import annotations

from posdesk.core.money import Money, MoneyFormatError
from posdesk.core.ticket import PaymentMethod, Ticket
from posdesk.gui.context import PosContext
from posdesk.gui.dialog import TicketDialog
from posdesk.gui.gift_card_check import GiftCardChecker
from posdesk.gui.operations import CollectionOp, OpChanges
from posdesk.gui.qt import (
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
    Signal,
)
from posdesk.gui.widgets import cancel_or, message_label, name, plain_label, wrapped_label
from posdesk.pos.tenders import (
    TENDER_METHODS,
    Tender,
    TenderError,
    TenderOutcome,
    gift_card_refusal,
    plan_tender,
    tip_refusal,
)


class TenderDialog(TicketDialog):
    """One tender toward a saved ticket's balance. Several tenders may settle one ticket.

    Signals:
        recorded(object): the :class:`~posdesk.pos.tenders.TenderOutcome` once it is stored.
    """

    recorded = Signal(object)

    def __init__(
        self, ctx: PosContext, ticket: Ticket, balance_due: Money, parent: QWidget | None = None
    ) -> None:
        super().__init__(ctx, ticket, "tenderDialog", "Take payment", parent)
        self.balance_due = balance_due
        self.recording = False
        self.outcome: TenderOutcome | None = None
        money_locale = ctx.locale
        layout = QVBoxLayout(self)
        due = name(
            QLabel(f"Balance due: {balance_due.format(money_locale)}"), "tenderBalanceLabel", "Balance due"
        )
        due.setObjectName("tenderBalanceLabel")
        layout.addWidget(due)
        form = self.form = QFormLayout()
        self.method = name(QComboBox(), "tenderMethodCombo", "Payment method")
        for method, caption in TENDER_METHODS:
            self.method.addItem(caption, method.value)
        form.addRow("Method", self.method)
        self.amount = name(QLineEdit(balance_due.plain()), "tenderAmountEdit", "Amount")
        form.addRow(f"Amount ({balance_due.currency})", self.amount)
        self.tip = name(QLineEdit(), "tenderTipEdit", "Tip")
        self.tip.setPlaceholderText("0.00")
        self.tip.setToolTip("A tip on top of the amount, shared among the ticket's providers")
        form.addRow(f"Tip ({balance_due.currency})", self.tip)
        self.reference = name(QLineEdit(), "tenderReferenceEdit", "Reference")
        self.reference.setPlaceholderText("Terminal receipt or authorisation number")
        self.reference.setMaxLength(100)
        form.addRow("Reference", self.reference)
        self.gift_code = name(QLineEdit(), "giftCardCodeEdit", "Gift card code")
        self.gift_code.setPlaceholderText("The code on the gift card")
        form.addRow("Gift card", self.gift_code)
        self.gift_balance = wrapped_label("giftCardBalanceLabel", "Gift card balance")
        form.addRow("", self.gift_balance)
        self.gift_check = GiftCardChecker(ctx, self.gift_code, self.gift_balance, self._given_or_none)
        layout.addLayout(form)
        self.change_due = name(plain_label(), "changeDueLabel", "Change due")
        self.change_due.setObjectName("changeDueLabel")
        layout.addWidget(self.change_due)
        self.surcharge = name(plain_label(), "tenderSurchargeLabel", "Card surcharge")
        self.surcharge.setObjectName("tenderSurchargeLabel")
        layout.addWidget(self.surcharge)
        self.error = message_label("Payment message")
        layout.addWidget(self.error)
        self.record_button = name(QPushButton("Record payment"), "recordTenderButton", "Record payment")
        self.record_button.setDefault(True)
        layout.addWidget(cancel_or(self, self.record_button, self.record))
        self.method.currentIndexChanged.connect(self._on_method)
        self.amount.textChanged.connect(self._show_change)
        self.tip.textChanged.connect(self._show_change)
        self._on_method()

    @property
    def chosen(self) -> PaymentMethod:
        return PaymentMethod(self.method.currentData())

    def _on_method(self) -> None:
        method = self.chosen
        self._row_visible(self.reference, method in (PaymentMethod.CARD, PaymentMethod.OTHER))
        self._row_visible(self.gift_code, method is PaymentMethod.GIFT_CARD)
        self._row_visible(self.gift_balance, method is PaymentMethod.GIFT_CARD)
        self._show_change()

    def _row_visible(self, field: QWidget, visible: bool) -> None:
        self.form.setRowVisible(field, visible)

    def _given_or_none(self) -> Money | None:
        try:
            return self._given()
        except MoneyFormatError:
            return None

    def _given(self) -> Money:
        return Money.parse(self.amount.text(), self.balance_due.currency, self.ctx.locale)

    def _tip(self) -> Money:
        text = self.tip.text().strip()
        if not text:
            return Money.zero(self.balance_due.currency)
        return Money.parse(text, self.balance_due.currency, self.ctx.locale)

    def _show_change(self) -> None:
        """Cash: what goes back to the client; card: the surcharge and what the terminal charges."""
        self.error.setText("")
        self.change_due.setText("")
        self.surcharge.setText("")
        if self.chosen not in (PaymentMethod.CASH, PaymentMethod.CARD):
            return
        rate = self.ctx.settings.surcharge_rate
        try:
            tip = self._tip()
            plan = plan_tender(Tender(self.chosen, self._given(), tip=tip), self.balance_due, rate)
        except (MoneyFormatError, TenderError):
            return
        locale = self.ctx.locale
        if self.chosen is PaymentMethod.CASH:
            toward = f"Toward the balance: {plan.amount.format(locale)} · " if tip.is_positive() else ""
            self.change_due.setText(f"{toward}Change due: {plan.change.format(locale)}")
        elif plan.surcharge.is_positive() or tip.is_positive():
            surcharge = (
                f"Card surcharge ({(rate * 100).normalize():f}%): {plan.surcharge.format(locale)} · "
                if plan.surcharge.is_positive()
                else ""
            )
            self.surcharge.setText(
                f"{surcharge}Charge on the terminal: {(plan.charged + tip).format(locale)}"
            )

    def tender(self) -> Tender:
        """The tender as entered; ValueError (with a message) when it cannot be taken."""
        try:
            given = self._given()
        except MoneyFormatError as exc:
            raise TenderError(str(exc)) from None
        try:
            tip = self._tip()
        except MoneyFormatError as exc:
            raise TenderError(f"Tip: {exc}") from None
        tender = Tender(self.chosen, given, self.reference.text(), self.gift_code.text().strip(), tip)
        plan = plan_tender(tender, self.balance_due)
        refusal = tip_refusal(tip, self.ticket, self.ctx.settings)
        if refusal:
            raise TenderError(refusal)
        if tender.method is PaymentMethod.GIFT_CARD:
            refusal = gift_card_refusal(
                self.ctx.backend.gift_card_balance(tender.gift_card_code), plan.amount + tip
            )
            if refusal:
                raise TenderError(refusal)
        return tender

    def record(self) -> None:
        if self.recording:
            return
        try:
            tender = self.tender()
        except TenderError as exc:
            self.error.setText(str(exc))
            return
        self.recording = True
        self.record_button.setEnabled(False)
        backend, settings, url = self.ctx.backend, self.ctx.settings, self.ctx.connection.url
        ticket_id = self.ticket.id
        # Online, a gift card is taken at the companion first (two terminals cannot spend one balance twice).
        online = self.ctx.connection.configured and self.ctx.connection.online
        vault = self.ctx.vault
        CollectionOp(
            "take payment",
            lambda: backend.record_tender(
                ticket_id, tender, settings=settings, companion_url=url, credential=vault.load(url) or "" if online else ""
            ),
            changes=OpChanges(tickets=frozenset({ticket_id}), payments=True),
            initiator=self,
        ).success(self._on_recorded).failure(self._on_failed).run_in_background(self.ctx)

    def _on_recorded(self, outcome: TenderOutcome) -> None:
        self.recording = False
        self.outcome = outcome
        self.ctx.wake_sync()
        self.recorded.emit(outcome)
        self.accept()

    def _on_failed(self, error: Exception) -> None:
        self.recording = False
        self.record_button.setEnabled(True)
        self.error.setText(str(error))
