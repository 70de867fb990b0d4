"""Tickets in the local cache: round trip, atomic saves, stale revisions, search that scales."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, text

from posdesk.core.catalog import ItemKind
from posdesk.core.client import Client
from posdesk.core.money import Money
from posdesk.core.ticket import (
    Coverage,
    LineDiscount,
    Payment,
    PaymentMethod,
    Ticket,
    TicketLine,
    TicketState,
)
from posdesk.store import ClientRepository, Database, Outbox, StaleTicketError, TicketRepository
from posdesk.store.models import TicketRow

TAX = Decimal("0.0825")


def usd(minor: int) -> Money:
    return Money(minor, "USD")


@pytest.fixture
def client(db: Database) -> Client:
    with db.session() as session:
        return ClientRepository(session).create(Client("c-ana", "Ana", "García", phone="(555) 010-4477"))


def full_ticket(number: int = 1, client: Client | None = None) -> Ticket:
    """A ticket with a line of every kind, a prepaid line, discounts, a promo code and two payments."""
    start = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
    ticket = Ticket.new(number, "USD")
    if client is not None:
        ticket.set_client(client.id, client.display_name)
    lines = [
        TicketLine(
            "l1",
            "svc-cut",
            ItemKind.APPOINTMENT,
            "Haircut",
            usd(4500),
            tax_rate=TAX,
            staff="Maya",
            start=start,
            appointment_id="appt-1",
            discount=LineDiscount(percent=Decimal("0.10")),
        ),
        TicketLine(
            "l2",
            "svc-color",
            ItemKind.APPOINTMENT,
            "Color",
            usd(9000),
            tax_rate=TAX,
            prepaid=Coverage.PACKAGE,
            prepaid_holding_id="pkg-color-5",
        ),
        TicketLine(
            "l3",
            "cls-yoga",
            ItemKind.CLASS,
            "Morning yoga",
            usd(2000),
            tax_rate=TAX,
            prepaid=Coverage.MEMBERSHIP,
            prepaid_holding_id="mem-gold",
            start=start + timedelta(hours=1),
        ),
        TicketLine(
            "l4",
            "prd-shampoo",
            ItemKind.PRODUCT,
            "Argan shampoo",
            usd(1850),
            quantity=2,
            tax_rate=TAX,
            discount=LineDiscount(amount=usd(300)),
            note="travel size",
        ),
        TicketLine("l5", "mem-gold", ItemKind.MEMBERSHIP, "Gold membership", usd(12000), tax_rate=TAX),
        TicketLine("l6", "pkg-5", ItemKind.PACKAGE, "5 blowouts", usd(17500), tax_rate=TAX),
        TicketLine("l7", "gift", ItemKind.GIFT_CARD, "Gift card", usd(5000), note="for Sam"),
    ]
    for line in lines:
        ticket.add_line(line)
    ticket.add_promo_code("spring10")
    ticket.note = "Prefers the window seat"
    ticket.payments.append(
        Payment("p1", usd(2000), usd(0), PaymentMethod.CASH, datetime(2026, 3, 4, 16, 0, tzinfo=UTC))
    )
    ticket.payments.append(
        Payment(
            "p2",
            usd(5000),
            usd(900),
            PaymentMethod.ONLINE_CARD,
            datetime(2026, 3, 4, 16, 5, tzinfo=UTC),
            reference="pi_123",
            card_brand="visa",
            card_last4="4242",
            refunded=usd(100),
        )
    )
    ticket.move_to(TicketState.PARTIALLY_PAID)
    return ticket


def test_a_ticket_with_every_kind_of_line_comes_back_identical(db: Database, client: Client) -> None:
    ticket = full_ticket(client=client)
    with db.session() as session:
        TicketRepository(session).save(ticket, base_revision=None)
    with db.reading() as session:
        loaded = TicketRepository(session).get(ticket.id)
    assert loaded == ticket
    assert {line.kind for line in loaded.lines} == set(ItemKind)
    assert loaded.lines[1].prepaid is Coverage.PACKAGE
    assert loaded.lines[0].start is not None and loaded.lines[0].start.tzinfo is not None
    assert loaded.payments[1].refunded == usd(100)


def test_saving_again_replaces_lines_and_payments(db: Database, client: Client) -> None:
    ticket = full_ticket(client=client)
    with db.session() as session:
        TicketRepository(session).save(ticket, base_revision=None)
    base = ticket.revision
    ticket.remove_line("l4")
    ticket.update_line("l1", quantity=2)
    ticket.payments.pop()
    with db.session() as session:
        TicketRepository(session).save(ticket, base_revision=base)
    with db.reading() as session:
        loaded = TicketRepository(session).get(ticket.id)
        lines_in_file = session.execute(text("SELECT count(*) FROM ticket_lines")).scalar()
    assert loaded == ticket
    assert [line.id for line in loaded.lines] == ["l1", "l2", "l3", "l5", "l6", "l7"]
    assert lines_in_file == 6


def test_a_crash_in_the_middle_of_a_save_leaves_the_previous_ticket(db: Database, client: Client) -> None:
    ticket = full_ticket(client=client)
    with db.session() as session:
        TicketRepository(session).save(ticket, base_revision=None)
    before = ticket.revision
    saved = copy.deepcopy(ticket)
    ticket.remove_line("l2")
    ticket.remove_line("l3")
    with pytest.raises(OSError), db.session() as session:
        TicketRepository(session).save(ticket, base_revision=before)
        # The lines are written at this point; the failure must undo them and the ticket row together.
        assert session.execute(text("SELECT count(*) FROM ticket_lines")).scalar() == 5
        raise OSError("disk full")
    with db.reading() as session:
        loaded = TicketRepository(session).get(ticket.id)
    assert loaded == saved


def test_a_save_based_on_an_old_revision_is_refused(db: Database) -> None:
    ticket = Ticket.new(1, "USD")
    ticket.add_line(TicketLine("l1", "prd", ItemKind.PRODUCT, "Comb", usd(900)))
    with db.session() as session:
        TicketRepository(session).save(ticket, base_revision=None)
    loaded_rev = ticket.revision

    with db.reading() as session:  # terminal B loads the same ticket
        other = TicketRepository(session).get(ticket.id)
    assert other is not None

    ticket.update_line("l1", quantity=3)  # terminal A saves first
    with db.session() as session:
        TicketRepository(session).save(ticket, base_revision=loaded_rev)

    other.update_line("l1", quantity=5)
    with pytest.raises(StaleTicketError) as raised, db.session() as session:
        TicketRepository(session).save(other, base_revision=loaded_rev)
    assert raised.value.stored == ticket.revision
    with db.reading() as session:
        assert TicketRepository(session).get(ticket.id).lines[0].quantity == 3  # A's edit, not merged


def test_saving_a_new_ticket_twice_is_refused(db: Database) -> None:
    ticket = Ticket.new(1, "USD")
    with db.session() as session:
        TicketRepository(session).save(ticket, base_revision=None)
    with pytest.raises(StaleTicketError), db.session() as session:
        TicketRepository(session).save(ticket, base_revision=None)


def test_next_number_follows_the_largest(db: Database) -> None:
    with db.session() as session:
        repo = TicketRepository(session)
        assert repo.next_number() == 1
        repo.save(Ticket.new(1, "USD"), base_revision=None)
        repo.save(Ticket.new(7, "USD"), base_revision=None)
        assert repo.next_number() == 8


def test_ticket_and_outbox_entry_are_saved_together_or_not_at_all(db: Database) -> None:
    ticket = Ticket.new(1, "USD")
    with pytest.raises(RuntimeError), db.session() as session:
        TicketRepository(session).save_with_outbox(
            ticket, base_revision=None, kind="invoice.upsert", key="inv-1:v1", payload={"v": 1}
        )
        raise RuntimeError("power flicker")
    with db.reading() as session:
        assert TicketRepository(session).get(ticket.id) is None
        assert Outbox(session).pending_count() == 0
    with db.session() as session:
        TicketRepository(session).save_with_outbox(
            ticket, base_revision=None, kind="invoice.upsert", key="inv-1:v1", payload={"v": 1}
        )
    with db.reading() as session:
        assert TicketRepository(session).get(ticket.id) is not None
        assert [e.key for e in Outbox(session).due()] == ["inv-1:v1"]


def test_list_filters_by_state_and_searches_number_and_client_name(db: Database) -> None:
    with db.session() as session:
        clients = ClientRepository(session)
        repo = TicketRepository(session)
        for number, (first, last) in enumerate(
            [("Ana", "García"), ("Andrew", "Kim"), ("Bob", "Stone"), ("Ána", "Lopez")], start=1
        ):
            client = clients.create(Client(f"c{number}", first, last))
            ticket = Ticket.new(number, "USD")
            ticket.set_client(client.id, client.display_name)
            if number == 3:
                ticket.move_to(TicketState.PAID)
            repo.save(ticket, base_revision=None)
    with db.reading() as session:
        repo = TicketRepository(session)
        assert [t.number for t in repo.list()] == [4, 3, 2, 1]
        assert [t.number for t in repo.list(states=[TicketState.PAID])] == [3]
        assert [t.number for t in repo.list(search="3")] == [3]
        assert [t.number for t in repo.list(search="#2")] == [2]
        # Accents and case do not matter; name order, then newest first.
        assert [t.client_name for t in repo.list(search="ANA")] == ["Ana García", "Ána Lopez"]
        assert [t.number for t in repo.list(search="an")] == [1, 4, 2]
        assert [t.number for t in repo.list(search="an", limit=1, offset=1)] == [4]
        assert [t.number for t in repo.list(states=[TicketState.OPEN], search="bob")] == []
        assert [t.number for t in repo.list(client_id="c2")] == [2]


def _plan(db: Database, query) -> str:
    with db.engine.connect() as connection:
        compiled = query.compile(connection, compile_kwargs={"literal_binds": True})
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
    return "\n".join(row[-1] for row in rows)


def test_ticket_search_reads_an_index_and_never_sorts_the_table(db: Database) -> None:
    names = ["Ana García", "Andrew Kim", "Bob Stone", "Chloe Park", "Diego Ruiz", "Emma Brown"]
    now = datetime.now(UTC)
    with db.session() as session:
        session.execute(
            insert(TicketRow),
            [
                {
                    "id": f"t{n:06d}",
                    "number": n,
                    "currency": "USD",
                    "client_id": None,
                    "client_name": names[n % len(names)],
                    "client_key": names[n % len(names)].lower(),
                    "state": "paid" if n % 10 else "open",
                    "revision": 1,
                    "promo_codes": [],
                    "note": "",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(1, 20_001)
            ],
        )
        session.execute(text("ANALYZE"))
    with db.reading() as session:
        repo = TicketRepository(session)
        by_name = _plan(db, repo.list_query(search="and"))
        open_by_name = _plan(db, repo.list_query(states=[TicketState.OPEN], search="and"))
        by_number = _plan(db, repo.list_query(search="12345"))
        by_state = _plan(db, repo.list_query(states=[TicketState.OPEN]))
        assert [t.number for t in repo.list(search="andrew", limit=3)] == [19999, 19993, 19987]
    assert "USING INDEX ix_tickets_client_key_number (client_key>? AND client_key<?)" in by_name
    assert "TEMP B-TREE" not in by_name  # the index order is the result order: no sort of the matches
    assert "USING INDEX ix_tickets_client_key_number" in open_by_name and "TEMP B-TREE" not in open_by_name
    assert "USING INDEX" in by_number and "(number=?)" in by_number  # the unique index on number
    assert "SCAN tickets\n" not in by_state + "\n" and "INDEX" in by_state
