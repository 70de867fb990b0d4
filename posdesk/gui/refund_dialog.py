"""Refund a payment (behind the manager PIN): online through the companion, a counter tender at the
counter. The amount and the tip are refunded separately, each defaulting to what is left of it."""

from __future__ import annotations

from posdesk.core.money import Money, MoneyFormatError
from posdesk.core.ticket import Payment, Ticket
from posdesk.gui.context import PosContext
from posdesk.gui.dialog import TicketDialog
from posdesk.gui.operations import CollectionOp, OpChanges, QueryOp
from posdesk.gui.qt import QFormLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget, Signal
from posdesk.gui.widgets import cancel_or, message_label, name, plain_label
from posdesk.pos.payments import method_label
from posdesk.pos.refunds import (
    RefundError,
    is_online,
    refund_of,
    refund_online,
    refundable,
    refundable_parts,
)


class RefundDialog(TicketDialog):
    """One refund of one payment.

    Signals:
        refunded(object): the ticket as stored after the refund (or as it was, when the refund is queued).
    """

    refunded = Signal(object)

    def __init__(
        self, ctx: PosContext, ticket: Ticket, payment: Payment, parent: QWidget | None = None
    ) -> None:
        super().__init__(ctx, ticket, "refundDialog", "Refund", parent)
        self.payment = payment
        self.busy = False
        self.tip_entered = Money.zero(payment.amount.currency)
        self.note = ""  # what the cashier is told once the dialog closes
        left = refundable(payment)
        amount_left, tip_left = refundable_parts(payment)
        layout = QVBoxLayout(self)
        what = plain_label(
            f"{method_label(payment)} · {(payment.amount + payment.tip).format(ctx.locale)}"
            + (f" (tip {payment.tip.format(ctx.locale)})" if payment.tip.is_positive() else "")
        )
        layout.addWidget(what)
        form = QFormLayout()
        self.amount = name(QLineEdit(amount_left.plain()), "refundAmountEdit", "Refund amount")
        form.addRow(f"Refund ({left.currency})", self.amount)
        self.tip = name(QLineEdit(tip_left.plain()), "refundTipEdit", "Refund of the tip")
        self.tip.setEnabled(payment.tip.is_positive())
        form.addRow(f"Tip refund ({left.currency})", self.tip)
        layout.addLayout(form)
        self.hint = name(plain_label(f"Up to {left.format(ctx.locale)} can be refunded."), "refundHint")
        self.hint.setObjectName("hint")
        layout.addWidget(self.hint)
        self.error = message_label("Refund message")
        layout.addWidget(self.error)
        self.confirm = name(QPushButton("Refund"), "confirmRefundButton", "Confirm refund")
        layout.addWidget(cancel_or(self, self.confirm, self.submit))

    def amount_entered(self) -> Money:
        """The whole refund: the amount and the tip entered (an empty field is zero)."""
        currency = self.payment.amount.currency
        try:
            amount, tip = (
                Money.parse(edit.text(), currency, self.ctx.locale)
                if edit.text().strip()
                else Money.zero(currency)
                for edit in (self.amount, self.tip)
            )
        except MoneyFormatError as exc:
            raise RefundError(str(exc)) from None
        self.tip_entered = tip
        return refund_of(self.payment, amount, tip)

    def submit(self) -> None:
        if self.busy:
            return
        try:
            amount = self.amount_entered()
            tip = self.tip_entered
        except RefundError as exc:
            self.error.setText(str(exc))
            return
        self._busy(True)
        if not is_online(self.payment):
            self._write(
                "refund at the counter",
                lambda b: b.refund_at_counter(self.ticket.id, self.payment, amount, tip),
                amount,
            )
            self.note = f"Refunded {amount.format(self.ctx.locale)} at the counter"
            return
        connection = self.ctx.connection
        if not (connection.configured and connection.online):
            self._queue(amount)
            return
        url, vault, payment = connection.url, self.ctx.vault, self.payment
        QueryOp("refund online", lambda: refund_online(url, vault.load(url) or "", payment, amount)).success(
            lambda total: self._on_refunded_online(amount, total, tip)
        ).failure(lambda error: self._on_online_failed(amount, error)).run_in_background(self.ctx)

    def _on_refunded_online(self, amount: Money, total: Money, tip: Money) -> None:
        self.note = f"Refunded {amount.format(self.ctx.locale)} to the client's card"
        ticket_id, payment_id = self.ticket.id, self.payment.id
        tip_total = self.payment.refunded_of_tip + tip
        self._write(
            "record refund",
            lambda b: b.record_refunded_total(ticket_id, payment_id, total, tip_total),
            amount,
        )

    def _on_online_failed(self, amount: Money, error: Exception) -> None:
        from posdesk.sync.client import CompanionUnavailable

        if isinstance(error, CompanionUnavailable):
            self._queue(amount)
            return
        self._busy(False)
        detail = getattr(error, "detail", None)
        self.error.setText(f"Not refunded: {detail or error}")

    def _queue(self, amount: Money) -> None:
        self.note = (
            f"Refund of {amount.format(self.ctx.locale)} queued: it is made when this terminal reconnects"
        )
        payment, ticket = self.payment, self.ticket
        self._write("queue refund", lambda b: (b.queue_online_refund(payment, amount), ticket)[1], amount)

    def _write(self, what: str, write: object, amount: Money) -> None:
        """Record the refund, then email the client a refund receipt when they agreed to emails."""
        backend, ticket_id, payment = self.ctx.backend, self.ticket.id, self.payment
        business, method, locale = self.ctx.settings.business_name, method_label(payment), self.ctx.locale
        assert callable(write)

        tip = self.tip_entered

        def refund_and_receipt() -> Ticket:
            ticket: Ticket = write(backend)
            if tip.is_positive():
                backend.queue_refunded_tip(ticket_id, payment.id, payment.refunded_of_tip + tip)
            backend.queue_refund_receipt(ticket_id, payment, amount, business, method, locale)
            return ticket

        CollectionOp(
            what,
            refund_and_receipt,
            changes=OpChanges(tickets=frozenset({ticket_id}), payments=True),
            initiator=self,
        ).success(self._on_done).failure(self._on_failed).run_in_background(self.ctx)

    def _on_done(self, ticket: Ticket) -> None:
        self.busy = False
        self.ctx.wake_sync()
        self.refunded.emit(ticket)
        self.accept()

    def _on_failed(self, error: Exception) -> None:
        self._busy(False)
        self.error.setText(f"Not refunded: {error}")

    def _busy(self, busy: bool) -> None:
        self.busy = busy
        self.confirm.setEnabled(not busy)
        if busy:
            self.error.setText("Refunding…")
