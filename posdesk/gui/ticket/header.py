"""The ticket's heading: its number (• while unsaved), its status, where it came from, the last message."""

from __future__ import annotations

from posdesk.gui.qt import QHBoxLayout, QLabel, QVBoxLayout, QWidget
from posdesk.gui.status import ticket_status
from posdesk.gui.ticket import repolish
from posdesk.gui.widgets import name, plain_label, set_keys
from posdesk.pos.editor import TicketEditor


class TicketHeader(QWidget):
    """Shows what the editor holds; ``last_message`` is the Communicator's last delivery words ("" none)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = self.top = QHBoxLayout()
        self.title_label = QLabel("New ticket")
        self.title_label.setObjectName("ticketTitle")
        top.addWidget(self.title_label)
        top.addStretch(1)
        self.status_label = name(plain_label(), "ticketStatusLabel", "Ticket status")
        self.status_label.setProperty("tone", "")  # a new ticket's: restyled below only on a change
        top.addWidget(self.status_label)
        layout.addLayout(top)
        # A ticket another terminal invoiced says so (and its number there), in the muted "hint" look.
        self.origin_label = plain_label()
        self.origin_label.setObjectName("hint")
        self.origin_label.setAccessibleName("Ticket origin")
        self.origin_label.hide()
        layout.addWidget(self.origin_label)
        self.message_status_label = name(plain_label(), "messageStatusLabel", "Last message to the client")
        set_keys(self.message_status_label, "alignment", "AlignRight")
        self.message_status_label.setWordWrap(True)
        layout.addWidget(self.message_status_label)

    def add_beside_status(self, widget: QWidget) -> None:
        """A control shown in the heading's row, just before the status (e.g. the side panel toggle)."""
        self.top.insertWidget(self.top.indexOf(self.status_label), widget)

    def show_state(self, editor: TicketEditor, last_message: str) -> None:
        ticket, invoice = editor.ticket, editor.invoice
        number = f"Ticket #{ticket.number}" if ticket.number else "New ticket"
        self.title_label.setText(number + ("  •" if editor.dirty and ticket.lines else ""))
        self.origin_label.setText(ticket.note)
        self.origin_label.setVisible(bool(ticket.note))
        text, tone = ticket_status(ticket, invoice, saved=editor.saved_revision is not None)
        if invoice is not None and not ticket.is_closed and editor.dirty and not invoice.out_of_date:
            text, tone = "Unsaved changes: the invoice will be out of date", "warning"
        self.status_label.setText(text)
        if self.status_label.property("tone") != tone:
            self.status_label.setProperty("tone", tone)
            repolish(self.status_label)
        self.message_status_label.setText(last_message)
        self.message_status_label.setVisible(bool(last_message))
