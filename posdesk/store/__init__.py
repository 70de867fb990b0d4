"""The POS's local SQLite cache: tables, migrations, repositories, the outbox and the event cursor.

Open it with :meth:`Database.open`; do work in ``with db.session() as s:`` (one transaction) through the
repositories, which take that session. Everything here maps rows to and from :mod:`posdesk.core` values.

The names below are loaded on first use (as :mod:`posdesk.sync` does): the repositories bring
SQLAlchemy, which the POS imports only after its first screen is up (see :mod:`posdesk.store.direct`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from posdesk.lazy_names import lazy_names

if TYPE_CHECKING:
    from posdesk.store.appointments import AppointmentRepository
    from posdesk.store.catalog import CatalogRepository
    from posdesk.store.clients import ClientRepository
    from posdesk.store.cursor import EventCursor
    from posdesk.store.database import Database
    from posdesk.store.invoices import InvoiceRecord, InvoiceRecordRepository
    from posdesk.store.outbox import Outbox, OutboxEntry
    from posdesk.store.terminal_settings import SettingsRepository
    from posdesk.store.tickets import StaleTicketError, TicketRepository
    from posdesk.store.values import Appointment, AppointmentStatus, TerminalSettings

__all__ = [
    "Appointment",
    "AppointmentRepository",
    "AppointmentStatus",
    "CatalogRepository",
    "ClientRepository",
    "Database",
    "EventCursor",
    "InvoiceRecord",
    "InvoiceRecordRepository",
    "Outbox",
    "OutboxEntry",
    "SettingsRepository",
    "StaleTicketError",
    "TerminalSettings",
    "TicketRepository",
]
_HOMES = {
    "Appointment": "posdesk.store.values",
    "AppointmentRepository": "posdesk.store.appointments",
    "AppointmentStatus": "posdesk.store.values",
    "CatalogRepository": "posdesk.store.catalog",
    "ClientRepository": "posdesk.store.clients",
    "Database": "posdesk.store.database",
    "EventCursor": "posdesk.store.cursor",
    "InvoiceRecord": "posdesk.store.invoices",
    "InvoiceRecordRepository": "posdesk.store.invoices",
    "Outbox": "posdesk.store.outbox",
    "OutboxEntry": "posdesk.store.outbox",
    "SettingsRepository": "posdesk.store.terminal_settings",
    "StaleTicketError": "posdesk.store.tickets",
    "TerminalSettings": "posdesk.store.values",
    "TicketRepository": "posdesk.store.tickets",
}

__getattr__ = lazy_names(__name__, _HOMES)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
