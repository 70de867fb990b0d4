"""PostgreSQL stops under a running companion with a terminal connected, then comes back.

The operator's log says so in one line each way: no traceback per health probe, no "Exception in ASGI
application" from the event stream, which ends cleanly; the terminal goes offline, reconnects by
itself when the database is back, and closes a ticket paid after that. Real programs: a PostgreSQL
server of the test's own (halted and resumed), ``posdesk-companion serve`` as a process, the POS's sync.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from posdesk.core.ticket import TicketState
from posdesk.sync import ConnectionState
from tests.conftest import require_tool
from tests.plugins.postgres import LocalPostgres, find_bindir
from tests.reliability.programs import companion_process, pay_link, prepare_store
from tests.till import Till
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def own_postgres() -> LocalPostgres:
    bindir = find_bindir()
    if bindir is None:
        require_tool("initdb")
    assert bindir is not None
    server = LocalPostgres(bindir)
    server.start()
    yield server  # type: ignore[misc]
    server.stop()


def health(url: str) -> int:
    return httpx.get(f"{url}/healthz", timeout=10).status_code


def test_a_database_outage_is_one_line_each_way_and_the_terminal_reconnects(
    own_postgres: LocalPostgres, tmp_path: Path
) -> None:
    terminal = prepare_store(own_postgres.url)
    log_file = tmp_path / "companion.log"
    with companion_process(own_postgres.url, log_file) as companion:
        till = Till(tmp_path / "pos.db", companion.url, terminal.credential, terminal.store_id)
        try:
            till.start()
            wait_until(lambda: till.state is ConnectionState.ONLINE, what="the terminal online")

            own_postgres.halt()
            assert [health(companion.url) for _ in range(5)] == [503] * 5
            wait_until(lambda: till.state is ConnectionState.OFFLINE, timeout=30, what="the terminal offline")

            own_postgres.resume()
            wait_until(lambda: health(companion.url) == 200, timeout=30, what="the companion healthy")
            wait_until(lambda: till.state is ConnectionState.ONLINE, timeout=60, what="the terminal back")

            ticket = till.new_ticket(price=4500)
            sent = till.send(ticket.id)
            wait_until(lambda: till.pending() == 0, timeout=30, what="the invoice upload")
            assert pay_link(companion.url, sent.token).status_code == 303
            wait_until(
                lambda: till.ticket(ticket.id).state is TicketState.PAID, timeout=30, what="the close"
            )
        finally:
            till.close()
    log = companion.log()
    assert log.count("database unreachable") == 1, log
    assert log.count("database reachable again") == 1, log
    assert "Traceback" not in log
    assert "Exception in ASGI application" not in log
