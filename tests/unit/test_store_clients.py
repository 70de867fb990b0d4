"""Clients, holdings, catalog, appointments and invoice records in the local cache."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from posdesk.core.catalog import AppointmentDetails, CatalogItem, ItemKind, MembershipDetails, ProductDetails
from posdesk.core.client import (
    Client,
    ClientValidationError,
    GiftCardBalance,
    Holdings,
    MembershipHolding,
    PackageHolding,
)
from posdesk.core.events import LinkStatus
from posdesk.core.links import new_link_token
from posdesk.core.money import Money
from posdesk.core.ticket import Ticket
from posdesk.store import (
    AppointmentRepository,
    AppointmentStatus,
    CatalogRepository,
    ClientRepository,
    Database,
    InvoiceRecord,
    InvoiceRecordRepository,
    TicketRepository,
)


@pytest.fixture
def clients(db: Database) -> Database:
    people = [
        Client("c1", "Ana", "García", phone="(217) 555-0101", email="ana.garcia@example.com"),
        Client("c2", "Andrew", "Kim", phone="+1 217 555 0102", email="akim@example.com"),
        Client("c3", "Zoë", "Anders", phone="", email="zoe@example.org"),
        Client("c4", "Bob", "Stone", phone="(312) 555-0199", email="bob@example.com"),
    ]
    with db.session() as session:
        repo = ClientRepository(session)
        for person in people:
            repo.create(person)
    return db


def _search(db: Database, text_: str) -> list[str]:
    with db.reading() as session:
        return [c.id for c in ClientRepository(session).search(text_)]


def test_search_by_first_or_last_name_ignores_case_and_accents(clients: Database) -> None:
    assert _search(clients, "an") == ["c1", "c2", "c3"]  # Ana, Andrew, and Zoë Anders by last name
    assert _search(clients, "GARCIA") == ["c1"]
    assert _search(clients, "zoe") == ["c3"]
    assert _search(clients, "ana g") == ["c1"]
    assert _search(clients, "kim andrew") == ["c2"]
    assert _search(clients, "nobody") == []
    assert _search(clients, "  ") == []


def test_search_by_phone_start_or_last_digits(clients: Database) -> None:
    assert _search(clients, "217") == ["c1"]  # +1 217... starts with 1
    assert _search(clients, "0102") == ["c2"]
    assert _search(clients, "555-0199") == ["c4"]
    assert _search(clients, "+1 217 555") == ["c2"]


def test_search_by_email(clients: Database) -> None:
    assert _search(clients, "akim@") == ["c2"]
    assert _search(clients, "BOB@EXAMPLE") == ["c4"]
    assert _search(clients, "zoe@example.org") == ["c3"]


def test_client_search_uses_the_indexes(clients: Database) -> None:
    with clients.engine.connect() as connection:
        plan = connection.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT id FROM clients WHERE (name_key >= 'an' AND name_key < 'ao')"
            " OR (last_name_key >= 'an' AND last_name_key < 'ao')"
            " OR (email_key >= 'an' AND email_key < 'ao')"
        ).all()
    detail = "\n".join(row[-1] for row in plan)
    for index in ("ix_clients_name_key", "ix_clients_last_name_key", "ix_clients_email_key"):
        assert index in detail


def test_create_validates_and_normalizes(db: Database) -> None:
    with db.session() as session:
        repo = ClientRepository(session)
        created = repo.create(
            Client("", "  Maya ", "Chen", phone=" (217) 555-0150 ", email=" maya@example.com")
        )
        assert created.id and created.first_name == "Maya" and created.phone == "2175550150"
        with pytest.raises(ClientValidationError) as raised:
            repo.create(Client("", "Sam", email="not-an-email"))
        assert raised.value.field == "email"
        with pytest.raises(ClientValidationError):
            repo.create(Client("", " "))
    with db.reading() as session:
        assert ClientRepository(session).get(created.id) == created


def test_update_consent_refuses_consent_without_the_contact(clients: Database) -> None:
    with clients.session() as session:
        repo = ClientRepository(session)
        assert repo.update_consent("c1", sms=True, email=True).can_receive_sms
        with pytest.raises(ClientValidationError):
            repo.update_consent("c3", sms=True)  # Zoë has no phone
    with clients.reading() as session:
        repo = ClientRepository(session)
        assert repo.get("c1").sms_consent and repo.get("c1").email_consent
        assert not repo.get("c3").sms_consent
    with clients.session() as session:
        assert ClientRepository(session).update_consent("c1", sms=False).sms_consent is False


def test_holdings_round_trip_and_a_package_session_is_used(clients: Database) -> None:
    holdings = Holdings(
        packages=(PackageHolding("pkg-5", "5 massages", frozenset({"svc-massage"}), 2),),
        memberships=(MembershipHolding("mem-gold", "Gold", frozenset({"cls-yoga"}), date(2026, 6, 30)),),
        gift_cards=(GiftCardBalance("GC-1", Money(2500, "USD")),),
    )
    with clients.session() as session:
        ClientRepository(session).set_holdings("c1", holdings)
    with clients.session() as session:
        repo = ClientRepository(session)
        assert repo.holdings("c1") == holdings
        assert repo.holdings("c2") == Holdings()
        assert repo.use_package_session("c1", "pkg-5") == 1
        assert repo.use_package_session("c1", "pkg-5") == 0
        with pytest.raises(ValueError):
            repo.use_package_session("c1", "pkg-5")
    with clients.reading() as session:
        assert ClientRepository(session).holdings("c1").packages[0].sessions_left == 0


def test_catalog_lists_by_kind_and_gets_by_id(db: Database) -> None:
    shampoo = CatalogItem(
        "prd-1", ItemKind.PRODUCT, "Shampoo", Money(2400, "USD"), ProductDetails("SH-1", 5), Decimal("0.0825")
    )
    club = CatalogItem(
        "mem-1",
        ItemKind.MEMBERSHIP,
        "Club",
        Money(12900, "USD"),
        MembershipDetails(30, frozenset({"svc-a", "svc-b"}), requires_card_on_file=True),
    )
    with db.session() as session:
        repo = CatalogRepository(session)
        repo.upsert(shampoo)
        repo.upsert(club)
    with db.reading() as session:
        repo = CatalogRepository(session)
        assert repo.list(ItemKind.PRODUCT) == [shampoo]
        assert repo.list(ItemKind.MEMBERSHIP) == [club]
        assert repo.get("mem-1").details.requires_card_on_file is True
        assert repo.get("nope") is None
        assert len(repo.list()) == 2


def test_appointments_of_a_day_in_the_store_time_zone(clients: Database) -> None:
    tz = ZoneInfo("America/Los_Angeles")
    haircut = CatalogItem(
        "svc-cut",
        ItemKind.APPOINTMENT,
        "Haircut",
        Money(4500, "USD"),
        AppointmentDetails("Maya"),
        Decimal("0.0825"),
    )
    day = date(2026, 4, 2)
    with clients.session() as session:
        CatalogRepository(session).upsert(haircut)
        appointments = AppointmentRepository(session)
        for appointment_id, client_id, staff, start, minutes in (
            # 23:30 in Los Angeles is the next day in UTC: it still belongs to the 2nd.
            ("late", "c1", "Maya", datetime(2026, 4, 2, 23, 30, tzinfo=tz), 30),
            ("early", "c2", "Jo", datetime(2026, 4, 2, 8, 0, tzinfo=tz), 45),
            ("yesterday", "c2", "Jo", datetime(2026, 4, 1, 23, 0, tzinfo=tz), 45),
        ):
            appointments.book(
                appointment_id, client_id=client_id, item_id="svc-cut", staff=staff, start=start,
                duration_minutes=minutes,
            )  # fmt: skip
        ticket = Ticket.new(1, "USD")
        TicketRepository(session).save(ticket, base_revision=None)
        appointments.mark_on_ticket("early", ticket.id)
    with clients.reading() as session:
        found = AppointmentRepository(session).for_date(day, tz)
    assert [a.id for a in found] == ["early", "late"]
    assert found[0].client.first_name == "Andrew" and found[0].service == haircut
    assert found[0].status is AppointmentStatus.ON_TICKET and found[0].ticket_id == ticket.id
    assert found[1].status is AppointmentStatus.BOOKED
    assert found[0].end - found[0].start == timedelta(minutes=45)
    line = found[1].to_line()
    assert (line.staff, line.start, line.appointment_id, line.unit_price) == (
        "Maya",
        found[1].start,
        "late",
        Money(4500, "USD"),
    )


def _record(ticket_id: str, **changes) -> InvoiceRecord:
    values = dict(
        ticket_id=ticket_id,
        invoice_id="inv-1",
        version=1,
        link_token=new_link_token(),
        fingerprint="f" * 64,
        expires_at=datetime(2026, 4, 5, 12, 0, tzinfo=UTC),
        amount_requested=None,
        link_status=LinkStatus.PREPARING,
        currency="USD",
    )
    values.update(changes)
    return InvoiceRecord(**values)


def test_invoice_record_round_trip_and_link_status_only_moves_forward(db: Database) -> None:
    ticket = Ticket.new(1, "USD")
    record = _record(ticket.id, amount_requested=Money(2000, "USD"))
    with db.session() as session:
        TicketRepository(session).save(ticket, base_revision=None)
        InvoiceRecordRepository(session).save(record)
    with db.session() as session:
        repo = InvoiceRecordRepository(session)
        assert repo.get(ticket.id) == record
        assert repo.get_by_invoice_id("inv-1") == record
        assert repo.advance_link_status(ticket.id, LinkStatus.SENT)
        assert repo.advance_link_status(ticket.id, LinkStatus.PAID)
        assert not repo.advance_link_status(ticket.id, LinkStatus.OPENED)  # late 'opened' after 'paid'
        repo.mark_out_of_date(ticket.id)
    with db.session() as session:
        repo = InvoiceRecordRepository(session)
        stored = repo.get(ticket.id)
        assert stored.link_status is LinkStatus.PAID and stored.out_of_date
        repo.save(_record(ticket.id, version=2, link_token=record.link_token, link_status=LinkStatus.SENT))
    with db.reading() as session:
        stored = InvoiceRecordRepository(session).get(ticket.id)
        rows = session.execute(text("SELECT count(*) FROM invoices")).scalar()
    assert stored.version == 2 and stored.amount_requested is None and stored.link_token == record.link_token
    assert rows == 1  # one invoice row per ticket
