"""The one module that imports PySide6: the rest of ``posdesk.gui`` imports Qt names from here.

Keeping Qt behind one door means a binding or version change touches one file, and the architecture
test can check that nothing outside ``posdesk.gui`` pulls Qt in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# What posdesk.gui.widgets needs at once; every other name is made when first used (``__getattr__``
# below): PySide6 creates a class's Python type on first access, about 0.3-1 ms each, and the first
# frame uses about half of these names. The rest are made when a screen that uses them is imported.
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QWidget

# The first screen does without ``Qt``, Qt's namespace: the first touch of it makes all of its 93 Python
# enums (1,200 members, Python's enum machinery), ~25 ms of start-up. Every module the first frame
# imports names what it needs of it in one of two ways instead (the other screens use ``Qt`` freely):
# - an enum or flags property, by its keys' names, which Qt converts: ``posdesk.gui.widgets.set_keys``;
# - an item's data role, an item's alignment (as item data) and a text flag, as the int Qt keeps for
#   them, below.
# Some PySide calls make the namespace on their own, to try an overload that takes one of its enums:
# ``QSplitter(parent)`` (give ``parent=``), ``QColor(a_colour)``, ``QAction.setShortcut``.
# tests/gui/test_first_frame_qt_namespace.py checks the first frame never makes it, and these values.
USER_ROLE = 0x0100  # Qt.ItemDataRole.UserRole
TEXT_ALIGNMENT_ROLE = 7  # Qt.ItemDataRole.TextAlignmentRole
FIGURE_ALIGNMENT = 0x0082  # Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter: amounts
TEXT_WORD_WRAP = 0x1000  # Qt.TextFlag.TextWordWrap (QFontMetrics.boundingRect's flags)


def _module_selects_no_feature(module: object) -> bool:
    return False


def _answer_feature_checks_without_reading_source() -> None:
    """Once loaded, PySide6 reads the source of every module imported after it, once per module name, to
    see whether it names PySide6 (``shibokensupport.feature._mod_uses_pyside``, PYSIDE-2029): that says
    which of PySide's optional name styles (``from __feature__ import snake_case, true_property``) the
    module's code sees. posdesk selects none of them, so every module sees Qt's own names whatever the
    answer; reading ~90 files for it was ~8-10 ms of start-up. The answer is the one PySide gives for
    every posdesk module but this one: "does not name PySide6" (a module that selects a feature still
    gets it, from its own ``from __feature__ import``). Another PySide6 without this function keeps its
    own check."""
    try:
        feature: Any = importlib.import_module("shibokensupport.feature")
    except ImportError:
        return
    if callable(getattr(feature, "_mod_uses_pyside", None)):
        feature._mod_uses_pyside = _module_selects_no_feature


_answer_feature_checks_without_reading_source()

if TYPE_CHECKING:
    from PySide6.QtCore import (
        QBuffer,
        QByteArray,
        QDate,
        QEvent,
        QIODevice,
        QItemSelectionModel,
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
        QPaintEvent,
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
            "QItemSelectionModel",
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
            "QPaintEvent",
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
    "QItemSelectionModel",
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
    "QPaintEvent",
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


if not TYPE_CHECKING:  # mypy reads the names above, so a name Qt lacks is its error, not a run-time one

    def __getattr__(attribute: str) -> Any:
        """A Qt name, made on first use and kept (later look-ups are plain module attributes)."""
        home = _HOMES.get(attribute)
        if home is None:
            raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")
        value = getattr(importlib.import_module(home), attribute)
        globals()[attribute] = value
        return value
