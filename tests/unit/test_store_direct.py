"""The first screen's direct reads (stdlib sqlite3) give what the repositories give, from the same file.

The POS shows its New Ticket view from :meth:`Database.direct` before SQLAlchemy is imported; if the
two paths disagreed, a cashier would see a different catalog, appointments or search results at
start-up than after the first save.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from posdesk.core.catalog import CatalogItem, ItemKind, ProductDetails
from posdesk.core.client import Client, GiftCardBalance, Holdings, MembershipHolding, PackageHolding
from posdesk.core.money import Money
from posdesk.store import (
    AppointmentRepository,
    CatalogRepository,
    ClientRepository,
    Database,
    SettingsRepository,
)
from posdesk.store.sample import load_sample_data

CHICAGO = ZoneInfo("America/Chicago")
TODAY = date(2026, 3, 8)  # the day US clocks change: the day's bounds are not 24 hours apart


@pytest.fixture
def db(tmp_path: Path):
    database = Database.open(tmp_path / "cache.db")
    load_sample_data(database, TODAY, CHICAGO)
    yield database
    database.close()


def test_catalog_and_settings_read_directly_equal_the_repositories(db: Database) -> None:
    with db.session() as session:  # an inactive item is not listed by either
        CatalogRepository(session).upsert(
            CatalogItem(
                "retired",
                ItemKind.PRODUCT,
                "Retired balm",
                Money(500, "USD"),
                ProductDetails(sku="RB-1"),
                active=False,
            )
        )
    with db.reading() as session:
        catalog = CatalogRepository(session).list()
        settings = SettingsRepository(session).terminal()
    with db.direct() as reader:
        assert reader.catalog() == catalog
        assert reader.terminal_settings() == settings
    assert catalog and "retired" not in {item.id for item in catalog}
    assert settings.business_name  # the sample data set it: not just the defaults on both sides


def test_todays_appointments_read_directly_equal_the_repository_on_each_day(db: Database) -> None:
    for day in (TODAY - timedelta(days=1), TODAY, TODAY + timedelta(days=1)):
        with db.reading() as session:
            expected = AppointmentRepository(session).for_date(day, CHICAGO)
        with db.direct() as reader:
            assert reader.appointments_for_date(day, CHICAGO) == expected
    with db.direct() as reader:
        today = reader.appointments_for_date(TODAY, CHICAGO)
    assert today and all(a.start.date() == TODAY and a.start.tzinfo == CHICAGO for a in today)


@pytest.mark.parametrize(
    "text", ["m", "Marcus", "reed", "REED MAR", "rene", "René", "555", "0102", "@", "x y z", ""]
)
def test_client_search_read_directly_equals_the_repository(db: Database, text: str) -> None:
    with db.session() as session:
        ClientRepository(session).create(
            Client("", "René", "Dupré", phone="(555) 010-2000", email="Rene@Example.com", sms_consent=True)
        )
    with db.reading() as session:
        expected = ClientRepository(session).search(text, limit=5)
    with db.direct() as reader:
        assert reader.search_clients(text, limit=5) == expected


def test_a_client_and_holdings_read_directly_equal_the_repository(db: Database) -> None:
    holdings = Holdings(
        packages=(PackageHolding("pkg-5", "Five massages", frozenset({"svc-a", "svc-b"}), 3),),
        memberships=(MembershipHolding("mem-1", "Unlimited yoga", frozenset({"cls-1"}), date(2026, 12, 31)),),
        gift_cards=(GiftCardBalance("GC-1", Money(2500, "USD")),),
    )
    with db.session() as session:
        clients = ClientRepository(session)
        client = clients.create(Client("", "Ada", "Byron", email="ada@example.com", email_consent=True))
        clients.set_holdings(client.id, holdings)
    with db.reading() as session:
        repository = ClientRepository(session)
        assert repository.holdings(client.id) == holdings
        expected_client = repository.get(client.id)
    with db.direct() as reader:
        assert reader.holdings(client.id) == holdings
        assert reader.holdings("nobody") == Holdings()
        assert reader.client(client.id) == expected_client == client
        assert reader.client("nobody") is None


def test_a_direct_read_sees_a_write_committed_after_the_reader_was_first_used(db: Database) -> None:
    with db.direct() as reader:
        before = len(reader.catalog())
    with db.session() as session:
        CatalogRepository(session).upsert(
            CatalogItem(
                "new",
                ItemKind.PRODUCT,
                "New oil",
                Money(1200, "USD"),
                ProductDetails(sku="NO-1"),
                Decimal("0.08"),
            )
        )
    with db.direct() as reader:
        assert len(reader.catalog()) == before + 1


def test_an_up_to_date_cache_opens_and_reads_its_first_screen_without_sqlalchemy(db: Database) -> None:
    code = (
        "import sys; from datetime import date; from zoneinfo import ZoneInfo;"
        "from posdesk.gui.backend import PosBackend; from posdesk.store import Database;"
        f"db = Database.open({str(db.path)!r}); backend = PosBackend(db);"
        "assert backend.settings().business_name and backend.catalog();"
        f"assert backend.todays_appointments(date({TODAY.year}, {TODAY.month}, {TODAY.day}), ZoneInfo('America/Chicago'));"
        "assert backend.search_clients('m');"
        "db.close(); print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'alembic'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_times_are_compared_as_stored_at_the_edges_of_the_day(db: Database) -> None:
    midnight = datetime.combine(TODAY, datetime.min.time(), tzinfo=CHICAGO)
    with db.session() as session:
        item = CatalogRepository(session).list(ItemKind.APPOINTMENT)[0]
        appointments = AppointmentRepository(session)
        appointments.book(
            "at-midnight", client_id=None, item_id=item.id, staff="", start=midnight, duration_minutes=30
        )
        appointments.book(
            "just-before",
            client_id=None,
            item_id=item.id,
            staff="",
            start=midnight - timedelta(microseconds=1),
            duration_minutes=30,
        )
    with db.direct() as reader:
        ids = [a.id for a in reader.appointments_for_date(TODAY, CHICAGO)]
    assert "at-midnight" in ids and "just-before" not in ids
