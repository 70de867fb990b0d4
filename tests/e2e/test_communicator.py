"""The Communicator end to end without a window: a message queued on a POS while the companion is down
goes out once it returns, exactly once, and comes back delivered; a refusal comes back with its reason."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest

from posdesk.companion.app import create_app
from posdesk.core.client import Client
from posdesk.store import ClientRepository, Database, Outbox
from posdesk.store.client_messages import (
    ClientMessage,
    MessageChannel,
    MessageRepository,
    MessageState,
    queue_message,
)
from posdesk.sync import ConnectionState, SyncService
from tests.companion.conftest import PairedTerminal, add_store, demo_config
from tests.companion.test_messages import communicator_companion
from tests.plugins.smtp import SmtpTestServer
from tests.waiting import free_port, wait_until

ANA = Client("client-ana", "Ana", "Díaz", phone="+15550102000", email="ana@example.com", sms_consent=True)


@dataclass
class Till:
    db: Database
    sync: SyncService | None = None

    def queue(self, client: Client, text: str, channel: MessageChannel = MessageChannel.SMS) -> str:
        with self.db.session() as session:
            return queue_message(session, client=client, channel=channel, text=text, ticket_id="ticket-7").id

    def message(self, message_id: str) -> ClientMessage:
        with self.db.reading() as session:
            message = MessageRepository(session).get(message_id)
        assert message is not None
        return message

    def pending(self) -> int:
        with self.db.reading() as session:
            return Outbox(session).pending_count()

    def client(self, client_id: str) -> Client | None:
        with self.db.reading() as session:
            return ClientRepository(session).get(client_id)


@pytest.fixture
def till(tmp_path: Path) -> Iterator[Till]:
    db = Database.open(tmp_path / "pos.db")
    with db.session() as session:
        ClientRepository(session).create(ANA)
    made = Till(db)
    yield made
    if made.sync is not None:
        made.sync.stop()
    db.close()


def start_sync(till: Till, url: str, terminal: PairedTerminal) -> list[ConnectionState]:
    states: list[ConnectionState] = []
    till.sync = SyncService(till.db, url, terminal.credential, on_state=states.append, store_key=terminal.store_id)
    till.sync.start()
    return states


def stop_sync(till: Till) -> None:
    """Stop following the companion before it shuts down (its event stream would hold the shutdown)."""
    if till.sync is not None:
        till.sync.stop()
        till.sync = None


def test_offline_send_is_delivered_after_reconnect_exactly_once(
    tmp_path: Path, till: Till, smtp_server: SmtpTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    db_file = tmp_path / "companion.db"
    url = f"http://127.0.0.1:{port}"
    app = create_app(demo_config(f"sqlite+pysqlite:///{db_file}", url))
    terminal = add_store(app, name="Salon Élan")
    app.state.db.dispose()  # the companion exists but is not running

    message_id = till.queue(ANA, "Hi Ana, your order is ready.")
    states = start_sync(till, url, terminal)
    wait_until(lambda: ConnectionState.OFFLINE in states or till.sync.state is ConnectionState.OFFLINE)  # type: ignore[union-attr]
    time.sleep(0.5)
    assert till.pending() == 1
    assert till.message(message_id).state is MessageState.QUEUED

    with communicator_companion(db_file, smtp_server, monkeypatch, port=port, terminal=terminal) as comm:
        wait_until(lambda: till.message(message_id).state is MessageState.DELIVERED, timeout=30, what="delivered")
        # The delivery event can arrive before the relay has closed the outbox entry of its own POST.
        wait_until(lambda: till.pending() == 0, what="the outbox entry to close")
        # The outbox's answer may be lost and the POST sent again: still one message, one SMS.
        entry_body = {"message_id": message_id, "client": {"id": ANA.id, "first_name": "Ana", "phone": ANA.phone,
                      "sms_consent": True}, "channel": "sms", "text": "Hi Ana, your order is ready."}  # fmt: skip
        again = comm.api.post("/api/v1/messages", json=entry_body).json()
        assert (again["message_id"], again["status"]) == (message_id, "delivered")
        time.sleep(0.5)
        posts = [r for r in comm.twilio.requests if r.method == "POST"]
        assert len(posts) == 1 and posts[0].form["Body"] == "Hi Ana, your order is ready."
        assert comm.statuses(message_id) == ["queued", "sent", "delivered"]
        history = comm.api.get(f"/api/v1/clients/{ANA.id}/messages").json()["messages"]
        assert [(m["message_id"], m["status"], m["ticket_id"]) for m in history] == [(message_id, "delivered", "ticket-7")]
        stop_sync(till)


def test_a_refusal_comes_back_with_its_reason_and_stop_withdraws_consent_on_the_pos(
    tmp_path: Path, till: Till, smtp_server: SmtpTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with communicator_companion(tmp_path / "companion.db", smtp_server, monkeypatch) as comm:
        start_sync(till, comm.url, comm.terminal)
        no_email_consent = till.queue(ANA, "Your receipt", MessageChannel.EMAIL)
        wait_until(lambda: till.message(no_email_consent).state is MessageState.FAILED, what="the refusal")
        assert till.message(no_email_consent).reason == "Ana Díaz has not agreed to receive emails."
        assert smtp_server.messages == []

        first = till.queue(ANA, "Hello")
        wait_until(lambda: till.message(first).state is MessageState.DELIVERED, what="first text")
        assert comm.twilio.send_inbound("STOP", ANA.phone).ok
        wait_until(lambda: till.client(ANA.id).sms_consent is False, what="consent withdrawn on the POS")

        stale = till.queue(replace(ANA, sms_consent=True), "Are you there?")  # a terminal that has not heard
        wait_until(lambda: till.message(stale).state is MessageState.FAILED, what="refused after STOP")
        assert "replied STOP" in till.message(stale).reason
        assert len([r for r in comm.twilio.requests if r.method == "POST"]) == 1
        assert httpx.get(comm.url + "/healthz").status_code == 200
        stop_sync(till)
