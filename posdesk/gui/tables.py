"""The POS's tables of figures (payments, tip shares, the day summary), built alike: column headers and
no row numbers, one column taking the room left, amounts aligned right."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from posdesk.gui.qt import (
    FIGURE_ALIGNMENT,
    TEXT_ALIGNMENT_ROLE,
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
)
from posdesk.gui.widgets import name


def figures_table(
    object_name: str, accessible: str, headers: Sequence[str], *, stretch: int, fit: Iterable[int] = ()
) -> QTableWidget:
    """A table with ``headers``, read-only until told otherwise: column ``stretch`` takes the room left,
    the ``fit`` columns are as wide as their contents."""
    table = name(QTableWidget(0, len(headers)), object_name, accessible)
    table.setHorizontalHeaderLabels(list(headers))
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    header = table.horizontalHeader()
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    for column in fit:
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    return table


def cell(text: str, *, figure: bool = False) -> QTableWidgetItem:
    """A cell showing ``text``; a figure (an amount) is aligned right, as in a ledger."""
    item = QTableWidgetItem(text)
    if figure:
        item.setData(TEXT_ALIGNMENT_ROLE, FIGURE_ALIGNMENT)
    return item
