"""The panels the New Ticket view is composed of (catalog, client bar, lines, totals and payments,
services), each a small widget that shows what it is given and says what the cashier asked for by
signal; :class:`posdesk.gui.new_ticket_view.NewTicketView` wires them to the ticket editor
(:mod:`posdesk.pos.editor`)."""

from __future__ import annotations

from posdesk.gui.qt import USER_ROLE, QApplication, QFrame, QLabel, QWidget

ITEM_ROLE = USER_ROLE


def card(parent: QWidget | None = None) -> QFrame:
    frame = QFrame(parent)
    frame.setObjectName("card")
    return frame


def section_title(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("sectionTitle")
    return label


def repolish(widget: QWidget) -> None:
    """Re-apply the style sheet after a dynamic property (``tone``, ``invalid``, ``active``) changed."""
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def by_keyboard() -> bool:
    """True when an ``activated`` signal came from the keyboard (Enter), not from a double-click.

    Item views emit ``activated`` on a double-click too; a panel that also acts on clicks would act
    twice. During a double-click a mouse button is down; during Enter none is.
    """
    return not QApplication.mouseButtons()  # Qt.MouseButton.NoButton, the one false value
