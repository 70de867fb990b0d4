"""Manage > Needs review (manager PIN): everything of the store waiting for a manager's review, from the
companion (every terminal's): payments kept for review (settled from their ticket: Open the ticket, then
Review…) and gateway reports that name no payment the companion recorded, which the manager checks at the
gateway's dashboard and marks handled with a note. Every terminal is told when one is handled."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from posdesk.gui.context import PosContext
from posdesk.gui.dialog import PosDialog
from posdesk.gui.operations import QueryOp
from posdesk.gui.qt import (
    QDialogButtonBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from posdesk.gui.widgets import name, plain_label, wrapped_label
from posdesk.pos.payment_reviews import KeptPayment, KeptReport, StoreReviews, handle_report, store_reviews

log = logging.getLogger(__name__)



def _with_ticket_numbers(ctx: PosContext, reviews: StoreReviews) -> tuple[StoreReviews, dict[str, int]]:
    """The reviews and the number of each ticket they name that this terminal knows (off the UI thread)."""
    numbers: dict[str, int] = {}
    ticket_ids = {t for t, _ in reviews.payments} | {r.ticket_id for r in reviews.reports}
    for ticket_id in ticket_ids - {""}:
        with contextlib.suppress(KeyError):  # a ticket of another terminal not synced here yet
            numbers[ticket_id] = ctx.backend.load_ticket(ticket_id).number
    return reviews, numbers


class ReviewListDialog(PosDialog):
    """The store's list of what waits for a manager's review.

    Signals:
        loaded(object): the :class:`StoreReviews` now shown.
        handled(object): the companion's answer once a report was marked handled.
        open_ticket(str): the manager chose to open the ticket of the selected item.
    """

    loaded = Signal(object)
    handled = Signal(object)
    open_ticket = Signal(str)

    def __init__(self, ctx: PosContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, "reviewListDialog", "Needs review", parent)
        self.reviews = StoreReviews([], [])
        self.busy = False
        layout = QVBoxLayout(self)
        self.count_label = name(plain_label("Loading…"), "reviewCountLabel", "How many wait for a review")
        layout.addWidget(self.count_label)
        self.list = name(QListWidget(), "reviewList", "Payments and gateway reports kept for review")
        self.list.currentItemChanged.connect(lambda *_: self._selected())
        layout.addWidget(self.list, 1)
        self.reason = wrapped_label("reviewReason", "Why it needs a review")
        layout.addWidget(self.reason)
        row = QHBoxLayout()
        self.note_edit = name(QLineEdit(), "reviewNoteEdit", "What you found at the gateway or did")
        self.note_edit.setPlaceholderText("What you found at the gateway's dashboard, what you did")
        self.note_edit.textChanged.connect(lambda _t: self._selected())
        row.addWidget(self.note_edit, 1)
        self.handle_button = name(QPushButton("Mark handled"), "handleReportButton", "Mark the report handled")
        self.handle_button.clicked.connect(self.handle_selected)
        row.addWidget(self.handle_button)
        layout.addLayout(row)
        self.message = wrapped_label("reviewListMessage", "Review message")
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.open_button = name(QPushButton("Open the ticket"), "openReviewTicketButton", "Open the ticket")
        self.open_button.clicked.connect(self._open_ticket)
        buttons.addButton(self.open_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(620, 420)
        self._selected()
        self.load()

    def load(self) -> None:
        connection, ctx = self.ctx.connection, self.ctx
        if not (connection.configured and connection.online):
            self.count_label.setText("The companion is not reachable: the review list is kept there")
            return
        url, vault = connection.url, ctx.vault
        QueryOp(
            "store reviews", lambda: _with_ticket_numbers(ctx, store_reviews(url, vault.load(url) or ""))
        ).success(lambda found: self._show(*found)).failure(
            lambda error: self.count_label.setText(f"The review list could not be read: {error}")
        ).run_in_background(ctx)

    def _show(self, reviews: StoreReviews, numbers: dict[str, int]) -> None:
        self.reviews = reviews
        self.list.clear()
        locale = self.ctx.locale
        for ticket_id, payment in reviews.payments:
            self._add(f"{_ticket_words(numbers, ticket_id)} · {_payment_words(payment, locale)}", payment, ticket_id)
        for report in reviews.reports:
            self._add(f"{_ticket_words(numbers, report.ticket_id)} · {report.describe(locale)}", report, report.ticket_id)
        self.count_label.setText(
            f"{reviews.count} waiting for a manager's review" if reviews.count else "Nothing waits for a review"
        )
        if reviews.count:
            self.list.setCurrentRow(0)
        self._selected()
        self.loaded.emit(reviews)

    def _add(self, text: str, kept: KeptPayment | KeptReport, ticket_id: str) -> None:
        item = QListWidgetItem(text)
        item.setData(Qt.ItemDataRole.UserRole, (kept, ticket_id))
        self.list.addItem(item)

    def selected(self) -> tuple[KeptPayment | KeptReport, str] | None:
        item = self.list.currentItem()
        if item is None:
            return None
        kept, ticket_id = item.data(Qt.ItemDataRole.UserRole)
        return kept, str(ticket_id)

    def _selected(self) -> None:
        chosen = self.selected()
        kept, ticket_id = chosen if chosen is not None else (None, "")
        self.reason.setText(kept.reason if kept is not None else "")
        is_report = isinstance(kept, KeptReport)
        self.note_edit.setEnabled(is_report and not self.busy)
        self.handle_button.setEnabled(is_report and not self.busy and bool(self.note_edit.text().strip()))
        self.open_button.setEnabled(bool(ticket_id))
        if isinstance(kept, KeptPayment):
            self.message.setText("Open its ticket and choose Review… to settle this payment.")
        elif is_report:
            self.message.setText(
                "No payment of ours: check it at the gateway's dashboard (the money may have been taken), "
                "then say what you found or did and mark it handled."
            )

    def handle_selected(self) -> None:
        chosen = self.selected()
        if self.busy or chosen is None or not isinstance(chosen[0], KeptReport):
            return
        note, report = self.note_edit.text().strip(), chosen[0]
        if not note:
            return
        connection = self.ctx.connection
        url, vault = connection.url, self.ctx.vault
        self.busy = True
        self._selected()
        QueryOp(
            "handle gateway report", lambda: handle_report(url, vault.load(url) or "", report.report_id, note)
        ).success(self._on_handled).failure(self._on_failed).run_in_background(self.ctx)

    def _on_handled(self, answer: dict[str, Any]) -> None:
        self.busy = False
        self.note_edit.clear()
        self.ctx.wake_sync()
        self.handled.emit(answer)
        self.load()
        self.message.setText("Marked handled.")

    def _on_failed(self, error: Exception) -> None:
        self.busy = False
        self._selected()
        self.message.setText(f"Not handled: {getattr(error, 'detail', None) or error}")

    def _open_ticket(self) -> None:
        chosen = self.selected()
        if chosen is not None and chosen[1]:
            self.open_ticket.emit(chosen[1])
            self.accept()


def _ticket_words(numbers: dict[str, int], ticket_id: str) -> str:
    if not ticket_id:
        return "No ticket of this store"
    number = numbers.get(ticket_id)
    return f"Ticket #{number}" if number is not None else "A ticket of another terminal"


def _payment_words(payment: KeptPayment, locale: str) -> str:
    return f"{payment.method_words} {(payment.amount + payment.tip).format(locale)}"


def open_review_list(window: Any) -> None:
    """Manage > Needs review: behind the manager PIN, as refunds; Open the ticket shows it in the window."""
    from posdesk.gui.manager_pin import with_manager_pin

    def review_list() -> ReviewListDialog:
        dialog = ReviewListDialog(window.ctx, window)
        dialog.open_ticket.connect(window.open_ticket)
        dialog.loaded.connect(lambda reviews: window.show_review_count(reviews.count))
        return dialog

    with_manager_pin(window.ctx, window, review_list, purpose="payment reviews")


def refresh_count(ctx: PosContext, show: Callable[[int], object]) -> None:
    """Ask the companion (off the UI thread) how many wait for a review, and ``show`` the count."""
    connection = ctx.connection
    if not (connection.configured and connection.online):
        return
    url, vault = connection.url, ctx.vault
    QueryOp("store reviews count", lambda: store_reviews(url, vault.load(url) or "").count).success(
        show
    ).failure(lambda error: log.info("review count not read: %s", error)).run_in_background(ctx)
