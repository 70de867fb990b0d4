"""Demo-mode sample data: every kind of item, clean clients, today's appointments, idempotent."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from posdesk.core.catalog import ItemKind
from posdesk.core.money import Money
from posdesk.store import (
    AppointmentRepository,
    AppointmentStatus,
    CatalogRepository,
    ClientRepository,
    Database,
    SettingsRepository,
)
from posdesk.store.sample import load_sample_data, sample_data_path

CHICAGO = ZoneInfo("America/Chicago")
TODAY = date(2026, 3, 8)  # the day US clocks change: times of day must still land on this date


def test_the_catalog_has_every_kind_with_its_details(db: Database) -> None:
    load_sample_data(db, TODAY, CHICAGO)
    with db.reading() as session:
        catalog = CatalogRepository(session)
        by_kind = {kind: catalog.list(kind) for kind in ItemKind}
    assert {kind for kind, items in by_kind.items() if items} == set(ItemKind)
    assert len(by_kind[ItemKind.APPOINTMENT]) >= 4
    assert all(item.details.staff for item in by_kind[ItemKind.APPOINTMENT])
    assert len(by_kind[ItemKind.CLASS]) == 2
    assert len(by_kind[ItemKind.PRODUCT]) == 6
    assert all(item.details.sku and item.details.stock > 0 for item in by_kind[ItemKind.PRODUCT])
    memberships = by_kind[ItemKind.MEMBERSHIP]
    assert len(memberships) == 2
    assert sorted(m.details.requires_card_on_file for m in memberships) == [False, True]
    assert len(by_kind[ItemKind.PACKAGE]) == 2
    assert len(by_kind[ItemKind.GIFT_CARD]) == 1
    for kind in (ItemKind.APPOINTMENT, ItemKind.PRODUCT):
        assert {item.tax_rate for item in by_kind[kind]} == {Decimal("0.0825")}
    assert by_kind[ItemKind.GIFT_CARD][0].tax_rate == 0
    everything = [item for items in by_kind.values() for item in items]
    assert {item.price.currency for item in everything} == {"USD"}
    # What packages and memberships cover exists in the catalog.
    ids = {item.id for item in everything}
    for item in by_kind[ItemKind.PACKAGE]:
        assert item.details.service_ids <= ids
    for item in memberships:
        assert item.details.covers_service_ids <= ids


def test_today_appointments_are_on_today_with_client_and_service(db: Database) -> None:
    load_sample_data(db, TODAY, CHICAGO)
    with db.reading() as session:
        appointments = AppointmentRepository(session).for_date(TODAY, CHICAGO)
        tomorrow = AppointmentRepository(session).for_date(TODAY + timedelta(days=1), CHICAGO)
    assert len(appointments) >= 6
    assert tomorrow == []
    assert all(a.start.date() == TODAY for a in appointments)
    assert appointments[0].start == datetime(2026, 3, 8, 9, 0, tzinfo=CHICAGO)
    assert [a.start for a in appointments] == sorted(a.start for a in appointments)
    assert all(a.client is not None and a.service.kind.is_service for a in appointments)
    assert AppointmentStatus.BOOKED in {a.status for a in appointments}
    line = appointments[0].to_line()
    assert line.appointment_id == appointments[0].id and line.staff == appointments[0].staff


def test_loading_twice_duplicates_nothing_and_a_new_day_brings_its_appointments(db: Database) -> None:
    first = load_sample_data(db, TODAY, CHICAGO)
    again = load_sample_data(db, TODAY, CHICAGO)
    assert (again.items, again.clients, again.appointments) == (0, 0, 0)
    assert first.clients == 20
    with db.reading() as session:
        assert len(AppointmentRepository(session).for_date(TODAY, CHICAGO)) == first.appointments
    next_day = load_sample_data(db, TODAY + timedelta(days=1), CHICAGO)
    assert (next_day.items, next_day.clients, next_day.appointments) == (0, 0, first.appointments)


def test_sample_clients_are_clean_and_some_hold_packages_memberships_and_consent(db: Database) -> None:
    load_sample_data(db, TODAY, CHICAGO)
    raw = json.loads(sample_data_path().read_text(encoding="utf-8"))
    with db.reading() as session:
        clients = ClientRepository(session)
        loaded = [clients.get(entry["id"]) for entry in raw["clients"]]
        holdings = {c.id: clients.holdings(c.id) for c in loaded if c}
    assert all(c is not None for c in loaded)
    for client in loaded:
        assert not set(client.display_name) & set('<>"&{}')
        assert client.email == "" or client.email.endswith("@example.com")
        assert client.phone == "" or "5550" in client.phone  # the 555-01xx range kept for fiction
    assert any(c.can_receive_sms for c in loaded) and any(c.can_receive_email for c in loaded)
    assert any(h.packages for h in holdings.values())
    member = next(h for h in holdings.values() if h.memberships)
    assert member.memberships[0].is_active(TODAY)
    gift = next(h for h in holdings.values() if h.gift_cards)
    assert gift.gift_cards[0].balance == Money(3500, "USD")
    # A sample client whose appointment is covered by what they hold shows up as prepaid-able.
    olivia = holdings["cl-olivia-bennett"]
    assert olivia.coverage_for("svc-blowout", TODAY) == ("package", "pkg-blowout-3")


def test_sample_data_names_the_business_once(db: Database) -> None:
    load_sample_data(db, TODAY, CHICAGO)
    with db.session() as session:
        settings = SettingsRepository(session)
        terminal = settings.terminal()
        assert terminal.business_name == "Willow & Sage Salon" and terminal.currency == "USD"
        assert terminal.online_payment_link_enabled is False
        from dataclasses import replace

        settings.save_terminal(replace(terminal, business_name="Renamed by the manager"))
    load_sample_data(db, TODAY, CHICAGO)
    with db.reading() as session:
        assert SettingsRepository(session).terminal().business_name == "Renamed by the manager"
