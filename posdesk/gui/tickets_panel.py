"""The Tickets tab: saved tickets, searchable by number or client name, filtered by state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from posdesk.core.ticket import TicketState
from posdesk.gui.context import PosContext
from posdesk.gui.qt import (
    FIGURE_ALIGNMENT,
    TEXT_ALIGNMENT_ROLE,
    USER_ROLE,
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QShowEvent,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    Signal,
)
from posdesk.gui.widgets import name, plain_label

if TYPE_CHECKING:
    from posdesk.gui.backend import TicketSummary

STATE_FILTERS: tuple[tuple[str, tuple[TicketState, ...]], ...] = (
    ("All tickets", ()),
    ("Open", (TicketState.OPEN,)),
    ("Awaiting payment", (TicketState.AWAITING_PAYMENT, TicketState.PARTIALLY_PAID)),
    ("Closed", (TicketState.PAID, TicketState.VOIDED)),
    ("Awaiting online payment", (TicketState.AWAITING_PAYMENT, TicketState.PARTIALLY_PAID)),
    ("Link expired", (TicketState.AWAITING_PAYMENT, TicketState.PARTIALLY_PAID)),
)
LINK_FILTERS = {"Awaiting online payment": "awaiting", "Link expired": "expired"}
TICKET_ID_ROLE = USER_ROLE


class TicketsPanel(QWidget):
    """Saved tickets, searchable by number or client name, filtered by state.

    Signals:
        open_requested(str): the cashier asked to reopen this ticket id.
        remind_requested(str), reissue_requested(str): Send reminder / Re-issue link on this ticket id.
    """

    open_requested = Signal(str)
    remind_requested = Signal(str)
    reissue_requested = Signal(str)

    def __init__(self, ctx: PosContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.stale = True  # nothing read yet: the first showing reads the list
        self.summaries: dict[str, TicketSummary] = {}
        self.built = False
        self._outer = QVBoxLayout(self)
        self._outer.setContentsMargins(0, 0, 0, 0)

    def build(self) -> None:
        """Make the list and its controls, once: when the tab is first shown or the list first read.

        Start-up shows the New Ticket view; made and styled with it, this hidden tab's widgets were a
        tenth of building the first frame.
        """
        if self.built:
            return
        self.built = True
        body = QWidget()
        layout = QVBoxLayout(body)
        row = QHBoxLayout()
        self.search = name(QLineEdit(), "ticketSearchEdit", "Search tickets")
        self.search.setPlaceholderText("Search by ticket number or client name")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.reload)
        row.addWidget(self.search, 1)
        self.state_filter = name(QComboBox(), "ticketStateFilter", "Ticket state filter")
        for caption, _states in STATE_FILTERS:
            self.state_filter.addItem(caption)
        self.state_filter.currentIndexChanged.connect(self.reload)
        row.addWidget(self.state_filter)
        layout.addLayout(row)
        self.table = name(QTableWidget(0, 4), "ticketsList", "Tickets")
        self.table.setHorizontalHeaderLabels(["Ticket", "Client", "Status", "Balance due"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for column in (0, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemActivated.connect(self._on_activated)
        self.table.itemDoubleClicked.connect(self._on_activated)
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        hint = QLabel("Double-click a ticket to open it.")
        hint.setObjectName("hint")
        row.addWidget(hint, 1)
        self.remind_result = name(plain_label(""), "remindResultLabel", "Reminder result")
        row.addWidget(self.remind_result, 1)
        self.remind_button = name(QPushButton("Send reminder"), "remindButton", "Send a payment reminder")
        self.remind_button.setToolTip(
            "Send the reminder with the link now, by SMS or email (consent respected)"
        )
        self.remind_button.clicked.connect(lambda: self.remind_requested.emit(self.selected_id()))
        row.addWidget(self.remind_button)
        self.reissue_button = name(
            QPushButton("Re-issue link"), "reissueLinkButton", "Re-issue the expired link"
        )
        self.reissue_button.setToolTip("A fresh link for the current balance, copied to the clipboard")
        self.reissue_button.clicked.connect(lambda: self.reissue_requested.emit(self.selected_id()))
        row.addWidget(self.reissue_button)
        layout.addLayout(row)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self._on_selection()
        self._outer.addWidget(body)
        body.show()  # now, not from the event loop, when made while the tab is being shown
        self._outer.activate()

    def reload_when_shown(self) -> None:
        """Tickets changed: reload now if the list is on screen, else mark it stale for its next showing.

        Reading and pricing a page of tickets costs tens of milliseconds on the UI thread; doing it for
        a hidden list on every payment the companion reports delayed showing the ticket closed.
        """
        if self.isVisible():
            self.reload()
        else:
            self.stale = True

    def showEvent(self, event: QShowEvent) -> None:
        # The list is made and read when it is first shown (not at start-up), read again after changes
        # while hidden.
        self.build()
        if self.stale:
            self.reload()
        super().showEvent(event)

    def reload(self) -> None:
        self.build()
        self.stale = False
        caption, states = STATE_FILTERS[self.state_filter.currentIndex()]
        link = LINK_FILTERS.get(caption, "")
        found = self.ctx.backend.list_tickets(self.search.text(), states, link=link)
        self.summaries = {summary.id: summary for summary in found}
        self.remind_button.setVisible(link == "awaiting")
        self.remind_result.setVisible(link == "awaiting")
        self.reissue_button.setVisible(link == "expired")
        self.table.setRowCount(len(found))
        for row, summary in enumerate(found):
            cells = (
                f"#{summary.number}",
                summary.client_name or "Walk-in",
                summary.state.label,
                summary.balance_due.format(self.ctx.locale),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(TICKET_ID_ROLE, summary.id)
                if column == 3:
                    item.setData(TEXT_ALIGNMENT_ROLE, FIGURE_ALIGNMENT)
                self.table.setItem(row, column, item)

    def selected_id(self) -> str:
        items = self.table.selectedItems()
        return str(items[0].data(TICKET_ID_ROLE)) if items else ""

    def _on_selection(self) -> None:
        chosen = self.summaries.get(self.selected_id())
        self.remind_button.setEnabled(chosen is not None and bool(chosen.client_name))
        self.reissue_button.setEnabled(chosen is not None and bool(chosen.client_name))

    def _on_activated(self, item: QTableWidgetItem) -> None:
        self.open_requested.emit(item.data(TICKET_ID_ROLE))
