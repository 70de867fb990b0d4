"""The first screen's reads through the stdlib ``sqlite3`` module, without SQLAlchemy.

Importing SQLAlchemy's ORM and our models costs more than showing a bare window (DESIGN.md section 7
wants the POS's New Ticket view within 3x of one). What that view needs to become interactive is read
here with plain SQL: the terminal settings, the catalog, today's appointments, and client search and
holdings as the cashier types and picks. They return the same values as the repositories
(``tests/unit/test_store_direct.py`` compares them), from the same tables, each call one read
transaction (a consistent snapshot that never waits for a writer, WAL). Every write, and every other
read, still goes through the repositories and :meth:`Database.session` / :meth:`Database.reading`.

Storage conventions mirrored from :mod:`posdesk.store.models`: times are naive UTC text
(``YYYY-MM-DD HH:MM:SS.ffffff``), JSON columns are JSON text, booleans 0/1, dates ``YYYY-MM-DD``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

from posdesk.core.catalog import CatalogItem, ItemKind
from posdesk.core.client import Client, GiftCardBalance, Holdings, MembershipHolding, PackageHolding
from posdesk.core.money import Money
from posdesk.store.codecs import details_from_json
from posdesk.store.search import email_key, looks_like_phone, name_key, phone_key, prefix_upper_bound
from posdesk.store.values import TERMINAL_KEY, Appointment, AppointmentStatus, TerminalSettings

_ITEM_COLUMNS = (
    "{t}.id, {t}.kind, {t}.name, {t}.price_minor, {t}.currency, {t}.tax_rate, {t}.details, {t}.active"
)
_CLIENT_COLUMNS = (
    "{t}.id, {t}.first_name, {t}.last_name, {t}.phone, {t}.email, {t}.sms_consent, {t}.email_consent"
)


def connect(path: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    """A connection for reads: autocommit mode (each read block is its own BEGIN ... ROLLBACK)."""
    connection = sqlite3.connect(
        path, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
    )
    connection.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    return connection


class DirectReader:
    """Read-only queries on one ``sqlite3`` connection, inside one read transaction."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def terminal_settings(self) -> TerminalSettings:
        """As :meth:`SettingsRepository.terminal`: the defaults when none were saved."""
        row = self.connection.execute("SELECT value FROM settings WHERE key = ?", (TERMINAL_KEY,)).fetchone()
        raw = None if row is None or row[0] is None else json.loads(row[0])
        return TerminalSettings.from_json(raw)

    def catalog(self) -> list[CatalogItem]:
        """As :meth:`CatalogRepository.list` with no arguments: active items, by kind then name."""
        rows = self.connection.execute(
            f"SELECT {_ITEM_COLUMNS.format(t='c')} FROM catalog_items AS c "
            "WHERE c.active = 1 ORDER BY c.kind, c.name, c.id"
        )
        return [_item(row) for row in rows]

    def appointments_for_date(self, day: date, tz: tzinfo) -> list[Appointment]:
        """As :meth:`AppointmentRepository.for_date`."""
        start = datetime.combine(day, time.min, tzinfo=tz)
        end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
        rows = self.connection.execute(
            "SELECT a.id, a.staff, a.start_at, a.duration_minutes, a.status, a.ticket_id, "
            f"{_ITEM_COLUMNS.format(t='i')}, {_CLIENT_COLUMNS.format(t='cl')} "
            "FROM appointments AS a JOIN catalog_items AS i ON a.item_id = i.id "
            "LEFT OUTER JOIN clients AS cl ON a.client_id = cl.id "
            "WHERE a.start_at >= ? AND a.start_at < ? ORDER BY a.start_at, a.id",
            (_stored_time(start), _stored_time(end)),
        )
        return [
            Appointment(
                id=row[0],
                client=None if row[14] is None else _client(row[14:21]),
                service=_item(row[6:14]),
                staff=row[1],
                start=_read_time(row[2]).astimezone(tz),
                duration_minutes=row[3],
                status=AppointmentStatus(row[4]),
                ticket_id=row[5],
            )
            for row in rows
        ]

    def search_clients(self, text: str, limit: int) -> list[Client]:
        """As :meth:`ClientRepository.search`: prefix ranges on the search keys, in name order."""
        conditions: list[tuple[str, str]] = []
        if looks_like_phone(text):
            digits = phone_key(text)
            conditions += [("phone_key", digits), ("phone_key_reversed", digits[::-1])]
        else:
            key = name_key(text)
            if not key:
                return []
            conditions += [("name_key", key), ("last_name_key", key)]
            if "@" in text or "." in text or " " not in key:
                conditions.append(("email_key", email_key(text)))
        where = " OR ".join(f"(c.{column} >= ? AND c.{column} < ?)" for column, _prefix in conditions)
        params: list[Any] = []
        for _column, prefix in conditions:
            params += [prefix, prefix_upper_bound(prefix)]
        rows = self.connection.execute(
            f"SELECT {_CLIENT_COLUMNS.format(t='c')} FROM clients AS c WHERE {where} "
            "ORDER BY c.name_key, c.id LIMIT ?",
            (*params, limit),
        )
        return [_client(row) for row in rows]

    def client(self, client_id: str) -> Client | None:
        """As :meth:`ClientRepository.get`."""
        row = self.connection.execute(
            f"SELECT {_CLIENT_COLUMNS.format(t='c')} FROM clients AS c WHERE c.id = ?", (client_id,)
        ).fetchone()
        return None if row is None else _client(row)

    def holdings(self, client_id: str) -> Holdings:
        """As :meth:`ClientRepository.holdings`."""
        rows = self.connection.execute(
            "SELECT kind, holding_id, name, service_ids, sessions_left, active_until, balance_minor, currency "
            "FROM client_holdings WHERE client_id = ? ORDER BY id",
            (client_id,),
        ).fetchall()
        return Holdings(
            packages=tuple(
                PackageHolding(r[1], r[2], frozenset(json.loads(r[3])), r[4] or 0)
                for r in rows
                if r[0] == "package"
            ),
            memberships=tuple(
                MembershipHolding(
                    r[1], r[2], frozenset(json.loads(r[3])), date.fromisoformat(r[5]) if r[5] else date.min
                )
                for r in rows
                if r[0] == "membership"
            ),
            gift_cards=tuple(
                GiftCardBalance(r[1], Money(r[6] or 0, r[7] or "USD")) for r in rows if r[0] == "gift_card"
            ),
        )


