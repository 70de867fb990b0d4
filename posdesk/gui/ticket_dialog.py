"""The frame of a dialog about one ticket (take payment, refund, tip split, send invoice)."""

from __future__ import annotations

from posdesk.core.ticket import Ticket
from posdesk.gui.context import PosContext
from posdesk.gui.qt import QDialog, QWidget, name


class TicketDialog(QDialog):
    """A dialog about ``ticket``: its objectName and accessible name, and the title "<what> · Ticket #n"."""

    def __init__(
        self, ctx: PosContext, ticket: Ticket, object_name: str, what: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        name(self, object_name, what)
        self.setWindowTitle(f"{what} · Ticket #{ticket.number}" if ticket.number else what)
        self.ctx = ctx
        self.ticket = ticket
