"""The Communicator: one client's conversation, a compose box, SMS or email, and message templates.

Only the channels the client has an address for and has agreed to are offered; when there is none the
dialog says why and sends nothing (the companion checks again, and refuses with the reason). A message
is written to the local cache and the outbox in one transaction on the worker thread, so it is sent
once, even if the terminal is offline now; its delivery state (queued, sent, delivered, failed) updates
live from the companion's events. A failed message can be retried: the same text goes again as a new
message.

Opened online, the dialog also fetches the conversation the companion keeps for the client (messages
other terminals sent, perhaps before this one was paired) on a background thread and merges it into the
local cache by message id (:mod:`posdesk.sync.history`); offline it shows what this terminal has, and
says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from posdesk.core.client import Client
from posdesk.core.money import Money
from posdesk.gui.context import PosContext
from posdesk.gui.dialog import PosDialog
from posdesk.gui.operations import CollectionOp, OpChanges, QueryOp
from posdesk.gui.qt import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from posdesk.gui.widgets import button_row, name, plain_label, wrapped_label
from posdesk.pos.message_templates import (
    STATE_WORDS,
    TEMPLATES,
    available_channels,
    delivery_words,
    fill_template,
)
from posdesk.pos.phones import format_phone, store_region
from posdesk.store.client_messages import (
    ClientMessage,
    MessageChannel,
    MessageState,
    client_change_key,
)
from posdesk.sync.history import fetch_client_history

__all__ = ["NO_INVOICE", "CommunicatorDialog", "InvoiceToSend", "delivery_words", "fill_template"]
log = logging.getLogger(__name__)

MESSAGE_ROLE = Qt.ItemDataRole.UserRole

OFFLINE_NOTE = "Offline — showing messages on this terminal."
UNREACHABLE_NOTE = "The companion did not answer — showing messages on this terminal."


@dataclass(frozen=True, slots=True)
class InvoiceToSend:
    """The invoice a conversation is opened for: ``link`` and ``amount`` fill the invoice templates; the
    messages are tied to ``ticket_id`` (which then shows the last delivery state) and ``invoice_id``."""

    link: str = ""
    amount: Money | None = None
    ticket_id: str | None = None
    invoice_id: str | None = None

    def link_in(self, text: str) -> str | None:
        """The link, when ``text`` carries it."""
        return self.link if self.link and self.link in text else None


NO_INVOICE = InvoiceToSend()  # a conversation opened for no invoice: no link, tied to no ticket


class CommunicatorDialog(PosDialog):
    """One client's conversation, opened for ``invoice`` (see :class:`InvoiceToSend`).

    Signals:
        message_queued(object): a :class:`~posdesk.store.client_messages.ClientMessage` was written and queued.
        history_merged(object): the companion's history was merged (the set of changed keys).
    """

    message_queued = Signal(object)
    history_merged = Signal(object)

    def __init__(
        self,
        ctx: PosContext,
        client: Client,
        invoice: InvoiceToSend = NO_INVOICE,
        *,
        template: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        title = f"Communicator · {client.display_name}"
        super().__init__(ctx, "communicatorDialog", "Communicator", parent, title=title)
        self.client = client
        self.invoice = invoice
        self.sending = False
        self.fetching_history = False
        self.messages: list[ClientMessage] = []
        self._build()
        self.reload()
        self._refresh_channels()
        if template is not None:
            self.choose_template(template)
        ctx.tickets_changed.connect(self._on_changed)
        ctx.connection_changed.connect(self._on_connection_changed)
        self.load_history()

    # -- building ----------------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        self.title_label = name(
            plain_label(f"Conversation with {self.client.display_name}"), "communicatorTitle", "Client"
        )
        layout.addWidget(self.title_label)
        self.contact_label = wrapped_label("contactLabel", "Contact details and consent")
        layout.addWidget(self.contact_label)

        self.conversation = name(QListWidget(), "conversationList", "Conversation")
        self.conversation.setWordWrap(True)
        self.conversation.setMinimumHeight(220)
        self.conversation.currentItemChanged.connect(lambda *_: self._refresh_retry())
        layout.addWidget(self.conversation, 1)
        self.empty_label = name(plain_label("No messages yet."), "conversationEmptyLabel", "No messages")
        layout.addWidget(self.empty_label)
        self.history_note = wrapped_label("historyNoteLabel", "Where the conversation comes from")
        self.history_note.hide()
        layout.addWidget(self.history_note)
        self.retry_button = name(
            QPushButton("Retry failed message"), "retryMessageButton", "Retry failed message"
        )
        self.retry_button.clicked.connect(self.retry_selected)
        layout.addWidget(self.retry_button, 0, Qt.AlignmentFlag.AlignRight)

        options = QHBoxLayout()
        options.addWidget(QLabel("Send by"))
        self.channel_combo = name(QComboBox(), "channelCombo", "Channel")
        self.channel_combo.currentIndexChanged.connect(self._on_channel_changed)
        options.addWidget(self.channel_combo)
        options.addSpacing(12)
        options.addWidget(QLabel("Template"))
        self.template_combo = name(QComboBox(), "templateCombo", "Message template")
        self.template_combo.addItem("Choose a template…", None)
        for caption, needs_link, _texts in TEMPLATES:
            if needs_link and not self.invoice.link:
                continue
            self.template_combo.addItem(caption, caption)
        self.template_combo.activated.connect(lambda _index: self._apply_template())
        options.addWidget(self.template_combo)
        options.addStretch(1)
        layout.addLayout(options)
        self.channel_hint = wrapped_label("channelHint", "Why a channel is not offered")
        layout.addWidget(self.channel_hint)

        self.subject_edit = name(QLineEdit(), "subjectEdit", "Email subject")
        self.subject_edit.setPlaceholderText("Subject")
        self.subject_edit.setMaxLength(300)
        layout.addWidget(self.subject_edit)
        self.compose = name(QPlainTextEdit(), "composeEdit", "Message")
        self.compose.setPlaceholderText("Write a message…")
        self.compose.setMaximumHeight(140)
        self.compose.textChanged.connect(self._refresh_send)
        layout.addWidget(self.compose)

        self.feedback = wrapped_label("communicatorMessage", "Communicator message")
        layout.addWidget(self.feedback)
        self.close_button = name(QPushButton("Close"), "closeCommunicatorButton", "Close communicator")
        self.close_button.clicked.connect(self.accept)
        # Send is the dialog's primary action (filled, to the right); Close stays a plain button.
        self.send_button = name(QPushButton("Send"), "sendMessageButton", "Send message")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.send)
        layout.addLayout(button_row(self.close_button, self.send_button))
        self.setMinimumSize(560, 560)

    # -- channels and templates --------------------------------------------------------------------
    @property
    def channel(self) -> MessageChannel | None:
        value = self.channel_combo.currentData()
        return MessageChannel(value) if value else None

    def _refresh_channels(self) -> None:
        current = self.channel
        channels, why_not = available_channels(self.client)
        self.channel_combo.blockSignals(True)
        self.channel_combo.clear()
        region = store_region(self.ctx.settings.locale)
        phone = format_phone(self.client.phone, region)
        for channel in channels:
            address = phone if channel is MessageChannel.SMS else self.client.email
            self.channel_combo.addItem(f"{channel.label} · {address}", channel.value)
        if current in channels:
            self.channel_combo.setCurrentIndex(channels.index(current))
        self.channel_combo.blockSignals(False)
        self.channel_combo.setEnabled(bool(channels))
        if not channels:
            why_not += " Record their consent in the client's details to message them."
        self.channel_hint.setText(why_not)
        contact = [p for p in (phone, self.client.email) if p]
        self.contact_label.setText(" · ".join(contact) if contact else "No phone number or email on file")
        self._on_channel_changed()

    def _on_channel_changed(self, _index: int = 0) -> None:
        self.subject_edit.setVisible(self.channel is MessageChannel.EMAIL)
        if self.template_combo.currentData():
            self._apply_template()
        self._refresh_send()

    def template_values(self) -> dict[str, str]:
        business, amount = self.ctx.settings.business_name or "us", self.invoice.amount
        return {
            "first_name": self.client.first_name,
            "business": business,
            "amount": amount.format(self.ctx.locale) if amount is not None else "",
            "link": self.invoice.link,
        }

    def choose_template(self, caption: str) -> None:
        index = self.template_combo.findData(caption)
        if index >= 0:
            self.template_combo.setCurrentIndex(index)
            self._apply_template()

    def _apply_template(self) -> None:
        caption = self.template_combo.currentData()
        channel = self.channel or MessageChannel.SMS
        for name_, _needs_link, texts in TEMPLATES:
            if name_ == caption:
                subject, text = texts[channel]
                values = self.template_values()
                self.subject_edit.setText(fill_template(subject, values))
                self.compose.setPlainText(fill_template(text, values))
                return

    # -- the conversation --------------------------------------------------------------------------
    def reload(self) -> None:
        """Read the conversation from the local cache (a small indexed query)."""
        self.messages = self.ctx.backend.messages_for_client(self.client.id)
        selected = self.conversation.currentItem()
        selected_id = selected.data(MESSAGE_ROLE) if selected is not None else None
        self.conversation.clear()
        for message in self.messages:
            when = message.created_at.astimezone(self.ctx.timezone).strftime("%b %d %H:%M")
            state = STATE_WORDS[message.state]
            if message.state is MessageState.QUEUED and not self.ctx.connection.online:
                state += " (sent when this terminal reconnects)"
            if message.state is MessageState.FAILED and message.reason:
                state += f": {message.reason}"
            heading = f"{message.channel.label} · {when}" + (
                f" · {message.subject}" if message.subject else ""
            )
            item = QListWidgetItem(
                f"{heading}\n{message.text.strip()}\n{state}"
            )  # item text is never rich text
            item.setData(MESSAGE_ROLE, message.id)
            item.setToolTip(f"{state} · to {message.to}" if message.to else state)
            self.conversation.addItem(item)
            if message.id == selected_id:
                self.conversation.setCurrentItem(item)
        if self.messages:
            self.conversation.scrollToBottom()
        self.empty_label.setVisible(not self.messages)
        self._refresh_retry()

    # -- the companion's history ---------------------------------------------------------------------
    def load_history(self) -> None:
        """Fetch the client's conversation from the companion when online (off the UI thread), then merge
        it on the worker; offline, say the thread shows this terminal's messages only."""
        connection = self.ctx.connection
        if not connection.configured or not connection.online:
            self._show_note(OFFLINE_NOTE)
            return
        self._show_note("")
        if self.fetching_history:
            return
        self.fetching_history = True
        url, vault, client_id = connection.url, self.ctx.vault, self.client.id

        def fetch() -> list[dict[str, object]]:
            credential = vault.load(url)  # the keyring may be slow: not on the UI thread either
            return fetch_client_history(url, credential, client_id) if credential else []

        # A failure (CompanionError, or anything else) leaves the local thread usable.
        QueryOp("fetch message history", fetch).success(self._on_history_fetched).failure(
            self._on_history_fetched
        ).run_in_background(self.ctx)

    def _on_history_fetched(self, result: object) -> None:
        self.fetching_history = False
        if isinstance(result, Exception):
            log.info("message history not fetched: %s", result)
            self._show_note(UNREACHABLE_NOTE)
            return
        messages = result if isinstance(result, list) else []
        if not messages:
            return
        backend = self.ctx.backend
        CollectionOp("merge message history", lambda: backend.merge_client_history(messages)).success(
            self._on_history_merged
        ).run_in_background(self.ctx)

    def _on_history_merged(self, changed: set[str]) -> None:
        self.reload()
        if changed:
            self.ctx.tickets_changed.emit(changed)  # tickets show their last message too
        self.history_merged.emit(changed)

    def _on_connection_changed(self, _state: str) -> None:
        self.load_history()
        self.reload()

    def _show_note(self, text: str) -> None:
        self.history_note.setText(text)
        self.history_note.setVisible(bool(text))

    def state_of(self, message_id: str) -> MessageState | None:
        return next((m.state for m in self.messages if m.id == message_id), None)

    def last_message(self) -> ClientMessage | None:
        return self.messages[-1] if self.messages else None

    def _selected_failed(self) -> ClientMessage | None:
        item = self.conversation.currentItem()
        message_id = item.data(MESSAGE_ROLE) if item is not None else None
        return next((m for m in self.messages if m.id == message_id and m.state is MessageState.FAILED), None)

    def _refresh_retry(self) -> None:
        failed = self._selected_failed()
        self.retry_button.setVisible(any(m.state is MessageState.FAILED for m in self.messages))
        channels, _ = available_channels(self.client)
        self.retry_button.setEnabled(failed is not None and failed.channel in channels and not self.sending)
        self.retry_button.setToolTip("" if failed else "Select a failed message to send it again")

    def _on_changed(self, ids: object) -> None:
        if not isinstance(ids, set | frozenset) or client_change_key(self.client.id) not in ids:
            return
        fresh = self.ctx.backend.client(self.client.id)
        if fresh is not None and fresh != self.client:
            self.client = fresh
            self._refresh_channels()
        self.reload()

    # -- sending -----------------------------------------------------------------------------------
    def _refresh_send(self) -> None:
        ok = self.channel is not None and bool(self.compose.toPlainText().strip()) and not self.sending
        self.send_button.setEnabled(ok)

    def send(self) -> None:
        channel = self.channel
        text = self.compose.toPlainText().strip()
        if channel is None:
            self.feedback.setText(self.channel_hint.text() or "There is no way to message this client.")
            return
        if not text:
            self.feedback.setText("Write a message first.")
            return
        subject = self.subject_edit.text().strip() if channel is MessageChannel.EMAIL else ""
        self._queue(channel, text, subject, link=self.invoice.link_in(text))

    def retry_selected(self) -> None:
        failed = self._selected_failed()
        if failed is None:
            return
        link = self.invoice.link_in(failed.text)
        self._queue(failed.channel, failed.text, failed.subject, link=link, ticket_id=failed.ticket_id)

    def _queue(
        self,
        channel: MessageChannel,
        text: str,
        subject: str,
        *,
        link: str | None,
        ticket_id: str | None = None,
    ) -> None:
        self.sending = True
        self._refresh_send()
        self._refresh_retry()
        self.feedback.setText("Sending…")
        client, backend = self.client, self.ctx.backend
        ticket_id = ticket_id or self.invoice.ticket_id
        invoice_id = self.invoice.invoice_id

        def write() -> ClientMessage:
            return backend.queue_message(
                client=client,
                channel=channel,
                text=text,
                subject=subject,
                link=link,
                ticket_id=ticket_id,
                invoice_id=invoice_id,
            )

        CollectionOp("send message", write, changes=OpChanges(messages=True)).success(
            self._on_queued
        ).failure(self._on_failed).run_in_background(self.ctx)

    def _on_queued(self, message: ClientMessage) -> None:
        self.sending = False
        self.compose.clear()
        self.template_combo.setCurrentIndex(0)
        online = self.ctx.connection.online
        self.feedback.setText(
            f"{message.channel.label} queued."
            if online
            else f"{message.channel.label} queued: it goes out when this terminal reconnects."
        )
        self.reload()
        self._refresh_send()
        self.ctx.wake_sync()
        # The ticket shows its last message too: tell every view, as the sync does for later states.
        self.ctx.tickets_changed.emit({client_change_key(message.client_id)} | ({message.ticket_id} - {None}))
        self.message_queued.emit(message)

    def _on_failed(self, error: Exception) -> None:
        self.sending = False
        self.feedback.setText(f"The message was not sent: {error}")
        self._refresh_send()
        self._refresh_retry()
