"""The event log: ids in order under concurrent appends, the JSON page, and the live stream (SSE)
over a real uvicorn, on SQLite and PostgreSQL, across two companion instances."""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from posdesk.companion import migrations
from posdesk.companion.api import events as events_api
from posdesk.companion.app import create_app
from posdesk.companion.database import Database
from posdesk.companion.events import EventBus, append_event, events_after
from posdesk.companion.models import Event as EventRow
from posdesk.companion.relay import PgRelay
from posdesk.companion.stores import create_store
from posdesk.core.events import EventType
from tests.companion.conftest import Companion, PairedTerminal, demo_config, invoice_upload, put_invoice
from tests.fakes.serve import serve_app


def open_store(url: str) -> tuple[Database, str]:
    db = Database(url)
    migrations.upgrade(db.engine)
    with db.write() as session:
        store_id = create_store(session, "Events", "USD").id
    return db, store_id


def test_event_ids_never_become_visible_out_of_order(db_url: str) -> None:
    """Writers hold their transaction open a little after appending; a reader polling "after N" must
    always see N+1, N+2, ... with no gap that a slower commit would fill later."""
    db, store_id = open_store(db_url)
    writers, per_writer = 6, 15
    total = writers * per_writer
    problems: list[str] = []
    done = threading.Event()

    def write(worker: int) -> None:
        rng = random.Random(worker)
        for i in range(per_writer):
            with db.write() as session:
                append_event(session, store_id, EventType.INVOICE_UPDATED, data={"worker": worker, "i": i})
                time.sleep(rng.random() * 0.004)

    def read() -> None:
        cursor = 0
        deadline = time.monotonic() + 60
        while cursor < total and time.monotonic() < deadline:
            with db.read() as session:
                ids = [event.id for event in events_after(session, store_id, cursor)]
            if ids != list(range(cursor + 1, cursor + 1 + len(ids))):
                problems.append(f"after {cursor} saw {ids[:5]}...")
                return
            cursor += len(ids)
        if cursor != total:
            problems.append(f"read {cursor} of {total} events")
        done.set()

    reader = threading.Thread(target=read)
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    reader.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reader.join()
    db.dispose()
    assert problems == []
    assert done.is_set()


def test_events_page_reads_by_position(companion: Companion) -> None:
    api = companion.api
    for _ in range(5):
        put_invoice(api, invoice_upload())
    page = api.get("/api/v1/events", params={"after": 0, "limit": 2}).json()
    assert [e["id"] for e in page["events"]] == [1, 2]
    assert page["last_id"] == 5
    rest = api.get("/api/v1/events", params={"after": 2}).json()
    assert [e["id"] for e in rest["events"]] == [3, 4, 5]
    event = rest["events"][0]
    assert set(event) == {"id", "type", "created_at", "invoice_id", "ticket_id", "data"}
    assert api.get("/api/v1/events", params={"after": 5}).json() == {"events": [], "last_id": 5}


def test_events_of_a_type_this_companion_does_not_know_are_passed_over(companion: Companion) -> None:
    """A companion rolled back below a newer one: the newer one's events do not break the feed."""
    put_invoice(companion.api, invoice_upload())
    with companion.db.write() as session:
        for _ in range(3):  # a newer companion's event type, stored before the roll-back
            seq = append_event(session, companion.terminal.store_id, EventType.INVOICE_OPENED)
            session.flush()
            session.execute(update(EventRow).where(EventRow.seq == seq).values(type="invoice.teleported"))
    put_invoice(companion.api, invoice_upload())

    page = companion.api.get("/api/v1/events", params={"after": 0, "limit": 2}).json()
    assert [(e["id"], e["type"]) for e in page["events"]] == [(1, "invoice.updated"), (5, "invoice.updated")]
    assert page["last_id"] == 5
    with stream(companion.url, companion.terminal.headers) as events:
        assert [events.next_event()["id"] for _ in range(2)] == [1, 5]


@pytest.mark.parametrize("params", [{"after": -1}, {"after": "x"}, {"limit": 0}, {"limit": 5000}])
def test_events_page_refuses_bad_positions(api: httpx.Client, params: dict[str, Any]) -> None:
    assert api.get("/api/v1/events", params=params).status_code == 422


def test_each_store_has_its_own_log(companion: Companion, other_terminal: PairedTerminal) -> None:
    put_invoice(companion.api, invoice_upload())
    other = companion.client(headers=other_terminal.headers)
    put_invoice(other, invoice_upload())
    mine = companion.api.get("/api/v1/events").json()["events"]
    theirs = other.get("/api/v1/events").json()["events"]
    assert [e["id"] for e in mine] == [e["id"] for e in theirs] == [1]
    assert mine[0]["invoice_id"] != theirs[0]["invoice_id"]


# -- the stream -------------------------------------------------------------------------------------
class SseReader:
    """Reads Server-Sent Events from an open streaming response."""

    def __init__(self, response: httpx.Response) -> None:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        self._lines = response.iter_lines()
        self.comments: list[str] = []
        self.retry: int | None = None

    def next_event(self) -> dict[str, Any]:
        fields: dict[str, str] = {}
        for line in self._lines:
            if line == "":
                if "data" in fields:
                    return {
                        "id": int(fields["id"]),
                        "event": fields["event"],
                        "data": json.loads(fields["data"]),
                    }
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            if name == "retry":
                self.retry = int(value)
            else:
                fields[name] = value.removeprefix(" ")
        raise AssertionError("the stream ended")

    def next_comment(self) -> str:
        seen = len(self.comments)
        for line in self._lines:
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
            if len(self.comments) > seen:
                return self.comments[-1]
        raise AssertionError("the stream ended")

    def wait_until_open(self) -> None:
        """The stream flushes a ``retry:`` field first: once read, the server is listening."""
        for line in self._lines:
            if line.startswith("retry:"):
                self.retry = int(line.split(":", 1)[1])
                return
        raise AssertionError("the stream ended")


