"""A manager's decision on an online payment kept for review (behind the manager PIN): count it toward
the invoice, refund it, or dismiss it as not charged; money taken at the counter is counted, or given
back at the counter (recorded as a counter refund). The companion asks the gateway first and refuses a
decision its answer does not allow; the result reaches every terminal through the event stream."""

from __future__ import annotations

from typing import Any

from posdesk.gui.context import PosContext
from posdesk.gui.dialog import PosDialog, ticket_title
from posdesk.gui.operations import QueryOp
from posdesk.gui.qt import QDialogButtonBox, QPushButton, QVBoxLayout, QWidget, Signal
from posdesk.gui.widgets import message_label, name, plain_label, wrapped_label
from posdesk.pos.payment_reviews import DECISION_WORDS, Decision, KeptPayment, settle

BUTTONS = (
    (
        Decision.COUNT,
        "countPaymentButton",
        "Count toward the invoice",
        "Count it toward the invoice (the gateway must confirm the money)",
    ),
    (
        Decision.REFUND,
        "refundKeptPaymentButton",
        "Refund it",
        "Give the money back to the card; it is not counted",
    ),
    (
        Decision.DISMISS,
        "dismissPaymentButton",
        "Not charged: dismiss",
        "Dismiss it (only when the gateway has no record of a charge)",
    ),
)
COUNTER_BUTTONS = (
    (Decision.COUNT, "countPaymentButton", "Count it", "Keep the money taken at the counter"),
    (
        Decision.GIVEN_BACK,
        "givenBackButton",
        "Cash given back",
        "The money was handed back to the client at the counter: recorded as a counter refund",
    ),
)


BUTTON_DECISIONS = tuple(b[0] for b in BUTTONS)


class ReviewDialog(PosDialog):
    """One decision on one payment kept for review.

    Signals:
        settled(object): the companion's answer (a dict: ``settled_as``, ``status``...) once it settled it.
    """

    settled = Signal(object)

    def __init__(
        self, ctx: PosContext, ticket_number: int, kept: KeptPayment, parent: QWidget | None = None
    ) -> None:
        what = "Review a payment"
        super().__init__(ctx, "reviewDialog", what, parent, title=ticket_title(what, ticket_number))
        self.kept = kept
        self.busy = False
        self.note = ""  # what the cashier is told once the dialog closes
        layout = QVBoxLayout(self)
        layout.addWidget(plain_label(f"{kept.method_words} · {(kept.amount + kept.tip).format(ctx.locale)}"))
        self.reason = wrapped_label("reviewReason", "Why it needs a review", kept.reason)
        layout.addWidget(self.reason)
        self.error = message_label("Review message")
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.decisions: dict[Decision, QPushButton] = {}
        for decision, object_name, text, tip in BUTTONS if kept.decisions == BUTTON_DECISIONS else COUNTER_BUTTONS:
            if decision is Decision.GIVEN_BACK and kept.method != "cash":
                text = "Given back at the counter"
            button = name(QPushButton(text), object_name, text)
            button.setToolTip(tip)
            button.clicked.connect(lambda _checked=False, d=decision: self.decide(d))
            buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
            self.decisions[decision] = button
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def decide(self, decision: Decision) -> None:
        if self.busy:
            return
        connection = self.ctx.connection
        if not (connection.configured and connection.online):
            self.error.setText(
                "The companion is not reachable: a review is settled online, try again when connected"
            )
            return
        self._busy(True)
        url, vault, payment_id = connection.url, self.ctx.vault, self.kept.payment_id
        QueryOp(
            "settle payment review", lambda: settle(url, vault.load(url) or "", payment_id, decision)
        ).success(lambda answer: self._on_settled(decision, answer)).failure(
            self._on_failed
        ).run_in_background(self.ctx)

    def _on_settled(self, decision: Decision, answer: dict[str, Any]) -> None:
        self.busy = False
        self.note = f"Payment of {(self.kept.amount + self.kept.tip).format(self.ctx.locale)} {DECISION_WORDS[decision]}"
        self.ctx.wake_sync()
        self.settled.emit(answer)
        self.accept()

    def _on_failed(self, error: Exception) -> None:
        self._busy(False)
        detail = getattr(error, "detail", None)
        self.error.setText(f"Not settled: {detail or error}")

    def _busy(self, busy: bool) -> None:
        self.busy = busy
        for button in self.decisions.values():
            button.setEnabled(not busy)
        if busy:
            self.error.setText("Asking the payment gateway…" if self.kept.method == "online_card" else "Recording…")


def open_review(window: Any, payment_id: str) -> None:
    """Review… on a payment kept for review (``window``: the main window): behind the manager PIN, as
    refunds; once settled the ticket asks the companion again and the status bar says what was done."""
    from posdesk.gui.manager_pin import with_manager_pin
    from posdesk.gui.ticket.totals import load_kept_payments

    view = window.ticket_view
    kept = next((k for k in view.totals_panel.kept if k.on_ticket_as == payment_id), None)
    if kept is None:
        return

    def review_dialog() -> ReviewDialog:
        dialog = ReviewDialog(window.ctx, view.ticket.number, kept, window)

        def settled(_answer: object) -> None:
            load_kept_payments(view)
            window.statusBar().showMessage(dialog.note, 8000)

        dialog.settled.connect(settled)
        return dialog

    with_manager_pin(window.ctx, window, review_dialog, purpose="payment reviews")
