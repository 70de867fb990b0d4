"""The middle card of the New Ticket view: heading, client and lines scroll when the window is short
(a small terminal, 200% scale); the totals and actions below them stay in view, always."""

from __future__ import annotations

from posdesk.gui.qt import QFrame, QPushButton, QScrollArea, QVBoxLayout, QWidget
from posdesk.gui.ticket.header import TicketHeader
from posdesk.gui.widgets import name, set_keys


class TicketCard(QFrame):
    """Lays out the ticket's panels; ``panel_toggle`` (shown on a narrow window) swaps the side panel."""

    def __init__(
        self, header: TicketHeader, client_bar: QWidget, lines: QWidget, totals: QWidget, actions: QWidget
    ) -> None:
        super().__init__()
        self.setObjectName("card")
        outer = QVBoxLayout(self)
        upper = QWidget()
        upper.setObjectName("ticketScrollContents")
        layout = QVBoxLayout(upper)
        layout.setContentsMargins(0, 0, 0, 0)
        self.scroll_area = name(QScrollArea(), "ticketScrollArea", "Ticket")
        self.scroll_area.setWidget(upper)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        set_keys(self.scroll_area, "horizontalScrollBarPolicy", "ScrollBarAlwaysOff")
        # The viewport is transparent by the style sheet (#qt_scrollarea_viewport): asking for
        # viewport() here made PySide6 build types the first frame does not otherwise need (~10 ms).
        outer.addWidget(self.scroll_area, 1)
        self.panel_toggle = name(
            QPushButton("Services today"), "sidePanelToggleButton", "Show today's services"
        )
        self.panel_toggle.setCheckable(True)
        self.panel_toggle.hide()
        header.add_beside_status(self.panel_toggle)
        layout.addWidget(header)
        layout.addWidget(client_bar)
        layout.addWidget(lines, 1)
        footer = name(QWidget(), "ticketFooter", "Totals and actions")
        footer_layout = QVBoxLayout(footer)
        footer_layout.setContentsMargins(0, 0, 0, 0)
        footer_layout.addWidget(totals)
        footer_layout.addWidget(actions)
        outer.addWidget(footer)

    def fit_side_panels(self, narrow: bool, catalog: QWidget, services: QWidget) -> None:
        """Both side panels on a wide window; on a narrow one, the catalog or (toggled) the services."""
        show_services = self.panel_toggle.isChecked()
        self.panel_toggle.setVisible(narrow)
        self.panel_toggle.setText("Catalog" if show_services else "Services today")
        self.panel_toggle.setAccessibleName("Show the catalog" if show_services else "Show today's services")
        catalog.setVisible(not narrow or not show_services)
        services.setVisible(not narrow or show_services)
