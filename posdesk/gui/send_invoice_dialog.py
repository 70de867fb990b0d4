"""The Send Invoice dialog: the amount to charge, an optional custom amount, the shareable link, and
(for a ticket with a client) the Communicator with the invoice message ready to send.

The link is made here, on the terminal, before anything is written: token and URL first (local and
fast), straight onto the clipboard and into the QR code, then the invoice is saved and queued for
upload on the worker thread. So the cashier has the link at once, online or offline.
"""

from __future__ import annotations

import copy
import logging
from typing import TYPE_CHECKING

from posdesk.core.invoice import check_requested_amount
from posdesk.core.links import new_link_token, pay_url
from posdesk.core.money import Money, MoneyFormatError
from posdesk.core.pricing import PricedTicket, card_surcharge
from posdesk.core.ticket import Ticket, new_id
from posdesk.gui.backend import InvoiceInfo
from posdesk.gui.context import PosContext
from posdesk.gui.dialog import TicketDialog
from posdesk.gui.qr import qr_pixmap
from posdesk.gui.qt import (
    QApplication,
    QCheckBox,
    QDesktopServices,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    Qt,
    QTimer,
    QUrl,
    QVBoxLayout,
    QWidget,
    Signal,
)
from posdesk.gui.widgets import button_row, name, plain_label, wrapped_label

if TYPE_CHECKING:  # imported when first opened: it brings SQLAlchemy, which start-up does without
    from posdesk.gui.communicator_dialog import CommunicatorDialog
    from posdesk.sync.invoice_links import SentLink

log = logging.getLogger(__name__)
OFFLINE_NOTE = "This terminal is offline: the client can pay once this terminal reconnects."
RESEND_NOTE = "The ticket changed since its link was sent: sending updates the same link to the new total."
SENT_NOTE = "This invoice was already sent: sending again shows the same link."
DEMO_OPEN_TIP = "Demo mode: open the payment page in this computer's browser and pay with 4242 4242 4242 4242"


