"""Power cut while the POS writes (RELIABILITY.md item 17): the file survives, no ticket is half saved."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from posdesk.store import Database, EventCursor, TicketRepository

WRITER = textwrap.dedent(
    """
    import sys
    from decimal import Decimal
    from pathlib import Path

    from posdesk.core.catalog import ItemKind
    from posdesk.core.money import Money
    from posdesk.core.ticket import Ticket, TicketLine
    from posdesk.store import Database, EventCursor, TicketRepository

    db = Database.open(Path(sys.argv[1]))
    cursor = EventCursor(db, "store-1")
    event_id = cursor.get()
    print("ready", flush=True)
    while True:
        with db.session() as session:
            repo = TicketRepository(session)
            ticket = Ticket.new(repo.next_number(), "USD")
            for i in range(8):  # every ticket has exactly 8 lines; a half save would show fewer
                ticket.add_line(TicketLine(f"{ticket.id}-{i}", "prd", ItemKind.PRODUCT, f"Item {i}",
                                           Money(100 + i, "USD"), tax_rate=Decimal("0.0825")))
            repo.save(ticket, base_revision=None)
        base = ticket.revision
        ticket.add_line(TicketLine(f"{ticket.id}-x", "prd", ItemKind.PRODUCT, "Extra", Money(5, "USD")))
        ticket.remove_line(f"{ticket.id}-0")  # still 8 lines after the edit
        event_id += 1
        cursor.apply(event_id, lambda session: TicketRepository(session).save(ticket, base_revision=base))
    """
)


@pytest.mark.slow
def test_sigkill_while_writing_leaves_a_sound_file_and_whole_tickets(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    Database.open(path).close()
    errors = tmp_path / "writer.err"
    with (
        errors.open("wb") as stderr,
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        ) as process,
    ):
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == b"ready", errors.read_text()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # let it write a good number of tickets, then pull the plug
                with Database.open(path) as db, db.reading() as session:
                    if session.execute(text("SELECT count(*) FROM tickets")).scalar() >= 40:
                        break
                time.sleep(0.05)
            process.send_signal(signal.SIGKILL)
        finally:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL

    with Database.open(path) as db:
        with db.reading() as session:
            assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            assert session.execute(text("PRAGMA foreign_key_check")).all() == []
            counts = session.execute(
                text(
                    "SELECT t.number, t.revision, count(l.id) FROM tickets t"
                    " LEFT JOIN ticket_lines l ON l.ticket_id = t.id GROUP BY t.id"
                )
            ).all()
            tickets = TicketRepository(session).list(limit=1000)
        assert len(counts) >= 40
        assert {lines for _number, _rev, lines in counts} == {8}
        # The edit and the cursor moved together: every edited ticket advanced the cursor by one.
        edited = sum(1 for t in tickets if any(line.name == "Extra" for line in t.lines))
        assert EventCursor(db, "store-1").get() == edited
        # And the cache keeps working after the crash.
        with db.session() as session:
            repo = TicketRepository(session)
            assert repo.next_number() == max(number for number, _rev, _lines in counts) + 1
