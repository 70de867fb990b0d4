"""The main window: POS > New Ticket, the Tickets list, Settings, and the connection indicator."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from posdesk.core.ticket import Ticket
from posdesk.gui.context import PosContext
from posdesk.gui.new_ticket_view import NewTicketView
from posdesk.gui.operations import CollectionOp, OpChanges
from posdesk.gui.qt import (
    QAction,
    QApplication,
    QCloseEvent,
    QEvent,
    QKeySequence,
    QLabel,
    QMainWindow,
    QMenu,
    QPaintEvent,
    QTabWidget,
    QVBoxLayout,
    QWidget,
    Signal,
)
from posdesk.gui.tickets_panel import TicketsPanel
from posdesk.gui.widgets import name, plain_label, set_keys

if TYPE_CHECKING:  # imported when first opened (start-up does without it and the invoice code)
    from posdesk.gui.about_dialog import AboutDialog
    from posdesk.gui.backend import InvoiceInfo
    from posdesk.gui.refund_dialog import RefundDialog
    from posdesk.gui.send_invoice_dialog import SendInvoiceDialog
    from posdesk.gui.tender_dialog import TenderDialog
    from posdesk.pos.tenders import TenderOutcome
    from posdesk.sync.invoice_links import SentLink

# The review list (a dialog and its module) loads when the Manage menu opens, not with the window.
REVIEW_MENU_TEXT = "Needs &Review…"
CONNECTION_WORDS = {
    "online": "● Online",
    "offline": "● Offline: tickets are kept and sent when the connection returns",
    "catching_up": "● Catching up…",
    "unpaired": "● Not paired: pair this terminal in Manage › Settings",
}
# A small terminal, or a large one at 200%: the ticket's totals and actions stay in view down to this.
MINIMUM_SIZE = (800, 540)
LAYOUT_PASSES = 16  # deeper than the window's nesting of layouts (see MainWindow.lay_out_now)


class MainWindow(QMainWindow):
    """The POS window. ``on_tickets_changed`` is the slot the sync bridge feeds.

    Signals:
        first_frame(): the window is painting its first frame (start-up connects after it).
    """

    first_frame = Signal()

    def __init__(self, ctx: PosContext, *, demo_banner: str = "", load_later: bool = False) -> None:
        """``load_later``: show the window first and read its data from the event loop (start-up)."""
        super().__init__()
        self.painted = False
        self.setObjectName("mainWindow")
        self.setWindowTitle("posdesk")
        self.ctx = ctx
        # Containers first, each view then moved into the window once: with the style sheet, every
        # move of a built widget tree to a new parent restyles the whole tree (start-up time).
        central = QWidget(self)
        self.setCentralWidget(central)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.demo_banner = name(plain_label(demo_banner, central), "demoBanner", "Demo mode")
        self.demo_banner.setVisible(bool(demo_banner))
        layout.addWidget(self.demo_banner)
        self.tabs = QTabWidget(central)
        self.tabs.setObjectName("mainTabs")
        layout.addWidget(self.tabs)
        self.ticket_view = NewTicketView(ctx, load_later=load_later)
        self.tickets_panel = TicketsPanel(ctx)
        self.tabs.addTab(self.ticket_view, "Ticket")
        self.tabs.addTab(self.tickets_panel, "Tickets")

        self.connection_label = name(QLabel(), "connectionIndicator", "Connection status")
        self.statusBar().addPermanentWidget(self.connection_label)
        self._build_menu()

        self.ticket_view.data_loaded.connect(self.lay_out_now)
        self.ticket_view.message.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self.ticket_view.ticket_saved.connect(lambda _id: self.tickets_panel.reload_when_shown())
        self.ticket_view.send_invoice_requested.connect(self.open_send_invoice)
        self.ticket_view.take_payment_requested.connect(self.open_take_payment)
        self.ticket_view.refund_requested.connect(self.open_refund)
        self.ticket_view.totals_panel.tip_split_requested.connect(self.open_tip_split)
        self.ticket_view.totals_panel.review_requested.connect(self.open_review)
        self.tickets_panel.open_requested.connect(self.open_ticket)
        self.tickets_panel.remind_requested.connect(self.remind)
        self.tickets_panel.reissue_requested.connect(self.reissue_link)
        ctx.worker.failed.connect(lambda op, text: self.statusBar().showMessage(f"{op} failed: {text}", 8000))
        ctx.connection_changed.connect(self._show_connection)
        ctx.tickets_changed.connect(self.on_tickets_changed)
        ctx.settings_changed.connect(self.tickets_panel.reload_when_shown)  # promotions, surcharge
        self._show_connection(ctx.connection.state)
        self.setMinimumSize(MINIMUM_SIZE[0], MINIMUM_SIZE[1])
        self.resize(1280, 800)

    def _build_menu(self) -> None:
        pos = self.menuBar().addMenu("&POS")
        self.new_ticket_action = self._action(
            pos, "&New Ticket", QKeySequence.StandardKey.New, self.new_ticket
        )
        self._action(pos, "&Tickets", "Ctrl+T", lambda: self.tabs.setCurrentWidget(self.tickets_panel))
        pos.addSeparator()
        self._action(pos, "&Save Ticket", QKeySequence.StandardKey.Save, self.ticket_view.save)
        self._action(pos, "Send &Invoice…", "Ctrl+I", self.open_send_invoice)
        self.take_payment_action = self._action(pos, "Take &Payment…", "Ctrl+P", self.open_take_payment)
        pos.addSeparator()
        self._action(pos, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        manage = self.menuBar().addMenu("&Manage")
        self._action(manage, "&Settings…", "Ctrl+,", self.open_settings)
        self._action(manage, "&Day Summary…", "Ctrl+D", self.open_day_summary)
        self.review_action = self._action(manage, REVIEW_MENU_TEXT, "", self.open_review_list)
        manage.aboutToShow.connect(self.refresh_review_count)
        help_menu = self.menuBar().addMenu("&Help")
        self.about_action = self._action(help_menu, "&About posdesk", "", self.open_about)

    def _action(
        self, menu: QMenu, text: str, shortcut: str | QKeySequence.StandardKey, slot: Callable[[], object]
    ) -> QAction:
        # ``parent=`` by name and ``setShortcuts``: PySide would try the overloads taking an icon (making
        # QIcon and its 151 theme icons) and Qt's keys (the ``Qt`` namespace: see posdesk.gui.qt) first.
        # A standard action gets all of the platform's keys for it.
        action = QAction(text, parent=self)
        if isinstance(shortcut, str):
            action.setShortcuts([QKeySequence.fromString(shortcut)] if shortcut else [])
        else:
            action.setShortcuts(shortcut)
        set_keys(action, "shortcutContext", "ApplicationShortcut")
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)
        return action

    # -- slots -------------------------------------------------------------------------------------
    def new_ticket(self) -> None:
        self.tabs.setCurrentWidget(self.ticket_view)
        self.ticket_view.new_ticket()

    def open_ticket(self, ticket_id: str) -> None:
        self.ticket_view.open_ticket(ticket_id)
        self.tabs.setCurrentWidget(self.ticket_view)

    def open_send_invoice(self) -> SendInvoiceDialog | None:
        """Ctrl+I and the $ Send Invoice button: only when the button exists and is enabled."""
        view = self.ticket_view
        button = view.send_button
        if button is None or not button.isEnabled():
            if button is not None:
                self.statusBar().showMessage(button.toolTip(), 5000)
            return None
        self.tabs.setCurrentWidget(view)
        from posdesk.gui.send_invoice_dialog import SendInvoiceDialog

        if view.saving:  # the dialog sends from the saved revision: open it once the save is back
            view.when_saved(self.open_send_invoice)
            return None
        for old in self.findChildren(SendInvoiceDialog):
            if not old.isVisible() and not old.sending:  # a dialog still saving keeps its callbacks
                old.deleteLater()
        dialog = SendInvoiceDialog(
            self.ctx,
            view.ticket,
            view.priced,
            invoice=view.invoice,
            base_revision=view.saved_revision,
            parent=self,
        )
        dialog.sent.connect(self._on_invoice_sent)
        dialog.open()
        return dialog

    def _on_invoice_sent(self, result: tuple[SentLink, Ticket, InvoiceInfo | None]) -> None:
        _sent, ticket, invoice = result
        self.ticket_view.adopt_saved(ticket, invoice)
        self.tickets_panel.reload_when_shown()

    def remind(self, ticket_id: str) -> None:
        """One click: the payment reminder with the link goes to the client now (consent respected)."""
        from posdesk.gui.reminder import send_reminder

        summary = self.tickets_panel.summaries.get(ticket_id)
        if summary is not None:
            send_reminder(self.ctx, summary, self.tickets_panel.remind_result)

    def reissue_link(self, ticket_id: str) -> None:
        """One click: a fresh link for the current balance, uploaded through the outbox and copied."""
        backend, settings, url = self.ctx.backend, self.ctx.settings, self.ctx.connection.url
        CollectionOp(
            "re-issue link",
            lambda: backend.reissue_link(ticket_id, settings=settings, companion_url=url),
            changes=OpChanges(tickets=frozenset({ticket_id})),
        ).success(self._on_reissued).failure(
            lambda error: self.statusBar().showMessage(f"Not re-issued: {error}", 8000)
        ).run_in_background(self.ctx)

    def _on_reissued(self, result: tuple[SentLink, InvoiceInfo | None]) -> None:
        sent, _info = result
        QApplication.clipboard().setText(sent.url)
        self.ctx.wake_sync()
        self.tickets_panel.reload()
        self.statusBar().showMessage("A fresh link for the balance is on the clipboard", 8000)

    def open_take_payment(self) -> TenderDialog | None:
        """Take payment (button, Ctrl+P, POS menu): on the saved ticket, so unsaved edits are saved first."""
        view = self.ticket_view
        button = view.actions_bar.take_payment_button
        if not button.isEnabled():
            self.statusBar().showMessage(button.toolTip(), 5000)
            return None
        self.tabs.setCurrentWidget(view)
        if view.saving or view.dirty or view.saved_revision is None:
            view.save()
            view.when_saved(self.open_take_payment)
            return None
        from posdesk.gui.tender_dialog import TenderDialog

        for old in self.findChildren(TenderDialog):
            if not old.isVisible() and not old.recording:
                old.deleteLater()
        dialog = TenderDialog(self.ctx, view.ticket, view.priced.balance_due, self)
        dialog.recorded.connect(self._on_tender_recorded)
        dialog.open()
        return dialog

    def _on_tender_recorded(self, outcome: TenderOutcome) -> None:
        ticket = outcome.ticket
        self.ticket_view.adopt_saved(ticket, self.ctx.backend.invoice_info(ticket.id))
        self.tickets_panel.reload_when_shown()
        locale = self.ctx.locale
        words = [f"{outcome.payment.amount.format(locale)} recorded" if outcome.payment else "Recorded"]
        if outcome.change.is_positive():
            words.append(f"change due {outcome.change.format(locale)}")
        if outcome.link:
            words.append(f"invoice link {outcome.link}")
        if ticket.is_closed:
            words.append(f"ticket {ticket.number} closed")
        self.statusBar().showMessage(" · ".join(words), 8000)

    def open_refund(self, payment_id: str) -> None:
        """Refund… on a payment: behind the manager PIN."""
        from posdesk.gui.manager_pin import with_manager_pin
        from posdesk.gui.refund_dialog import RefundDialog

        view = self.ticket_view
        payment = next((p for p in view.ticket.payments if p.id == payment_id), None)
        if payment is None:
            return
        ticket = view.ticket

        def refund_dialog() -> RefundDialog:
            dialog = RefundDialog(self.ctx, ticket, payment, self)
            dialog.refunded.connect(lambda stored: self._on_refunded(dialog, stored))
            return dialog

        with_manager_pin(self.ctx, self, refund_dialog, purpose="refunds")

    def open_tip_split(self, payment_id: str) -> None:
        from posdesk.gui.tip_split_dialog import open_tip_split

        open_tip_split(self, payment_id)

    def _on_refunded(self, dialog: RefundDialog, ticket: Ticket) -> None:
        self.ticket_view.adopt_saved(ticket, self.ctx.backend.invoice_info(ticket.id))
        self.tickets_panel.reload_when_shown()
        self.statusBar().showMessage(dialog.note, 8000)

    def open_day_summary(self) -> None:
        """Manage > Day summary: behind the manager PIN."""
        from posdesk.gui.day_summary_dialog import DaySummaryDialog
        from posdesk.gui.manager_pin import with_manager_pin

        with_manager_pin(self.ctx, self, lambda: DaySummaryDialog(self.ctx, self), purpose="the day summary")

    def open_review(self, payment_id: str) -> None:
        from posdesk.gui.review_dialog import open_review

        open_review(self, payment_id)

    def open_review_list(self) -> None:
        from posdesk.gui.review_list_dialog import open_review_list

        open_review_list(self)

    def refresh_review_count(self) -> None:
        from posdesk.gui.review_list_dialog import refresh_count

        refresh_count(self.ctx, self.show_review_count)

    def show_review_count(self, count: int) -> None:
        """The Manage menu's entry says how many payments and reports wait for a manager's review."""
        self.review_action.setText(f"Needs &Review ({count})…" if count else REVIEW_MENU_TEXT)

    def open_settings(self) -> None:
        from posdesk.gui.settings_dialog import open_settings  # and httpx: not needed to start

        open_settings(self.ctx, self)

    def open_about(self) -> AboutDialog:
        """Help > About: version, Qt, data folder and log file (what support asks for first)."""
        from posdesk.gui.about_dialog import AboutDialog
        from posdesk.gui.qt import Qt  # not at start-up (posdesk.gui.qt)

        dialog = AboutDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def on_tickets_changed(self, ids: set[str]) -> None:
        self.ticket_view.on_tickets_changed(set(ids))
        self.tickets_panel.reload_when_shown()

    def _show_connection(self, state: str) -> None:
        if not self.ctx.connection.configured:
            self.connection_label.setText("● Not connected: working on this terminal only")
            self.connection_label.setStyleSheet("color: #616e7c;")
            return
        self.connection_label.setText(CONNECTION_WORDS.get(state, state))
        colour = {
            "online": "#0f6b3b",
            "offline": "#b42318",
            "catching_up": "#8a4b00",
            "unpaired": "#8a4b00",
        }.get(state, "#616e7c")
        self.connection_label.setStyleSheet(f"color: {colour}; font-weight: 600;")

    def lay_out_now(self) -> None:
        """Finish laying the shown window out before its first frame (once its data is in).

        A layout that changes tells its parent's with a posted event, so the window settled one level of
        its nesting per pass of the event loop, and the last passes came after the first frame: the tab
        widget repaints all of itself for each, a second frame of the whole ticket view.
        """
        if self.isVisible() and not self.painted:
            for _ in range(LAYOUT_PASSES):
                QApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self.painted:  # the window is painted before its children, in the same pass
            self.painted = True
            self.first_frame.emit()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.ticket_view.dirty and self.ticket_view.ticket.lines:
            self.ticket_view.save()
        super().closeEvent(event)