class SendInvoiceDialog(TicketDialog):
    """Send one ticket's invoice as a shareable link (text, clipboard and QR code).

    Signals:
        sent(object): ``(SentLink, Ticket, InvoiceInfo | None)`` once the invoice is saved and queued.
    """

    sent = Signal(object)

    def __init__(
        self,
        ctx: PosContext,
        ticket: Ticket,
        priced: PricedTicket,
        *,
        invoice: InvoiceInfo | None,
        base_revision: int | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(ctx, ticket, "sendInvoiceDialog", "Send invoice", parent)
        self.priced = priced
        self.invoice = invoice
        self.base_revision = base_revision
        self.url = ""
        self.link_invoice_id = ""
        self.link_amount: Money | None = None
        self.communicator: CommunicatorDialog | None = None
        self.send_communicator_button: QPushButton | None = None
        # Not ``self.result``: that would hide QDialog.result(), the accepted/rejected code.
        self.sent_result: tuple[SentLink, Ticket, InvoiceInfo | None] | None = None
        self.sending = False
        self._build()
        self._validate()

    @property
    def balance_due(self) -> Money:
        return self.priced.balance_due

    @property
    def tips_allowed(self) -> bool:
        return bool(self.ctx.settings.tip_policy.allowed)

    def _build(self) -> None:
        locale = self.ctx.locale
        layout = QVBoxLayout(self)
        who = plain_label(f"Invoice for {self.ticket.client_name}")
        who.setObjectName("sectionTitle")
        layout.addWidget(who)

        caption = QLabel("Amount to be charged")
        caption.setObjectName("muted")
        layout.addWidget(caption)
        self.amount_label = name(
            QLabel(self.balance_due.format(locale)), "amountToCharge", "Amount to be charged"
        )
        layout.addWidget(self.amount_label)
        # The link is paid by card: it asks the amount plus the card surcharge on it (docs/pricing.md).
        self.link_surcharge = name(plain_label(), "linkSurchargeLabel", "Card surcharge on the link")
        layout.addWidget(self.link_surcharge)
        self.prepaid_note = wrapped_label("hint", "Invoice note")
        if self.balance_due.is_zero():
            note = "This ticket is fully prepaid: the balance due is " + self.balance_due.format(locale) + "."
            note += (
                " The client can still add a tip." if self.tips_allowed else " There is nothing to charge."
            )
            self.prepaid_note.setText(note)
        layout.addWidget(self.prepaid_note)
        self.prepaid_note.setVisible(bool(self.prepaid_note.text()))
        # A second send keeps the link: say so, so the cashier knows the client's link stays valid.
        self.resend_note = wrapped_label("resendNote", "Link already sent")
        if self.invoice is not None:
            self.resend_note.setText(RESEND_NOTE if self.invoice.out_of_date else SENT_NOTE)
        layout.addWidget(self.resend_note)
        self.resend_note.setVisible(bool(self.resend_note.text()))

        self.customize = name(
            QCheckBox("Customize payment amount"), "customizeAmountCheckBox", "Customize payment amount"
        )
        self.customize.setToolTip("Charge a deposit or part of the balance")
        self.customize.toggled.connect(self._on_customize_toggled)
        self.customize.setEnabled(self.balance_due.is_positive())
        layout.addWidget(self.customize)
        amount_row = QHBoxLayout()
        self.amount_edit = name(QLineEdit(), "amountEdit", "Payment amount")
        self.amount_edit.setPlaceholderText(
            f"Amount in {self.ticket.currency}, at most {self.balance_due.format(locale)}"
        )
        self.amount_edit.setText(self.balance_due.plain())
        self.amount_edit.setEnabled(False)
        self.amount_edit.textChanged.connect(self._validate)
        amount_row.addWidget(self.amount_edit)
        self.currency_label = QLabel(self.ticket.currency)
        amount_row.addWidget(self.currency_label)
        self.amount_edit.hide()  # shown with "Customize payment amount"
        self.currency_label.hide()
        layout.addLayout(amount_row)
        self.amount_error = wrapped_label("amountError", "Amount message")
        layout.addWidget(self.amount_error)

        self.send_link_button = name(
            QPushButton("Send via Shareable Link"), "sendViaLinkButton", "Send via shareable link"
        )
        self.send_link_button.setDefault(True)
        self.send_link_button.clicked.connect(self.send_via_link)
        layout.addWidget(self.send_link_button)
        if self.ticket.client_id:  # walk-ins have nobody to message
            self.send_communicator_button = name(
                QPushButton("Send via Communicator"), "sendViaCommunicatorButton", "Send via communicator"
            )
            self.send_communicator_button.setToolTip("Send the link to the client by SMS or email")
            self.send_communicator_button.clicked.connect(self.send_via_communicator)
            layout.addWidget(self.send_communicator_button)

        # What the cashier shares: shown once the link exists.
        self.result_frame = QFrame()
        self.result_frame.setObjectName("card")
        result = QHBoxLayout(self.result_frame)
        self.qr_label = name(QLabel(), "qrCodeLabel", "Invoice link QR code")
        self.qr_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr_label.setFixedSize(200, 200)
        result.addWidget(self.qr_label)
        side = QVBoxLayout()
        self.copied_label = name(QLabel(), "successMessage", "Link copied")
        side.addWidget(self.copied_label)
        link_row = QHBoxLayout()
        self.link_edit = name(QLineEdit(), "invoiceLinkEdit", "Invoice link")
        self.link_edit.setReadOnly(True)
        link_row.addWidget(self.link_edit, 1)
        self.copy_button = name(QPushButton("Copy"), "copyLinkButton", "Copy link")
        self.copy_button.clicked.connect(self._copy)
        link_row.addWidget(self.copy_button)
        side.addLayout(link_row)
        # Demo mode only: in a store, opening the client's page here would mark the link "opened".
        self.open_page_button = name(
            QPushButton("Open payment page"), "openPaymentPageButton", "Open payment page in the browser"
        )
        self.open_page_button.setToolTip(DEMO_OPEN_TIP)
        self.open_page_button.clicked.connect(self.open_payment_page)
        self.open_page_button.setVisible(self.ctx.connection.demo)
        side.addWidget(self.open_page_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.scan_hint = QLabel("The client can scan the code at the counter, or open the link you send.")
        self.scan_hint.setObjectName("hint")
        self.scan_hint.setWordWrap(True)
        side.addWidget(self.scan_hint)
        self.offline_label = wrapped_label("offlineNotice", "Offline notice", OFFLINE_NOTE)
        self.offline_label.hide()
        side.addWidget(self.offline_label)
        self.progress_label = wrapped_label("sendProgressLabel", "Send progress")
        side.addWidget(self.progress_label)
        side.addStretch(1)
        result.addLayout(side, 1)
        self.result_frame.hide()
        layout.addWidget(self.result_frame)

        self.close_button = name(QPushButton("Close"), "closeButton", "Close")
        self.close_button.clicked.connect(self.accept)
        layout.addLayout(button_row(self.close_button))
        self.setMinimumWidth(560)

    # -- the amount ----------------------------------------------------------------------------
    def _on_customize_toggled(self, on: bool) -> None:
        self.amount_edit.setEnabled(on)
        self.amount_edit.setVisible(on)
        self.currency_label.setVisible(on)
        if on:
            self.amount_edit.setFocus()
            self.amount_edit.selectAll()
        else:
            self.amount_edit.setText(self.balance_due.plain())
        self._validate()

    def requested_amount(self) -> Money | None:
        """The amount to ask for (None: the whole balance); raises ValueError with a message."""
        if not self.customize.isChecked():
            return None
        amount = Money.parse(self.amount_edit.text(), self.ticket.currency, self.ctx.locale)
        check_requested_amount(amount, self.balance_due)
        return None if amount == self.balance_due else amount

    def _validate(self) -> bool:
        message = ""
        try:
            self.requested_amount()
        except MoneyFormatError as exc:
            message = str(exc) if str(exc) == "Enter an amount" else "Enter an amount such as 25.00"
        except ValueError as exc:
            message = str(exc)
        if not message and self.balance_due.is_zero() and not self.tips_allowed:
            self.send_link_button.setToolTip("Nothing to charge and tips are off")
            self.send_link_button.setEnabled(False)
            self.amount_error.setText("")
            self._sync_communicator_button()
            return False
        self.amount_error.setText(message)
        self.amount_edit.setProperty("invalid", bool(message))
        self.amount_edit.style().polish(self.amount_edit)
        self.send_link_button.setEnabled(not message)
        self.send_link_button.setToolTip(message)
        amount = self.balance_due
        if not message and self.customize.isChecked():
            amount = self.requested_amount() or self.balance_due
        self.amount_label.setText(amount.format(self.ctx.locale))
        self._show_link_surcharge(amount)
        self._sync_communicator_button()
        return not message

    def _show_link_surcharge(self, amount: Money) -> None:
        locale, rate = self.ctx.locale, self.ctx.settings.surcharge_rate
        surcharge = card_surcharge(amount, rate)
        self.link_surcharge.setText(
            f"Paid by card through the link: {amount.format(locale)} + card surcharge "
            f"({(rate * 100).normalize():f}%) {surcharge.format(locale)} = {(amount + surcharge).format(locale)}"
            if surcharge.is_positive()
            else ""
        )
        self.link_surcharge.setVisible(surcharge.is_positive())

    def _sync_communicator_button(self) -> None:
        if self.send_communicator_button is not None:  # once the link exists it can always be messaged
            self.send_communicator_button.setEnabled(bool(self.url) or self.send_link_button.isEnabled())

    # -- sending -------------------------------------------------------------------------------
    def send_via_link(self) -> None:
        if not self._validate():
            return
        amount = self.requested_amount()
        # 1. The link, at once: a token made here (or the one this ticket already has).
        token = self.invoice.token if self.invoice else new_link_token()
        invoice_id = self.invoice.invoice_id if self.invoice else new_id()
        self.url = pay_url(self.ctx.connection.url or "http://127.0.0.1", token)
        self.link_invoice_id = invoice_id
        self.link_amount = amount or self.balance_due
        QApplication.clipboard().setText(self.url)
        self.link_edit.setText(self.url)
        self.link_edit.setCursorPosition(0)
        # The QR code (a few ms of drawing) comes right after: the cashier has the link first.
        self.qr_label.clear()
        QTimer.singleShot(0, self._draw_qr)
        self.copied_label.setText("✓ Link copied")
        self.offline_label.setVisible(not self.ctx.connection.online)
        self.progress_label.setText("Saving the invoice…")
        self.result_frame.show()
        self.send_link_button.setText("Link sent")
        self.send_link_button.setEnabled(False)
        self.customize.setEnabled(False)
        self.amount_edit.setEnabled(False)
        # 2. Then persist: save the ticket, the invoice version and the outbox entry, off the UI thread.
        snapshot = copy.deepcopy(self.ticket)
        self.sending = True
        self.ctx.worker.run(
            "send invoice",
            lambda: self.ctx.backend.send_invoice(
                snapshot,
                amount_requested=amount,
                companion_url=self.ctx.connection.url or "http://127.0.0.1",
                settings=self.ctx.settings,
                token=token,
                invoice_id=invoice_id,
                base_revision=self.base_revision,
                # From the worker thread (the sync service's wake is thread-safe): the upload starts
                # as soon as it is queued, not after the ticket is read back and the UI thread runs.
                on_queued=lambda: self.ctx.wake_sync(),
            ),
            on_done=self._on_sent,
            on_error=self._on_failed,
        )

    def _draw_qr(self) -> None:
        if self.url:  # not when the send failed meanwhile
            self.qr_label.setPixmap(qr_pixmap(self.url, scale=4))

    def send_via_communicator(self) -> None:
        """Make the link exactly as "Send via Shareable Link" does, then open the client's conversation
        with the invoice message filled in, link included; the cashier picks SMS or email and sends."""
        if not self.url:
            self.send_via_link()
            if not self.url:
                return
        client = self.ctx.backend.client(self.ticket.client_id) if self.ticket.client_id else None
        if client is None:
            self.amount_error.setText("This ticket's client is not in this terminal's client list.")
            return
        from posdesk.gui.communicator_dialog import CommunicatorDialog, InvoiceToSend

        invoice = InvoiceToSend(self.url, self.link_amount, self.ticket.id, self.link_invoice_id or None)
        self.communicator = CommunicatorDialog(self.ctx, client, invoice, template="Invoice", parent=self)
        self.communicator.open()

    def open_payment_page(self) -> None:
        """Demo mode: the system browser opens the link, as the client's phone would."""
        if self.url:
            QDesktopServices.openUrl(QUrl(self.url))

    def _copy(self) -> None:
        QApplication.clipboard().setText(self.link_edit.text())
        self.copied_label.setText("✓ Link copied")

    def _on_sent(self, result: tuple[SentLink, Ticket, InvoiceInfo | None]) -> None:
        sent, _ticket, _invoice = result
        self.sent_result = result
        if sent.url != self.url:  # cannot happen unless the companion address changed meanwhile
            log.warning("invoice link changed while sending; showing the stored one")
            self.url = sent.url
            QApplication.clipboard().setText(sent.url)
            self.link_edit.setText(sent.url)
            self._draw_qr()
        if not sent.is_new_version:
            what = "Invoice unchanged: same link."
        elif sent.version == 1:
            what = "Invoice saved."
        else:
            what = "Invoice updated: the same link shows the new amount."
        when = " The client can open it in a moment." if self.ctx.connection.online else ""
        self.progress_label.setText(what + when)
        self.ctx.wake_sync()
        self.sent.emit(result)

    def _on_failed(self, error: Exception) -> None:
        self.sending = False
        self.progress_label.setText("")
        self.copied_label.setText("")
        self.result_frame.hide()
        QApplication.clipboard().clear()
        self.amount_error.setText(f"The invoice was not sent: {error}")
        self.send_link_button.setText("Send via Shareable Link")
        self.send_link_button.setEnabled(True)
        self.url = ""
        self._sync_communicator_button()
        self.customize.setEnabled(self.balance_due.is_positive())
        self.amount_edit.setEnabled(self.customize.isChecked())
