"""Manage > Day summary (manager PIN): the day's takings by tender, tips by provider, refunds, open
balances and links awaiting payment, from the companion (every terminal) or, when it cannot be asked,
from this terminal's cache, saying which; exported as CSV."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from posdesk.core.day_summary import DaySummary
from posdesk.gui.context import PosContext
from posdesk.gui.dialog import PosDialog
from posdesk.gui.operations import QueryOp
from posdesk.gui.qt import (
    QDate,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
    Signal,
)
from posdesk.gui.tables import cell, figures_table
from posdesk.gui.widgets import name, wrapped_label
from posdesk.pos.day_summary import companion_day_summary, summary_csv

SOURCE_WORDS = {
    "companion": "Figures from the companion: every terminal of the store.",
    "terminal": "The companion could not be asked: figures from this terminal only.",
}


class DaySummaryDialog(PosDialog):
    """A chosen day's summary.

    Signals:
        loaded(object): the :class:`DaySummary` now shown.
    """

    loaded = Signal(object)

    def __init__(self, ctx: PosContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, "daySummaryDialog", "Day summary", parent)
        self.summary: DaySummary | None = None
        self.loading = False
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        today = ctx.today()
        self.date_edit = name(
            QDateEdit(QDate(today.year, today.month, today.day)), "daySummaryDateEdit", "Day"
        )
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("yyyy-MM-dd")
        self.date_edit.dateChanged.connect(lambda _d: self.load())
        row.addWidget(self.date_edit)
        row.addStretch(1)
        self.export_button = name(QPushButton("Export CSV…"), "exportCsvButton", "Export the summary as CSV")
        self.export_button.clicked.connect(self._on_export)
        row.addWidget(self.export_button)
        layout.addLayout(row)
        self.source = wrapped_label("daySummarySourceLabel", "Where the figures come from")
        layout.addWidget(self.source)
        self.table = figures_table("daySummaryTable", "Day summary figures", ["", "", "Amount"], stretch=1)
        layout.addWidget(self.table, 1)
        self.resize(520, 520)
        self.load()

    @property
    def day(self) -> date:
        chosen = self.date_edit.date()
        return date(chosen.year(), chosen.month(), chosen.day())

    def load(self) -> None:
        """Ask the companion when online; this terminal's cache otherwise (or when the companion fails)."""
        self.loading = True
        self.export_button.setEnabled(False)
        self.source.setText("Loading…")
        day, connection = self.day, self.ctx.connection
        if connection.configured and connection.online:
            url, vault, tz = connection.url, self.ctx.vault, self.ctx.timezone
            QueryOp(
                "day summary", lambda: companion_day_summary(url, vault.load(url) or "", day, tz)
            ).success(self._show).failure(lambda _error: self._load_local(day)).run_in_background(self.ctx)
        else:
            self._load_local(day)

    def _load_local(self, day: date) -> None:
        backend, tz, settings = self.ctx.backend, self.ctx.timezone, self.ctx.settings
        QueryOp("day summary (this terminal)", lambda: backend.day_summary(day, tz, settings)).success(
            self._show
        ).run_in_background(self.ctx)

    def _show(self, summary: DaySummary) -> None:
        if summary.day != self.day:
            return  # an answer for a day no longer chosen
        self.summary = summary
        self.loading = False
        self.source.setText(SOURCE_WORDS.get(summary.source, summary.source))
        rows = summary.rows(self.ctx.locale)
        self.table.setRowCount(len(rows))
        for index, cells in enumerate(rows):
            for column, text in enumerate(cells):
                self.table.setItem(index, column, cell(text, figure=column == 2))
        self.export_button.setEnabled(True)
        self.loaded.emit(summary)

    def figure(self, section: str, item: str) -> str:
        """The amount shown for (section, item), e.g. ("Takings", "Cash"); "" when absent."""
        for row in range(self.table.rowCount()):
            cells = [self.table.item(row, c) for c in range(3)]
            if all(cells) and (cells[0].text(), cells[1].text()) == (section, item):  # type: ignore[union-attr]
                return cells[2].text()  # type: ignore[union-attr]
        return ""

    def export_csv(self, path: Path) -> Path:
        assert self.summary is not None
        path.write_text(summary_csv(self.summary, self.ctx.locale), encoding="utf-8")
        return path

    def _on_export(self) -> None:
        if self.summary is None:
            return
        suggested = f"day-summary-{self.summary.day.isoformat()}.csv"
        chosen, _filter = QFileDialog.getSaveFileName(
            self, "Export day summary", suggested, "CSV files (*.csv)"
        )
        if chosen:
            self.export_csv(Path(chosen))