class DirectReads:
    """One read connection per thread, opened on first use; :meth:`close` closes them all."""

    def __init__(self, path: Path, busy_timeout_ms: int) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._lock = threading.Lock()
        self._connections: dict[int, sqlite3.Connection] = {}

    @contextmanager
    def reading(self) -> Iterator[DirectReader]:
        connection = self._connection()
        connection.execute("BEGIN")
        try:
            yield DirectReader(connection)
        finally:
            connection.execute("ROLLBACK")

    def _connection(self) -> sqlite3.Connection:
        key = threading.get_ident()
        with self._lock:
            connection = self._connections.get(key)
        if connection is None:
            connection = connect(self.path, self.busy_timeout_ms)
            with self._lock:
                self._connections[key] = connection
        return connection

    def close(self) -> None:
        with self._lock:
            connections, self._connections = list(self._connections.values()), {}
        for connection in connections:
            connection.close()


def _item(row: Any) -> CatalogItem:
    item_id, kind_value, name, price_minor, currency, tax_rate, details, active = row
    kind = ItemKind(kind_value)
    return CatalogItem(
        id=item_id,
        kind=kind,
        name=name,
        price=Money(price_minor, currency),
        details=details_from_json(kind, json.loads(details)),
        tax_rate=Decimal(tax_rate),
        active=bool(active),
    )


def _client(row: Any) -> Client:
    client_id, first_name, last_name, phone, email, sms_consent, email_consent = row
    return Client(
        id=client_id,
        first_name=first_name,
        last_name=last_name,
        phone=phone,
        email=email,
        sms_consent=bool(sms_consent),
        email_consent=bool(email_consent),
    )


def _stored_time(value: datetime) -> str:
    """A time as SQLAlchemy's SQLite DateTime stores it (naive UTC, microseconds always written)."""
    return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _read_time(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
