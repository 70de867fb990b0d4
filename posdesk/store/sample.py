"""Demo-mode sample data: a small salon's catalog, clients, their holdings and today's appointments.

The data lives in ``resources/sample_data.json``. Appointments there are times of day; loading places
them on ``today`` in the store's time zone, so the Services panel always has something to show.
Loading is idempotent and gentle: it only adds what is missing (by id), so loading twice duplicates
nothing and never overwrites what the cashier changed since.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

from posdesk import paths
from posdesk.core.catalog import CatalogItem, ItemKind
from posdesk.core.client import Client, GiftCardBalance, Holdings, MembershipHolding, PackageHolding
from posdesk.core.money import Money
from posdesk.store.appointments import AppointmentRepository, AppointmentStatus
from posdesk.store.catalog import CatalogRepository
from posdesk.store.clients import ClientRepository
from posdesk.store.codecs import details_from_json
from posdesk.store.database import Database
from posdesk.store.terminal_settings import SettingsRepository

SAMPLE_FILE = "sample_data.json"


@dataclass(frozen=True, slots=True)
class SampleLoad:
    """How much a load added (all zero when the data was already there)."""

    items: int
    clients: int
    appointments: int


def sample_data_path() -> Path:
    return paths.resources_dir() / SAMPLE_FILE


def appointment_id(day: date, key: str) -> str:
    """Stable id of a sample appointment on ``day``: the same day's load finds it again."""
    return f"sample-{day.isoformat()}-{key}"


def load_sample_data(db: Database, today: date, tz: tzinfo, path: Path | None = None) -> SampleLoad:
    """Add the sample catalog, clients and ``today``'s appointments (times of day in ``tz``).

    Also fills in the business name, address and currency of the terminal settings when none are set.
    """
    raw: dict[str, Any] = json.loads((path or sample_data_path()).read_text(encoding="utf-8"))
    currency = raw["currency"]
    items = [_item(entry, currency) for entry in raw["catalog"]]
    by_id = {item.id: item for item in items}
    added_items = added_clients = added_appointments = 0
    with db.session() as session:
        catalog = CatalogRepository(session)
        for item in items:
            if catalog.get(item.id) is None:
                catalog.upsert(item)
                added_items += 1

        clients = ClientRepository(session)
        for entry in raw["clients"]:
            if clients.get(entry["id"]) is not None:
                continue
            clients.create(_client(entry))
            clients.set_holdings(entry["id"], _holdings(entry.get("holdings", ()), by_id, today, currency))
            added_clients += 1

        appointments = AppointmentRepository(session)
        existing = {a.id for a in appointments.for_date(today, tz)}
        for entry in raw["appointments"]:
            appt_id = appointment_id(today, entry["key"])
            if appt_id in existing:
                continue
            hour, minute = (int(part) for part in entry["time"].split(":"))
            appointments.book(
                appt_id,
                client_id=entry.get("client_id"),
                item_id=entry["item_id"],
                staff=entry["staff"],
                start=datetime.combine(today, time(hour, minute), tzinfo=tz),
                duration_minutes=int(entry["duration_minutes"]),
                status=AppointmentStatus(entry.get("status", "booked")),
            )
            added_appointments += 1

        settings = SettingsRepository(session)
        terminal = settings.terminal()
        if not terminal.business_name:
            business = raw.get("business", {})
            settings.save_terminal(
                replace(
                    terminal,
                    business_name=business.get("name", ""),
                    business_address=business.get("address", ""),
                    currency=currency,
                )
            )
    return SampleLoad(added_items, added_clients, added_appointments)


def _item(entry: dict[str, Any], currency: str) -> CatalogItem:
    kind = ItemKind(entry["kind"])
    return CatalogItem(
        id=entry["id"],
        kind=kind,
        name=entry["name"],
        price=Money.from_decimal(entry["price"], currency),
        details=details_from_json(kind, entry.get("details", {})),
        tax_rate=Decimal(entry.get("tax_rate", "0")),
    )


def _client(entry: dict[str, Any]) -> Client:
    return Client(
        id=entry["id"],
        first_name=entry["first_name"],
        last_name=entry.get("last_name", ""),
        phone=entry.get("phone", ""),
        email=entry.get("email", ""),
        sms_consent=bool(entry.get("sms_consent", False)),
        email_consent=bool(entry.get("email_consent", False)),
    )


def _holdings(entries: Any, catalog: dict[str, CatalogItem], today: date, currency: str) -> Holdings:
    packages: list[PackageHolding] = []
    memberships: list[MembershipHolding] = []
    gift_cards: list[GiftCardBalance] = []
    for entry in entries:
        if entry["kind"] == "gift_card":
            gift_cards.append(
                GiftCardBalance(entry["holding_id"], Money.from_decimal(entry["balance"], currency))
            )
            continue
        item = catalog[entry["holding_id"]]
        details: Any = item.details
        if entry["kind"] == "package":
            packages.append(
                PackageHolding(item.id, item.name, details.service_ids, int(entry["sessions_left"]))
            )
        elif entry["kind"] == "membership":
            until = today + timedelta(days=int(entry["active_days"]))
            memberships.append(MembershipHolding(item.id, item.name, details.covers_service_ids, until))
        else:
            raise ValueError(f"unknown holding kind {entry['kind']!r} in sample data")
    return Holdings(tuple(packages), tuple(memberships), tuple(gift_cards))
