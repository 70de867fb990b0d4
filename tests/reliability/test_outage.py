"""Cases 15 and 16: the shop's network to the companion goes down for a long time; two terminals.

(15) The terminal's link to the companion is cut (a real TCP forwarder between them drops every
     connection and refuses new ones) while the cashier keeps working and the client pays on their
     phone (the companion itself is up). The POS says "offline", keeps every ticket, and when the link
     comes back it closes the paid ticket and uploads what waited, within seconds.
(16) Two terminals of one store: both see the ticket close; a conflicting edit is refused, not merged.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from posdesk.companion.auth import new_pairing_code, pair_terminal
from posdesk.core.money import Money
from posdesk.core.ticket import TicketState, utcnow
from posdesk.store import StaleTicketError, TicketRepository
from posdesk.store.models import OutboxRow
from posdesk.store.outbox import Outbox
from posdesk.sync import ConnectionState
from posdesk.sync.service import RETRY_MAX
from tests.companion.conftest import Companion, invoice_upload
from tests.reliability.programs import pay_link, tcp_link
from tests.till import Till
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

# The consumer's reconnect delay doubles from 0.5 s to its cap: offline this long, it is at the cap.
TO_REACH_THE_CAP = 0.5 + 1 + 2 + 4 + 8 + 1


def second_credential(companion: Companion) -> str:
    """Pair another terminal to the companion's store."""
    with companion.db.write() as session:
        code = new_pairing_code(session, companion.terminal.store_id)
    with companion.db.write() as session:
        return pair_terminal(session, code, "Till 2")[1]


@pytest.mark.slow
def test_a_long_outage_keeps_every_ticket_and_closes_the_paid_one_within_seconds(
    companion: Companion, tmp_path: Path
) -> None:
    store_id = companion.terminal.store_id
    with tcp_link(int(companion.url.rsplit(":", 1)[1])) as link:
        till = Till(tmp_path / "pos.db", link.url, companion.terminal.credential, store_id)
        try:
            till.start()
            paid_offline = till.new_ticket(price=6000)
            sent = till.send(paid_offline.id)
            wait_until(lambda: till.pending() == 0, what="the first upload")
            # The upload can finish before the event consumer has connected: the POS must have been
            # online for the cut to be one it notices (else its state never changes, nor is recorded).
            wait_until(lambda: till.state is ConnectionState.ONLINE, what="the POS to say online")

            link.cut()
            wait_until(lambda: till.state is ConnectionState.OFFLINE, what="the POS to say offline")
            # The cashier keeps working: another invoice (queued) and a plain ticket.
            queued = till.new_ticket(price=4500)
            queued_link = till.send(queued.id)
            plain = till.new_ticket(price=2500)
            # The client pays the first link on their phone meanwhile.
            assert pay_link(companion.url, sent.token).status_code == 303
            time.sleep(TO_REACH_THE_CAP)
            # Two hours of failed uploads leave the entry at the outbox's 5-minute backoff cap.
            with till.db.session() as session:
                session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.done_at.is_(None))
                    .values(attempts=40, next_try_at=utcnow() + timedelta(minutes=5))
                )
            assert till.ticket(paid_offline.id).state is TicketState.AWAITING_PAYMENT
            with till.db.reading() as session:
                waiting = Outbox(session).get_by_key(f"invoice:{queued_link.invoice_id}:v{queued_link.version}")
            assert waiting is not None and not waiting.is_done, "the invoice sent offline waits in the outbox"
            assert till.ticket_count() == 3

            link.restore()
            back = time.monotonic()
            wait_until(lambda: till.ticket(paid_offline.id).state is TicketState.PAID, timeout=60, what="the close")
            to_close = time.monotonic() - back
            wait_until(lambda: till.pending() == 0, timeout=60, what="the queued upload")
            to_upload = time.monotonic() - back

            assert ConnectionState.OFFLINE in till.states and till.state is ConnectionState.ONLINE
            assert to_close < RETRY_MAX + 5, f"closed {to_close:.1f} s after the link came back"
            assert to_upload < RETRY_MAX + 5, f"uploaded {to_upload:.1f} s after the link came back"
            # Nothing lost: the three tickets, the payment once, the queued invoice now payable.
            assert till.ticket_count() == 3
            assert [p.amount for p in till.ticket(paid_offline.id).payments] == [Money(6000, "USD")]
            assert till.ticket(plain.id).state is TicketState.OPEN
            assert pay_link(companion.url, queued_link.token).status_code == 303
            wait_until(lambda: till.ticket(queued.id).state is TicketState.PAID, what="the second close")
            print(f"\nFIGURE case 15: reconnect to close {to_close:.2f} s, to queued upload {to_upload:.2f} s, lost 0")
        finally:
            till.close()


