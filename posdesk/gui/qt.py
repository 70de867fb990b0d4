"""The one module that imports PySide6: the rest of ``posdesk.gui`` imports Qt names from here.

Keeping Qt behind one door means a binding or version change touches one file, and the architecture
test can check that nothing outside ``posdesk.gui`` pulls Qt in.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

# What this module's own helpers need; every other name is made when first used (``__getattr__``
# below): PySide6 creates a class's Python type on first access, about 0.3-1 ms each, and the first
# frame uses about half of these names. The rest are made when a screen that uses them is imported.
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QLabel, QWidget

if TYPE_CHECKING:
    from PySide6.QtCore import (
        QBuffer,
        QByteArray,
        QDate,
        QEvent,
        QIODevice,
        QLocale,
        QModelIndex,
        QObject,
        QPersistentModelIndex,
        QPoint,
        QRect,
        QRegularExpression,
        QSize,
        QSortFilterProxyModel,
        Qt,
        QThread,
        QTimer,
        QUrl,
        Signal,
        Slot,
    )
    from PySide6.QtGui import (
        QAction,
        QClipboard,
        QCloseEvent,
        QColor,
        QDesktopServices,
        QFont,
        QGuiApplication,
        QIcon,
        QKeySequence,
        QPalette,
        QPixmap,
        QRegularExpressionValidator,
        QResizeEvent,
        QShortcut,
        QShowEvent,
        QStandardItem,
        QStandardItemModel,
    )
    from PySide6.QtWidgets import (
        QAbstractItemView,
        QApplication,
        QButtonGroup,
        QCheckBox,
        QComboBox,
        QDateEdit,
        QDialog,
        QDialogButtonBox,
        QDoubleSpinBox,
        QFileDialog,
        QFormLayout,
        QFrame,
        QGridLayout,
        QGroupBox,
        QHBoxLayout,
        QHeaderView,
        QInputDialog,
        QLabel,
        QLineEdit,
        QListWidget,
        QListWidgetItem,
        QMainWindow,
        QMenu,
        QMenuBar,
        QMessageBox,
        QPlainTextEdit,
        QPushButton,
        QRadioButton,
        QScrollArea,
        QSizePolicy,
        QSpinBox,
        QSplitter,
        QStackedWidget,
        QStatusBar,
        QStyledItemDelegate,
        QStyleOptionViewItem,
        QTableWidget,
        QTableWidgetItem,
        QTabWidget,
        QToolButton,
        QToolTip,
        QTreeWidget,
        QTreeWidgetItem,
        QVBoxLayout,
        QWidget,
    )

_HOMES = {
    **dict.fromkeys(
        (
            "QBuffer",
            "QByteArray",
            "QDate",
            "QEvent",
            "QIODevice",
            "QLocale",
            "QModelIndex",
            "QObject",
            "QPersistentModelIndex",
            "QPoint",
            "QRect",
            "QRegularExpression",
            "QSize",
            "QSortFilterProxyModel",
            "Qt",
            "QThread",
            "QTimer",
            "QUrl",
            "Signal",
            "Slot",
        ),
        "PySide6.QtCore",
    ),
    **dict.fromkeys(
        (
            "QAction",
            "QClipboard",
            "QCloseEvent",
            "QColor",
            "QDesktopServices",
            "QFont",
            "QGuiApplication",
            "QIcon",
            "QKeySequence",
            "QPalette",
            "QPixmap",
            "QRegularExpressionValidator",
            "QResizeEvent",
            "QShortcut",
            "QShowEvent",
            "QStandardItem",
            "QStandardItemModel",
        ),
        "PySide6.QtGui",
    ),
    **dict.fromkeys(
        (
            "QAbstractItemView",
            "QApplication",
            "QButtonGroup",
            "QCheckBox",
            "QComboBox",
            "QDateEdit",
            "QDialog",
            "QDialogButtonBox",
            "QDoubleSpinBox",
            "QFileDialog",
            "QFormLayout",
            "QFrame",
            "QGridLayout",
            "QGroupBox",
            "QHBoxLayout",
            "QHeaderView",
            "QInputDialog",
            "QLabel",
            "QLineEdit",
            "QListWidget",
            "QListWidgetItem",
            "QMainWindow",
            "QMenu",
            "QMenuBar",
            "QMessageBox",
            "QPlainTextEdit",
            "QPushButton",
            "QRadioButton",
            "QScrollArea",
            "QSizePolicy",
            "QSpinBox",
            "QSplitter",
            "QStackedWidget",
            "QStatusBar",
            "QStyledItemDelegate",
            "QStyleOptionViewItem",
            "QTableWidget",
            "QTableWidgetItem",
            "QTabWidget",
            "QToolButton",
            "QToolTip",
            "QTreeWidget",
            "QTreeWidgetItem",
            "QVBoxLayout",
            "QWidget",
        ),
        "PySide6.QtWidgets",
    ),
}

__all__ = [
    "QAbstractItemView",
    "QAction",
    "QApplication",
    "QBuffer",
    "QButtonGroup",
    "QByteArray",
    "QCheckBox",
    "QClipboard",
    "QCloseEvent",
    "QColor",
    "QComboBox",
    "QDate",
    "QDateEdit",
    "QDesktopServices",
    "QDialog",
    "QDialogButtonBox",
    "QDoubleSpinBox",
    "QEvent",
    "QFileDialog",
    "QFont",
    "QFormLayout",
    "QFrame",
    "QGridLayout",
    "QGroupBox",
    "QGuiApplication",
    "QHBoxLayout",
    "QHeaderView",
    "QIODevice",
    "QIcon",
    "QInputDialog",
    "QKeySequence",
    "QLabel",
    "QLineEdit",
    "QListWidget",
    "QListWidgetItem",
    "QLocale",
    "QMainWindow",
    "QMenu",
    "QMenuBar",
    "QMessageBox",
    "QModelIndex",
    "QObject",
    "QPalette",
    "QPersistentModelIndex",
    "QPixmap",
    "QPlainTextEdit",
    "QPoint",
    "QPushButton",
    "QRadioButton",
    "QRect",
    "QRegularExpression",
    "QRegularExpressionValidator",
    "QResizeEvent",
    "QScrollArea",
    "QShortcut",
    "QShowEvent",
    "QSize",
    "QSizePolicy",
    "QSortFilterProxyModel",
    "QSpinBox",
    "QSplitter",
    "QStackedWidget",
    "QStandardItem",
    "QStandardItemModel",
    "QStatusBar",
    "QStyleOptionViewItem",
    "QStyledItemDelegate",
    "QTabWidget",
    "QTableWidget",
    "QTableWidgetItem",
    "QThread",
    "QTimer",
    "QToolButton",
    "QToolTip",
    "QTreeWidget",
    "QTreeWidgetItem",
    "QUrl",
    "QVBoxLayout",
    "QWidget",
    "Qt",
    "Signal",
    "Slot",
]


def __getattr__(attribute: str) -> Any:
    """A Qt name, made on first use and kept (later look-ups are plain module attributes)."""
    home = _HOMES.get(attribute)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")
    value = getattr(importlib.import_module(home), attribute)
    globals()[attribute] = value
    return value


_Named = TypeVar("_Named", bound=QObject)


def name(widget: _Named, object_name: str, accessible: str | None = None) -> _Named:
    """Give a control its stable objectName and an accessible name (tests and screen readers use both)."""
    widget.setObjectName(object_name)
    if isinstance(widget, QWidget):
        widget.setAccessibleName(accessible or object_name)
    return widget


def plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A label that never interprets rich text: client and item names are user-supplied."""
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
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
    from PySide6.QtWidgets import QDialogButtonBox  # a module attribute, made on first use (see above)

    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
    buttons.addButton(button, QDialogButtonBox.ButtonRole.AcceptRole)
    button.clicked.connect(on_click)
    buttons.rejected.connect(dialog.reject)
    return buttons
