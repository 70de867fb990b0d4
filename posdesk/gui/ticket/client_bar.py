"""The client bar: search as you type, a chip for the chosen client, Change, New client…, Walk-in."""

from __future__ import annotations

from collections.abc import Callable

from posdesk.core.client import Client
from posdesk.gui.qt import (
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
    Signal,
)
from posdesk.gui.ticket import ITEM_ROLE, repolish
from posdesk.gui.widgets import name, plain_label
from posdesk.pos.phones import format_phone


class ClientBar(QWidget):
    """Who the ticket is for. ``search`` finds clients (a small local read).

    Signals:
        client_chosen(object): the cashier picked this :class:`Client` from the results.
        walk_in_requested(): the Walk-in button.
        new_client_requested(str): New client…, with what was typed in the search box.
    """

    client_chosen = Signal(object)
    walk_in_requested = Signal()
    new_client_requested = Signal(str)

    def __init__(self, search: Callable[[str], list[Client]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.region = "US"  # the store's country, for phone numbers (set by the ticket view)
        self._search = search
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.search_edit = name(QLineEdit(), "clientSearchEdit", "Search client")
        self.search_edit.setPlaceholderText("Client: search by name, phone or email")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textChanged.connect(self._on_search)
        self.search_edit.returnPressed.connect(self._pick_first)
        row.addWidget(self.search_edit, 4)
        self.chip = name(plain_label(), "clientChip", "Client on ticket")
        self.chip.hide()
        row.addWidget(self.chip)
        row.addStretch(1)  # keeps the chip and buttons compact once the search box hides
        self.change_button = name(QPushButton("Change"), "changeClientButton", "Change client")
        self.change_button.clicked.connect(self._on_change)
        self.change_button.hide()
        row.addWidget(self.change_button)
        self.new_button = name(QPushButton("New client…"), "newClientButton", "Create client")
        self.new_button.clicked.connect(
            lambda: self.new_client_requested.emit(self.search_edit.text().strip())
        )
        row.addWidget(self.new_button)
        self.walk_in_button = name(QPushButton("Walk-in"), "walkInButton", "Walk-in client")
        # Set before Qt first polishes the button: see set_walk_in_active.
        self.walk_in_button.setProperty("active", False)
        self.walk_in_button.setToolTip("Sell to a client who is not in the client list")
        self.walk_in_button.clicked.connect(self.walk_in_requested.emit)
        row.addWidget(self.walk_in_button)
        layout.addLayout(row)
        self._layout = layout
        self._results: QListWidget | None = None

    @property
    def results(self) -> QListWidget:
        """The clients matching the search, under the box: made on the first search, not with the first frame."""
        if self._results is None:
            self._results = name(QListWidget(), "clientResultsList", "Matching clients")
            self._results.setMaximumHeight(150)
            self._results.itemActivated.connect(self._on_chosen)
            self._results.itemClicked.connect(self._on_chosen)
            self._results.hide()
            self._layout.addWidget(self._results)
        return self._results

    def show_client(self, client: Client | None, *, read_only: bool) -> None:
        if client is not None:
            self.chip.setText(client.display_name)
            phone = format_phone(client.phone, self.region)
            self.chip.setToolTip(" · ".join(p for p in (phone, client.email) if p))
            self.chip.show()
            self.change_button.setVisible(not read_only)
            self.search_edit.hide()
            self.set_walk_in_active(False)
        else:
            self.chip.hide()
            self.change_button.hide()
            self.search_edit.show()

    def set_walk_in_active(self, active: bool) -> None:
        # Restyled only when it changes: the first restyle from Python makes PySide6 build its QStyle
        # type (~56 enums), which the first frame, showing a new ticket, then does without.
        if self.walk_in_button.property("active") == active:
            return
        self.walk_in_button.setProperty("active", active)
        repolish(self.walk_in_button)

    def set_editable(self, editable: bool) -> None:
        for widget in (self.search_edit, self.new_button, self.walk_in_button):
            widget.setEnabled(editable)

    def clear_search(self) -> None:
        self.search_edit.blockSignals(True)
        self.search_edit.clear()
        self.search_edit.blockSignals(False)
        if self._results is not None:
            self._results.hide()

    def confirm_walk_in(self, client_name: str, confirmed: Callable[[], object]) -> None:
        """Ask before taking an invoiced client off the ticket; ``confirmed`` runs on "Remove client"."""
        from posdesk.gui.qt import QMessageBox  # PySide makes the class (and its enums) on first use

        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Make this a walk-in?",
            f"{client_name} was sent an invoice for this ticket. Remove them from the ticket? "
            "Their link keeps showing the last invoice sent until you send a new one.",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        name(box, "walkInConfirmDialog", "Confirm walk-in")
        remove = box.addButton("Remove client", QMessageBox.ButtonRole.DestructiveRole)
        name(remove, "confirmWalkInButton", "Remove the client from the ticket")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda _result: confirmed() if box.clickedButton() is remove else None)
        box.open()

    def _on_search(self, text: str) -> None:
        if len(text.strip()) < 1:
            if self._results is not None:
                self._results.clear()
                self._results.hide()
            return
        self.results.clear()
        found = self._search(text)
        for client in found:
            contact = " · ".join(
                part for part in (format_phone(client.phone, self.region), client.email) if part
            )
            row = QListWidgetItem(f"{client.display_name}    {contact}".rstrip())
            row.setData(ITEM_ROLE, client)
            self.results.addItem(row)
        if not found:
            from posdesk.gui.qt import Qt  # once the cashier searches, not at start-up (posdesk.gui.qt)

            empty = QListWidgetItem("No client found: use New client… to create one")
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.results.addItem(empty)
        self.results.show()

    def _pick_first(self) -> None:
        first = self._results.item(0) if self._results is not None else None
        if first is not None and first.data(ITEM_ROLE):
            self._on_chosen(first)

    def _on_chosen(self, row: QListWidgetItem) -> None:
        client = row.data(ITEM_ROLE)
        if isinstance(client, Client):
            self.client_chosen.emit(client)

    def _on_change(self) -> None:
        self.chip.hide()
        self.change_button.hide()
        self.search_edit.show()
        self.search_edit.setFocus()