def test_two_terminals_both_see_the_close(companion: Companion, tmp_path: Path) -> None:
    store_id = companion.terminal.store_id
    till1 = Till(tmp_path / "till1.db", companion.url, companion.terminal.credential, store_id)
    till2 = Till(tmp_path / "till2.db", companion.url, second_credential(companion), store_id)
    try:
        till1.start()
        till2.start()
        ticket = till1.new_ticket()
        link = till1.send(ticket.id)
        wait_until(lambda: till1.pending() == 0, what="the upload")
        assert pay_link(companion.url, link.token).status_code == 303
        wait_until(lambda: till1.ticket(ticket.id).state is TicketState.PAID, what="the close on till 1")
        wait_until(lambda: till2.sync and till2.sync.cursor.get() == till1.sync.cursor.get(), what="till 2 to catch up")  # type: ignore[union-attr]
        with till2.db.reading() as session:
            held = TicketRepository(session).get(ticket.id)
        assert held is not None, "till 2 holds the ticket till 1 invoiced"
        assert held.state is TicketState.PAID and len(held.payments) == 1
    finally:
        till1.close()
        till2.close()


def test_an_edit_based_on_a_copy_from_before_the_payment_is_refused(companion: Companion, tmp_path: Path) -> None:
    till = Till(tmp_path / "pos.db", companion.url, companion.terminal.credential, companion.terminal.store_id)
    try:
        till.start()
        ticket = till.new_ticket()
        link = till.send(ticket.id)
        wait_until(lambda: till.pending() == 0, what="the upload")
        with till.db.reading() as session:
            on_screen = TicketRepository(session).get(ticket.id)  # the cashier's copy, being edited
        assert on_screen is not None
        base = on_screen.revision
        assert pay_link(companion.url, link.token).status_code == 303
        wait_until(lambda: till.ticket(ticket.id).state is TicketState.PAID, what="the close")

        on_screen.lines = on_screen.lines[:0]  # the cashier removes the line and saves
        with pytest.raises(StaleTicketError), till.db.session() as session:
            TicketRepository(session).save(on_screen, base_revision=base)
        kept = till.ticket(ticket.id)
        assert kept.state is TicketState.PAID and len(kept.lines) == 1 and len(kept.payments) == 1
    finally:
        till.close()


def test_two_terminals_uploading_different_versions_the_second_is_refused(companion: Companion) -> None:
    body = invoice_upload()
    invoice_id = body["invoice_id"]
    assert companion.api.put(f"/api/v1/invoices/{invoice_id}", json=body).status_code == 200
    from tests.companion.conftest import product_line, service_line

    mine = invoice_upload(invoice_id=invoice_id, ticket_id=body["ticket_id"], version=2, link_token=body["link_token"], lines=[service_line(price=7000)])
    theirs = invoice_upload(invoice_id=invoice_id, ticket_id=body["ticket_id"], version=2, link_token=body["link_token"], lines=[product_line(price=900)])
    with httpx.Client(base_url=companion.url, headers={"Authorization": f"Bearer {second_credential(companion)}"}) as till2:
        assert companion.api.put(f"/api/v1/invoices/{invoice_id}", json=mine).status_code == 200
        refused = till2.put(f"/api/v1/invoices/{invoice_id}", json=theirs)
    assert refused.status_code == 422 and refused.json()["current_version"] == 2
    held = companion.api.get(f"/api/v1/invoices/{invoice_id}").json()
    assert held["version"] == 2 and held["amount_due"] == 7000
