"""The frame the POS's dialogs share: their names, their title and the context they work in."""

from __future__ import annotations

from posdesk.core.ticket import Ticket
from posdesk.gui.context import PosContext
from posdesk.gui.qt import QDialog, QWidget
from posdesk.gui.widgets import name


class PosDialog(QDialog):
    """A dialog named ``object_name``, with the accessible name ``what`` and the title ``title`` (``what``
    unless told), working in ``ctx``."""

    def __init__(
        self,
        ctx: PosContext,
        object_name: str,
        what: str,
        parent: QWidget | None = None,
        *,
        title: str | None = None,
    ) -> None:
        super().__init__(parent)
        name(self, object_name, what)
        self.setWindowTitle(title or what)
        self.ctx = ctx


def ticket_title(what: str, number: int) -> str:
    """The title "<what> · Ticket #n", or "<what>" alone for a ticket not numbered yet."""
    return f"{what} · Ticket #{number}" if number else what


class TicketDialog(PosDialog):
    """A dialog about ``ticket`` (take payment, refund, tip split, send invoice): "<what> · Ticket #n"."""

    def __init__(
        self, ctx: PosContext, ticket: Ticket, object_name: str, what: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(ctx, object_name, what, parent, title=ticket_title(what, ticket.number))
        self.ticket = ticket
