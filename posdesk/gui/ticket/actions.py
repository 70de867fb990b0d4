"""The ticket's actions: Save, Take payment, Close ticket and (when the feature is on) $ Send Invoice."""

from __future__ import annotations

from posdesk.core.pricing import PricedTicket
from posdesk.gui.qt import QHBoxLayout, QPushButton, QWidget, Signal
from posdesk.gui.widgets import name, set_keys, wrapped_label
from posdesk.pos.editor import TicketEditor


class ActionBar(QWidget):
    """Buttons enabled by what the ticket allows; why Send Invoice is off is said beside it (a touch
    screen shows no tooltip), and in its tooltip.

    Signals:
        save_requested(), payment_requested(), close_requested(), send_invoice_requested().
    """

    save_requested = Signal()
    payment_requested = Signal()
    close_requested = Signal()
    send_invoice_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.reason = wrapped_label("sendInvoiceReason", "Why Send Invoice is not available")
        set_keys(self.reason, "alignment", "AlignRight|AlignVCenter")
        self.reason.hide()
        self.row.addWidget(self.reason, 1)
        self.close_button = name(QPushButton("Close ticket"), "closeTicketButton", "Close ticket")
        self.close_button.setToolTip("Nothing is due: close the ticket")
        self.close_button.clicked.connect(self.close_requested.emit)
        self.row.addWidget(self.close_button)
        self.take_payment_button = name(QPushButton("Take payment…"), "takePaymentButton", "Take payment")
        self.take_payment_button.clicked.connect(self.payment_requested.emit)
        self.row.addWidget(self.take_payment_button)
        self.save_button = name(QPushButton("Save"), "saveTicketButton", "Save ticket")
        self.save_button.setToolTip("Save the ticket (Ctrl+S)")
        self.save_button.clicked.connect(self.save_requested.emit)
        self.row.addWidget(self.save_button)
        self.send_button: QPushButton | None = None

    def set_send_invoice(self, enabled: bool) -> None:
        """The Send Invoice button exists only while the manager has the feature on."""
        if enabled and self.send_button is None:
            self.send_button = name(QPushButton("$ Send Invoice"), "sendInvoiceButton", "Send invoice")
            self.send_button.clicked.connect(self.send_invoice_requested.emit)
            self.row.addWidget(self.send_button)
            QWidget.setTabOrder(self.save_button, self.send_button)
        elif not enabled and self.send_button is not None:
            self.row.removeWidget(self.send_button)
            self.send_button.deleteLater()
            self.send_button = None

    def show_state(self, editor: TicketEditor, priced: PricedTicket) -> None:
        ticket, editable = editor.ticket, not editor.read_only
        self.save_button.setEnabled(editable and bool(ticket.lines))
        due = priced.balance_due
        # A ticket another terminal invoiced takes counter payments here too: the companion knows its
        # invoice and lowers what the link charges (posdesk.companion.tenders).
        payable = not ticket.is_closed and bool(ticket.lines)
        self.take_payment_button.setEnabled(payable and due.is_positive())
        self.take_payment_button.setToolTip(
            "Record cash, a counter card, a gift card or another payment (Ctrl+P)"
            if payable and due.is_positive()
            else ("Nothing is due" if payable else "This ticket takes no payment here")
        )
        # A $0 ticket (fully prepaid, or paid online without a tip) closes with one click.
        self.close_button.setVisible(payable and due.is_zero())
        if self.send_button is None:
            self.reason.hide()
            return
        if editor.sent_elsewhere:
            enabled, tip = False, "Sent from another terminal: change or send it again there"
        elif not editable:
            enabled, tip = False, "This ticket is closed"
        elif ticket.is_walk_in:
            enabled, tip = False, "Add a client to send an invoice"
        elif not ticket.lines:
            enabled, tip = False, "Add an item to send an invoice"
        else:
            enabled, tip = True, "Send a pay-by-link invoice (Ctrl+I)"
        self.send_button.setEnabled(enabled)
        self.send_button.setToolTip(tip)
        self.reason.setText("" if enabled else tip)
        self.reason.setVisible(not enabled)
