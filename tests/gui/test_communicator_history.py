"""The Communicator shows the whole conversation: messages another terminal sent before this one was
paired come from the companion (``GET /api/v1/clients/{id}/messages``) when the dialog opens online, and
are merged into the local cache once, forward only; offline the dialog shows this terminal's messages
and says so. Against a real companion on loopback (SMTP server, fake Twilio API)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from posdesk.companion.auth import new_pairing_code
from posdesk.companion.events import last_event_id
from posdesk.gui.app import SyncBridge
from posdesk.gui.backend import PosBackend
from posdesk.gui.communicator_dialog import OFFLINE_NOTE, CommunicatorDialog
from posdesk.gui.context import Connection, PosContext
from posdesk.gui.qt import QLabel, QListWidget
from posdesk.gui.worker import Worker
from posdesk.store import Database
from posdesk.store.client_messages import (
    ClientMessage,
    MessageChannel,
    MessageRepository,
    MessageState,
    queue_message,
)
from posdesk.store.cursor import EventCursor
from posdesk.sync import SyncService, pair
from posdesk.sync.history import merge_client_history
from tests.companion.test_messages import CommunicatorCompanion, wait_status
from tests.companion.test_messages import comm as comm  # the fixture: the front desk's companion
from tests.gui.conftest import ADA, TZ, enable_feature, wait_idle

ADA_BOTH = replace(ADA, email_consent=True)


def sent_from_the_front_desk(comm: CommunicatorCompanion) -> tuple[str, str]:
    """Terminal A texts and emails Ada through the companion; returns the two message ids once settled."""
    details = {
        "id": ADA.id,
        "first_name": ADA.first_name,
        "last_name": ADA.last_name,
        "phone": ADA.phone,
        "email": ADA.email,
        "sms_consent": True,
        "email_consent": True,
    }
    sms, email = uuid.uuid4().hex, uuid.uuid4().hex
    for body in (
        {
            "message_id": sms,
            "client": details,
            "channel": "sms",
            "text": "Your colour is booked for Friday 10:00",
        },
        {
            "message_id": email,
            "client": details,
            "channel": "email",
            "subject": "Aftercare",
            "text": "Rinse cool.",
        },
    ):
        assert comm.api.post("/api/v1/messages", json=body).status_code == 200
    wait_status(comm, sms, "delivered")
    wait_status(comm, email, "sent")
    return sms, email


@pytest.fixture
def back_desk(qtbot, db: Database, comm: CommunicatorCompanion) -> Iterator[Callable[..., PosContext]]:
    """``back_desk(online=True, sync=False)``: the POS of a terminal paired now, after the front desk's
    messages (its cache knows none of them); optionally with its SyncService running."""
    made: list[tuple[PosContext, SyncService | None]] = []

    def make(*, online: bool = True, sync: bool = False) -> PosContext:
        with comm.app.state.db.write() as session:
            code = new_pairing_code(session, comm.terminal.store_id)
        paired = pair(comm.url, code, "Back desk")
        enable_feature(db, True, business_name="Salon Élan", companion_url=comm.url)
        state = "online" if online and not sync else "offline"
        ctx = PosContext(
            PosBackend(db), Worker(), connection=Connection(url=comm.url, state=state), timezone=TZ
        )
        ctx.vault.keep_for_session(comm.url, paired.credential)
        service = None
        if sync:
            bridge = SyncBridge()
            bridge.state.connect(ctx.set_connection_state)
            bridge.tickets.connect(ctx.tickets_changed.emit)
            ctx.bridge = bridge  # type: ignore[attr-defined]  # kept alive with the context
            service = SyncService(
                db,
                comm.url,
                paired.credential,
                on_state=bridge.on_state,
                on_tickets_changed=bridge.on_tickets_changed,
                store_key=paired.store_id,
            )
            service.start()
        made.append((ctx, service))  # stopped at the end even when it never comes online
        if service is not None:
            qtbot.waitUntil(lambda: ctx.connection.online, timeout=10_000)
        return ctx

    yield make
    for ctx, service in made:
        if service is not None:
            service.stop()
        ctx.worker.shutdown()


def open_communicator(qtbot, ctx: PosContext) -> CommunicatorDialog:
    dialog = CommunicatorDialog(ctx, ADA_BOTH)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def thread(dialog: CommunicatorDialog) -> list[str]:
    conversation = dialog.findChild(QListWidget, "conversationList")
    return [conversation.item(i).text() for i in range(conversation.count())]


def local_messages(db: Database) -> list[ClientMessage]:
    with db.reading() as session:
        return MessageRepository(session).for_client(ADA.id)


def test_opening_online_shows_messages_sent_from_another_terminal_before_pairing(
    qtbot, db: Database, comm: CommunicatorCompanion, back_desk
) -> None:
    sms, email = sent_from_the_front_desk(comm)
    ctx = back_desk()
    assert local_messages(db) == []  # nothing reached this terminal's cache: no sync is running

    dialog = open_communicator(qtbot, ctx)
    with qtbot.waitSignal(dialog.history_merged, timeout=10_000):
        pass
    items = thread(dialog)
    assert len(items) == 2
    assert "Your colour is booked for Friday 10:00" in items[0] and items[0].endswith("Delivered")
    assert items[1].startswith("Email · ") and "Aftercare" in items[1] and items[1].endswith("Sent")
    assert not dialog.findChild(QLabel, "historyNoteLabel").isVisible()
    assert dialog.findChild(QLabel, "conversationEmptyLabel").isHidden()
    assert [(m.id, m.state) for m in local_messages(db)] == [
        (sms, MessageState.DELIVERED),
        (email, MessageState.SENT),
    ]

    # Opening it again merges the same history: still one of each.
    again = open_communicator(qtbot, ctx)
    qtbot.waitUntil(lambda: not again.fetching_history, timeout=10_000)
    wait_idle(qtbot, ctx)
    assert len(thread(again)) == 2 and len(local_messages(db)) == 2


def test_offline_shows_this_terminals_messages_and_says_so_then_catches_up_online(
    qtbot, db: Database, comm: CommunicatorCompanion, back_desk
) -> None:
    sent_from_the_front_desk(comm)
    ctx = back_desk(online=False)
    with db.session() as session:
        queue_message(session, client=ADA, channel=MessageChannel.SMS, text="Running 5 minutes late, sorry!")

    dialog = open_communicator(qtbot, ctx)
    note = dialog.findChild(QLabel, "historyNoteLabel")
    assert note.isVisible() and note.text() == OFFLINE_NOTE
    [only] = thread(dialog)
    assert "Running 5 minutes late" in only and only.endswith("Queued (sent when this terminal reconnects)")

    with qtbot.waitSignal(dialog.history_merged, timeout=10_000):
        ctx.set_connection_state("online")
    assert not note.isVisible()
    assert len(thread(dialog)) == 3


def test_the_history_and_the_event_stream_together_make_one_copy_of_each_message(
    qtbot, db: Database, comm: CommunicatorCompanion, back_desk
) -> None:
    sent_from_the_front_desk(comm)
    ctx = back_desk(sync=True)  # catching up from the start of the log while the dialog fetches
    dialog = open_communicator(qtbot, ctx)
    qtbot.waitUntil(lambda: len(thread(dialog)) == 2 and not dialog.fetching_history, timeout=10_000)
    with comm.app.state.db.read() as session:
        last = last_event_id(session, comm.terminal.store_id)
    cursor = EventCursor(db, comm.terminal.store_id)
    qtbot.waitUntil(lambda: cursor.get() >= last, timeout=10_000)  # the stream has applied every event
    wait_idle(qtbot, ctx)
    assert len(local_messages(db)) == 2
    assert [t.rsplit("\n", 1)[-1] for t in thread(dialog)] == ["Delivered", "Sent"]


def test_merging_moves_states_forward_only_and_twice_changes_nothing(db: Database) -> None:
    now = datetime.now(UTC)
    delivered = ClientMessage(
        "m1", ADA.id, None, MessageChannel.SMS, ADA.phone, "", "Hi", MessageState.DELIVERED, "", now, now
    )
    queued = replace(delivered, id="m2", state=MessageState.QUEUED)
    with db.session() as session:
        MessageRepository(session).add(delivered)
        MessageRepository(session).add(queued)
    history = [
        {
            "message_id": "m1",
            "client_id": ADA.id,
            "channel": "sms",
            "text": "Hi",
            "status": "sent",
        },  # a late word
        {
            "message_id": "m2",
            "client_id": ADA.id,
            "channel": "sms",
            "text": "Hi",
            "status": "failed",
            "reason": "Unreachable",
        },
        {
            "message_id": "m3",
            "client_id": ADA.id,
            "channel": "email",
            "text": "Hello",
            "status": "sent",
            "to": ADA.email,
        },
    ]
    assert merge_client_history(db, history) == {f"client:{ADA.id}"}
    states = {m.id: (m.state, m.reason) for m in local_messages(db)}
    assert states == {
        "m1": (MessageState.DELIVERED, ""),
        "m2": (MessageState.FAILED, "Unreachable"),
        "m3": (MessageState.SENT, ""),
    }
    assert merge_client_history(db, history) == set()
