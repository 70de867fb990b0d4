"""The POS's sync against a real companion on loopback: upload through the outbox, events back, offline.

These drive the real programs: a companion app in uvicorn, a POS cache in a SQLite file, and the
:class:`~posdesk.sync.SyncService` thread between them. Payments are recorded on the companion side by
appending the event the payment pipeline appends (the payment page itself is covered by its own tests).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from posdesk.companion.app import create_app
from posdesk.companion.events import append_event
from posdesk.companion.models import Invoice as InvoiceRow
from posdesk.core.events import EventType, LinkStatus
from posdesk.core.ticket import TicketState
from posdesk.sync import ConnectionState, SyncService, pair
from posdesk.sync.invoice_links import send_invoice
from tests.companion.conftest import add_store, demo_config
from tests.fakes.serve import serve_app
from tests.till import Till
from tests.waiting import free_port, wait_until

WAIT = 15.0


@contextlib.contextmanager
def running_companion(db_file: Path, port: int | None = None) -> Iterator[tuple[Any, str]]:
    app = create_app(demo_config(f"sqlite+pysqlite:///{db_file}"))
    try:
        with serve_app(app, port=port or 0) as url:
            yield app, url
    finally:
        app.state.db.dispose()


def record_paid(app: Any, store_id: str, invoice_id: str, amount: int) -> None:
    """What the payment pipeline does when the gateway confirms: update the invoice, append the event."""
    with app.state.db.write() as session:
        row = session.get(InvoiceRow, invoice_id)
        assert row is not None, "the invoice must have reached the companion"
        row.status = "paid"
        row.paid_minor = amount
        append_event(
            session,
            store_id,
            EventType.INVOICE_PAID,
            invoice_id=invoice_id,
            ticket_id=row.ticket_id,
            data={
                "version": row.version,
                "payment": {
                    "id": f"pay-{invoice_id}",
                    "amount": amount,
                    "tip": 1200,
                    "currency": "USD",
                    "method": "online_card",
                    "card_brand": "visa",
                    "card_last4": "4242",
                    "received_at": datetime.now(UTC).isoformat(),
                    "reference": "sim_1",
                },
                "paid_total": amount,
                "balance_due": 0,
            },
        )


@pytest.fixture
def companion_and_terminals(tmp_path: Path) -> Iterator[tuple[Any, str, list[Till], Callable[[], Till]]]:
    terminals: list[Till] = []
    with running_companion(tmp_path / "companion.db") as (app, url):
        paired = add_store(app)

        def make_terminal() -> Till:
            from posdesk.companion.auth import new_pairing_code

            with app.state.db.write() as session:
                code = new_pairing_code(session, paired.store_id)
            result = pair(url, code, f"Till {len(terminals) + 1}")
            assert result.store_id == paired.store_id
            terminal = Till(tmp_path / f"pos{len(terminals)}.db", url, result.credential, result.store_id)
            terminals.append(terminal)
            return terminal

        try:
            yield app, paired.store_id, terminals, make_terminal
        finally:
            for terminal in terminals:
                terminal.close()


def test_invoice_uploads_and_payment_closes_the_ticket(companion_and_terminals: Any) -> None:
    app, store_id, _terminals, make_terminal = companion_and_terminals
    pos = make_terminal()
    ticket = pos.new_ticket()
    link = send_invoice(pos.db, ticket.id, amount_requested=None, companion_url=pos.companion_url, settings=pos.settings())
    assert link.url.startswith(pos.companion_url + "/pay/")
    assert pos.link_status(ticket.id) is LinkStatus.PREPARING

    pos.start()
    wait_until(lambda: pos.pending() == 0, what="the outbox to drain")
    wait_until(lambda: pos.link_status(ticket.id) is LinkStatus.SENT, what="the link to show as sent")
    assert ConnectionState.ONLINE in pos.states

    record_paid(app, store_id, link.invoice_id, 6000)
    wait_until(lambda: pos.ticket(ticket.id).state is TicketState.PAID, what="the ticket to close")
    closed = pos.ticket(ticket.id)
    assert [(p.amount.minor, p.tip.minor, p.card_last4) for p in closed.payments] == [(6000, 1200, "4242")]
    assert pos.link_status(ticket.id) is LinkStatus.PAID
    assert any(ticket.id in ids for ids in pos.changed)


def test_offline_send_uploads_on_reconnect_and_closes(tmp_path: Path) -> None:
    """The companion is down when the cashier sends: the link exists, the upload waits, then lands."""
    port = free_port()
    db_file = tmp_path / "companion.db"
    with running_companion(db_file, port) as (app, url):
        paired = add_store(app)
        from posdesk.companion.auth import new_pairing_code

        with app.state.db.write() as session:
            code = new_pairing_code(session, paired.store_id)
        credential = pair(url, code, "Till 1").credential
    # The companion is stopped now.
    pos = Till(tmp_path / "pos.db", url, credential, paired.store_id)
    try:
        ticket = pos.new_ticket()
        link = send_invoice(pos.db, ticket.id, amount_requested=None, companion_url=url, settings=pos.settings())
        assert link.url.endswith(link.token)
        pos.start()
        wait_until(lambda: ConnectionState.OFFLINE in pos.states or pos.sync.state is ConnectionState.OFFLINE)  # type: ignore[union-attr]
        time.sleep(0.5)
        assert pos.pending() == 1, "the upload waits in the outbox while the companion is down"

        with running_companion(db_file, port) as (app2, _url):
            wait_until(lambda: pos.pending() == 0, timeout=20, what="the outbox to drain after reconnect")
            record_paid(app2, paired.store_id, link.invoice_id, 6000)
            wait_until(lambda: pos.ticket(ticket.id).state is TicketState.PAID, timeout=20, what="close")
            assert len(pos.ticket(ticket.id).payments) == 1
    finally:
        pos.close()


def test_two_terminals_both_see_the_close_and_replay_is_harmless(companion_and_terminals: Any) -> None:
    app, store_id, _terminals, make_terminal = companion_and_terminals
    till1, till2 = make_terminal(), make_terminal()
    ticket = till1.new_ticket()
    link = send_invoice(till1.db, ticket.id, amount_requested=None, companion_url=till1.companion_url, settings=till1.settings())
    till1.start()
    till2.start()
    wait_until(lambda: till1.pending() == 0, what="upload")
    record_paid(app, store_id, link.invoice_id, 6000)
    wait_until(lambda: till1.ticket(ticket.id).state is TicketState.PAID, what="close on till 1")
    # Till 2 follows the same ordered stream to the same position.
    wait_until(lambda: till2.sync.cursor.get() == till1.sync.cursor.get(), what="till 2 to catch up")  # type: ignore[union-attr]

    # Re-applying from the start (a reconnect that replays) changes nothing.
    cursor_before = till1.sync.cursor.get()  # type: ignore[union-attr]
    assert cursor_before > 0
    till1.sync.stop()  # type: ignore[union-attr]
    with till1.db.session() as session:
        from sqlalchemy import text

        session.execute(text("UPDATE event_cursor SET last_event_id = 0"))
    till1.start()
    # ">=": an event appended meanwhile (another till's upload) moves the cursor past it
    wait_until(lambda: till1.sync.cursor.get() >= cursor_before, what="replay")  # type: ignore[union-attr]
    assert len(till1.ticket(ticket.id).payments) == 1, "a replayed payment event is applied once"


def online_terminal(companion_and_terminals: Any) -> tuple[Till, SyncService]:
    """A new terminal of the store, its sync service started and online."""
    make_terminal = companion_and_terminals[3]
    pos = make_terminal()
    pos.start()
    service = pos.sync
    assert service is not None
    wait_until(lambda: service.state is ConnectionState.ONLINE, what="online")
    return pos, service


def test_a_sync_service_stopped_right_after_a_restart_stops(companion_and_terminals: Any) -> None:
    """Stop, start again (a reconnect), stop at once: no sync thread is left running; a restart syncs."""
    pos, service = online_terminal(companion_and_terminals)
    service.stop()
    for _ in range(3):
        service.start()
        service.stop(timeout=2)
    assert [t for t in threading.enumerate() if t.name == "posdesk-sync"] == []  # this till's was the only

    service.start()
    ticket = pos.new_ticket()
    pos.send(ticket.id)  # wakes the restarted loop
    wait_until(lambda: pos.link_status(ticket.id) is LinkStatus.SENT, what="the upload after the restart")


def test_a_stop_as_the_relay_is_woken_ends_the_sync_thread(companion_and_terminals: Any) -> None:
    """New outbox work and a stop in the same moment (the cashier sends, the terminal closes): the stop
    is not lost, no sync thread is left running."""
    _pos, service = online_terminal(companion_and_terminals)
    [sync_thread] = [t for t in threading.enumerate() if t.name == "posdesk-sync"]  # this till's only
    service.wake()
    service.stop(timeout=2)
    assert not sync_thread.is_alive()


def test_an_event_of_a_type_this_pos_does_not_know_is_passed_over(
    companion_and_terminals: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A POS from before ``store.settings_changed`` existed, on a companion that appends it (a rolling
    upgrade): the event is passed over and later events still close tickets."""
    import posdesk.core.events as core_events

    app, store_id, _terminals, make_terminal = companion_and_terminals
    older = core_events._KNOWN_TYPES - {EventType.STORE_SETTINGS_CHANGED.value}
    monkeypatch.setattr(core_events, "_KNOWN_TYPES", older)  # what this POS's version knows
    pos = make_terminal()
    ticket = pos.new_ticket()
    link = send_invoice(pos.db, ticket.id, amount_requested=None, companion_url=pos.companion_url, settings=pos.settings())
    pos.start()
    wait_until(lambda: pos.link_status(ticket.id) is LinkStatus.SENT, what="the link to show as sent")
    with app.state.db.write() as session:
        newer = append_event(session, store_id, EventType.STORE_SETTINGS_CHANGED, data={"part": "settings"})
    record_paid(app, store_id, link.invoice_id, 6000)
    wait_until(lambda: pos.ticket(ticket.id).state is TicketState.PAID, what="the ticket to close past it")
    assert pos.sync.cursor.get() > newer  # type: ignore[union-attr]


def test_today_is_a_date() -> None:
    # Guards the sample-independent fixture above from silently depending on the demo data.
    assert isinstance(date.today(), date)
    assert threading.active_count() >= 1
