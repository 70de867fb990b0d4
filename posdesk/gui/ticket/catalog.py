"""The catalog panel: the store's items grouped by kind, a filter, and Add to ticket."""

from __future__ import annotations

from posdesk.core.catalog import CatalogItem, ItemKind
from posdesk.gui.qt import (
    FIGURE_ALIGNMENT,
    TEXT_ALIGNMENT_ROLE,
    TEXT_WORD_WRAP,
    QEvent,
    QFrame,
    QHeaderView,
    QItemSelectionModel,
    QLineEdit,
    QModelIndex,
    QPersistentModelIndex,
    QPushButton,
    QRect,
    QSize,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
    Signal,
)
from posdesk.gui.ticket import ITEM_ROLE, section_title
from posdesk.gui.widgets import name, set_keys, settle

KIND_GROUPS = (
    (ItemKind.APPOINTMENT, "Services"),
    (ItemKind.CLASS, "Classes"),
    (ItemKind.PRODUCT, "Products"),
    (ItemKind.MEMBERSHIP, "Memberships"),
    (ItemKind.PACKAGE, "Packages"),
    (ItemKind.GIFT_CARD, "Gift cards"),
)


class _WrappedNames(QStyledItemDelegate):
    """Item names wrap onto more lines instead of being cut: a row is as tall as its name needs."""

    def __init__(self, tree: QTreeWidget) -> None:
        super().__init__(tree)
        self.tree = tree

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        hint = super().sizeHint(option, index)
        if not index.parent().isValid():  # a group's caption
            return hint
        width = max(40, self.tree.columnWidth(0) - 2 * self.tree.indentation() - 8)
        text = str(index.data() or "")
        needed = option.fontMetrics.boundingRect(QRect(0, 0, width, 10_000), TEXT_WORD_WRAP, text)
        return QSize(hint.width(), max(hint.height(), needed.height() + 10))


class _CatalogTree(QTreeWidget):
    """The catalog's tree, whose group captions are headings: clicking one, or moving onto it, selects
    nothing (what an item without ``Qt.ItemFlag.ItemIsSelectable`` does; its flags would need the ``Qt``
    namespace at start-up, see :mod:`posdesk.gui.qt`)."""

    def selectionCommand(
        self, index: QModelIndex | QPersistentModelIndex, event: QEvent | None = None
    ) -> QItemSelectionModel.SelectionFlag:
        if index.isValid() and not index.parent().isValid():
            return QItemSelectionModel.SelectionFlag.Clear
        return super().selectionCommand(index, event)


class CatalogPanel(QFrame):
    """Items to sell. One item per double-click, Enter or Add to ticket.

    Signals:
        item_requested(object): the cashier asked to add this :class:`CatalogItem`.
    """

    item_requested = Signal(object)

    def __init__(self, locale: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.money_locale = locale
        self.items: list[CatalogItem] = []
        self.setObjectName("card")
        layout = QVBoxLayout(self)
        layout.addWidget(section_title("Catalog"))
        self.filter = name(QLineEdit(), "catalogFilterEdit", "Filter catalog")
        self.filter.setPlaceholderText("Filter items…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._on_filter)
        layout.addWidget(self.filter)
        self.browser = name(_CatalogTree(), "catalogBrowser", "Catalog")
        self.browser.setColumnCount(2)
        self.browser.setHeaderLabels(["Item", "Price"])
        self.browser.setRootIsDecorated(True)
        # Names show in full, wrapped, in a narrow pane: "Argan repair conditioner" and "Argan repair mask"
        # must not both read "Argan repa…".
        self.browser.setUniformRowHeights(False)
        self.browser.setWordWrap(True)
        set_keys(self.browser, "textElideMode", "ElideNone")
        # The names' column only: the prices keep Qt's own delegate, measured without calling Python.
        self.browser.setItemDelegateForColumn(0, _WrappedNames(self.browser))
        header = self.browser.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        # Rows re-measure their wrapped names when the pane's width changes.
        header.sectionResized.connect(lambda *_: self.browser.doItemsLayout())
        # ``itemActivated`` alone: it comes once for a double-click and for Enter (itemDoubleClicked too
        # would add a double-clicked item twice).
        self.browser.itemActivated.connect(self._on_activated)
        layout.addWidget(self.browser, 1)
        self.add_button = name(QPushButton("Add to ticket"), "addItemButton", "Add item to ticket")
        self.add_button.clicked.connect(self._on_add_clicked)
        layout.addWidget(self.add_button)

    def show_items(self, items: list[CatalogItem]) -> None:
        self.items = [item for item in items if item.active]
        self.browser.clear()
        for kind, caption in KIND_GROUPS:
            group = QTreeWidgetItem([caption, ""])  # a heading: never selected (_CatalogTree)
            self.browser.addTopLevelItem(group)
            for item in sorted((i for i in self.items if i.kind is kind), key=lambda i: i.name):
                price = (
                    "Any amount"
                    if kind is ItemKind.GIFT_CARD and item.price.is_zero()
                    else item.price.format(self.money_locale)
                )
                row = QTreeWidgetItem([item.name, price])
                row.setData(0, ITEM_ROLE, item.id)
                row.setToolTip(0, f"{item.name} · {price}")  # names elide in a narrow pane
                row.setData(1, TEXT_ALIGNMENT_ROLE, FIGURE_ALIGNMENT)
                group.addChild(row)
            group.setExpanded(True)
        self._on_filter(self.filter.text())
        settle(self.browser)  # rows measured (their wrapped names) and the scroll bar shown now

    def item(self, item_id: str) -> CatalogItem:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def set_editable(self, editable: bool) -> None:
        self.browser.setEnabled(editable)
        self.add_button.setEnabled(editable)

    def _on_filter(self, text: str) -> None:
        needle = text.strip().casefold()
        for g in range(self.browser.topLevelItemCount()):
            group = self.browser.topLevelItem(g)
            assert group is not None  # g < topLevelItemCount()
            visible = 0
            for c in range(group.childCount()):
                child = group.child(c)
                assert child is not None  # c < childCount()
                hidden = bool(needle) and needle not in child.text(0).casefold()
                child.setHidden(hidden)
                visible += not hidden
            group.setHidden(visible == 0)

    def _on_activated(self, row: QTreeWidgetItem, _column: int = 0) -> None:
        item_id = row.data(0, ITEM_ROLE)
        if item_id:
            self.item_requested.emit(self.item(item_id))

    def _on_add_clicked(self) -> None:
        row = self.browser.currentItem()
        if row is not None:
            self._on_activated(row)
