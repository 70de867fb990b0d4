"""The Services panel: today's appointments of this store; one click puts one on the ticket."""

from __future__ import annotations

from datetime import tzinfo

from posdesk.gui.qt import QColor, QFrame, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget, Signal
from posdesk.gui.ticket import ITEM_ROLE, by_keyboard, section_title
from posdesk.gui.widgets import name, plain_label, set_keys, settle
from posdesk.pos.backend import TodayAppointment

ON_A_TICKET = "#808080"  # an appointment already on a ticket: greyed (Qt.GlobalColor.darkGray)


class ServicesPanel(QFrame):
    """Today's appointments. A click, or Enter, asks for one; a double-click asks once, not twice.

    Signals:
        appointment_chosen(object): the cashier picked this :class:`TodayAppointment`.
    """

    appointment_chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        layout = QVBoxLayout(self)
        layout.addWidget(section_title("Services today"))
        self.list = name(QListWidget(), "servicesPanel", "Today's appointments")
        self.list.setWordWrap(True)
        set_keys(self.list, "horizontalScrollBarPolicy", "ScrollBarAlwaysOff")
        self.list.itemClicked.connect(self._on_chosen)
        # A double-click's ``activated`` follows its first click, which already chose the appointment.
        self.list.itemActivated.connect(lambda row: self._on_chosen(row) if by_keyboard() else None)
        layout.addWidget(self.list, 1)
        # Shown in the empty list, as its placeholder: a note, not a row (nothing to click or select). On
        # the list inside its frame, not on its viewport: PySide, to name viewport()'s class, would make
        # every QtWidgets class it has not made yet (51 enums, ~15 ms of start-up).
        self.empty_note = name(plain_label("No appointments today", self.list), "servicesEmptyNote")
        self.empty_note.setContentsMargins(8, 6, 8, 6)
        self.empty_note.adjustSize()
        self.empty_note.move(self.list.frameWidth(), self.list.frameWidth())
        self.empty_note.hide()
        hint = QLabel("Click an appointment to put it on the ticket.")
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        layout.addWidget(hint)

    def show_appointments(self, appointments: list[TodayAppointment], timezone: tzinfo) -> None:
        self.list.clear()
        for appointment in appointments:
            start = appointment.start.astimezone(timezone).strftime("%H:%M")
            who = appointment.client.display_name if appointment.client else "Walk-in"
            text = f"{start}   {who}\n{appointment.service.name} · {appointment.staff}"
            row = QListWidgetItem(text + ("\n✓ On a ticket" if appointment.ticket_id else ""))
            row.setData(ITEM_ROLE, appointment)
            row.setToolTip(f"{appointment.service.name} with {appointment.staff} at {start}")
            if appointment.ticket_id:
                row.setForeground(QColor(ON_A_TICKET))
            self.list.addItem(row)
        self.empty_note.setVisible(not appointments)
        settle(self.list)

    def _on_chosen(self, row: QListWidgetItem) -> None:
        appointment = row.data(ITEM_ROLE)
        if isinstance(appointment, TodayAppointment):
            self.appointment_chosen.emit(appointment)
