"""How the POS makes its widgets: every control users act on has a stable objectName and accessible
name, labels never interpret rich text, a dialog's one action has Cancel beside it.

Qt's own names come from :mod:`posdesk.gui.qt`; these are the POS's conventions on top of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from posdesk.gui.qt import QApplication, QEvent, QHBoxLayout, QLabel, QObject, QWidget

if TYPE_CHECKING:
    from posdesk.gui.qt import QAbstractItemView, QDialog, QDialogButtonBox, QPushButton

_Named = TypeVar("_Named", bound=QObject)


def name(widget: _Named, object_name: str, accessible: str | None = None) -> _Named:
    """Give a control its stable objectName and an accessible name (tests and screen readers use both)."""
    widget.setObjectName(object_name)
    if isinstance(widget, QWidget):
        widget.setAccessibleName(accessible or object_name)
    return widget


def set_keys(target: QObject, prop: str, keys: str) -> None:
    """Set the enum or flags property ``prop`` of ``target`` by its keys' names, as Qt names them
    ("AlignRight|AlignVCenter"): Qt converts them itself, so the first screen needs no ``Qt`` namespace
    (see :mod:`posdesk.gui.qt`). A name Qt does not know is an error, not a silent no-op."""
    if not target.setProperty(prop, keys):
        raise ValueError(f"{type(target).__name__} has no property {prop!r} taking {keys!r}")


def settle(view: QAbstractItemView) -> None:
    """Lay out a view's rows, and show or hide its scroll bars, now that it is filled.

    The view would do both later: its rows in a deferred layout, its scroll bars from a queued call
    that each change of a scroll bar's range posts (QAbstractScrollArea). Filled for the first frame,
    each came after that frame as a second layout and paint of the view.
    """
    view.doItemsLayout()
    QApplication.sendPostedEvents(view, QEvent.Type.MetaCall)


def plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A label that never interprets rich text: client and item names are user-supplied."""
    label = QLabel(parent)
    set_keys(label, "textFormat", "PlainText")
    label.setText(text)
    return label


def wrapped_label(object_name: str, accessible: str, text: str = "") -> QLabel:
    """A named plain-text label that wraps: a note or an answer a sentence or two long."""
    label = name(plain_label(text), object_name, accessible)
    label.setWordWrap(True)
    return label


def message_label(accessible: str) -> QLabel:
    """Where a dialog or panel says what went wrong (objectName ``errorMessage``, plain text, wrapped)."""
    return wrapped_label("errorMessage", accessible)


def cancel_or(dialog: QDialog, button: QPushButton, on_click: Callable[[], object]) -> QDialogButtonBox:
    """Cancel beside ``button``, the dialog's one action: ``on_click`` runs on it, Cancel rejects."""
    from posdesk.gui.qt import QDialogButtonBox  # made on first use (see posdesk.gui.qt)

    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
    buttons.addButton(button, QDialogButtonBox.ButtonRole.AcceptRole)
    button.clicked.connect(on_click)
    buttons.rejected.connect(dialog.reject)
    return buttons


def button_row(*buttons: QWidget) -> QHBoxLayout:
    """``buttons`` side by side at the right end of a row, in this order (where a dialog's actions go)."""
    row = QHBoxLayout()
    row.addStretch(1)
    for button in buttons:
        row.addWidget(button)
    return row