@contextlib.contextmanager
def stream(base_url: str, headers: dict[str, str], **params: Any) -> Iterator[SseReader]:
    with (
        httpx.Client(base_url=base_url, timeout=httpx.Timeout(15)) as client,
        client.stream("GET", "/api/v1/events/stream", headers=headers, params=params) as response,
    ):
        yield SseReader(response)


def test_stream_delivers_an_event_appended_after_connecting(companion_any_db: Companion) -> None:
    with stream(companion_any_db.url, companion_any_db.terminal.headers) as events:
        events.wait_until_open()
        body = invoice_upload()
        put_invoice(companion_any_db.api, body)
        event = events.next_event()
    assert event["id"] == 1
    assert event["event"] == "invoice.updated"
    assert event["data"]["invoice_id"] == body["invoice_id"]
    assert {k: event["data"]["data"][k] for k in ("version", "status")} == {"version": 1, "status": "sent"}
    assert events.retry == 2000


def test_stream_resumes_after_last_event_id(companion: Companion) -> None:
    for _ in range(4):
        put_invoice(companion.api, invoice_upload())
    resume = {**companion.terminal.headers, "Last-Event-ID": "2"}
    with stream(companion.url, resume, after=3) as events:  # Last-Event-ID wins over ?after=
        assert [events.next_event()["id"] for _ in range(2)] == [3, 4]
    with stream(companion.url, companion.terminal.headers, after=3) as events:
        assert events.next_event()["id"] == 4
        put_invoice(companion.api, invoice_upload())
        assert events.next_event()["id"] == 5


def test_stream_refuses_a_bad_last_event_id(api: httpx.Client) -> None:
    response = api.get("/api/v1/events/stream", headers={"Last-Event-ID": "yesterday"})
    assert response.status_code == 400


def test_stream_sends_heartbeats_while_idle(companion: Companion, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_api, "HEARTBEAT_INTERVAL", 0.3)
    with stream(companion.url, companion.terminal.headers) as events:
        events.wait_until_open()
        assert events.next_comment() == "heartbeat"


def test_a_closed_stream_stops_listening(companion: Companion) -> None:
    bus: EventBus = companion.app.state.bus
    with stream(companion.url, companion.terminal.headers) as events:
        events.wait_until_open()
        assert bus.listener_count == 1
    deadline = time.monotonic() + 30
    while bus.listener_count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert bus.listener_count == 0


def test_stream_sees_events_another_process_appends(companion: Companion) -> None:
    """Another worker (here: another Database on the same file) appends without this process's bus
    hearing of it; the stream's poll still delivers it."""
    other_worker = Database(companion.config.database_url)
    try:
        with stream(companion.url, companion.terminal.headers) as events:
            events.wait_until_open()
            with other_worker.write() as session:
                append_event(
                    session, companion.terminal.store_id, EventType.LINK_EXPIRED, data={"version": 1}
                )
            event = events.next_event()
        assert (event["id"], event["event"]) == (1, "link.expired")
    finally:
        other_worker.dispose()


@pytest.mark.postgres
def test_postgres_relay_wakes_on_another_process_commit(postgres_db_url: str) -> None:
    db, store_id = open_store(postgres_db_url)
    bus = EventBus()
    relay = PgRelay(postgres_db_url, bus)
    relay.start()
    try:
        assert relay.listening.wait(10)
        with db.write() as session:  # no bus watches this Database: only the NOTIFY can wake us
            append_event(session, store_id, EventType.INVOICE_OPENED, data={"version": 1})
        assert bus.wait(store_id, 0, timeout=5) == 1
    finally:
        relay.stop()
        db.dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_two_companions_on_one_postgres_deliver_the_same_ordered_stream(
    make_companion: Any, postgres_db_url: str
) -> None:
    first = make_companion(postgres_db_url)
    second_app = create_app(demo_config(postgres_db_url))
    try:
        with serve_app(second_app) as second_url:
            headers = first.terminal.headers
            second_api = httpx.Client(base_url=second_url, headers=headers, timeout=10)
            with stream(first.url, headers) as a, stream(second_url, headers) as b:
                a.wait_until_open()
                b.wait_until_open()
                uploads = 12

                def upload(api: httpx.Client) -> None:
                    for _ in range(uploads // 2):
                        assert put_invoice(api, invoice_upload()).status_code == 200

                writers = [threading.Thread(target=upload, args=(api,)) for api in (first.api, second_api)]
                for writer in writers:
                    writer.start()
                for writer in writers:
                    writer.join()
                from_a = [a.next_event() for _ in range(uploads)]
                from_b = [b.next_event() for _ in range(uploads)]
            second_api.close()
    finally:
        second_app.state.db.dispose()
    assert [e["id"] for e in from_a] == list(range(1, uploads + 1))
    assert from_a == from_b
