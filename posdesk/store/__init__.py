"""The POS's local SQLite cache: tables, migrations, repositories, the outbox and the event cursor.

Open it with :meth:`Database.open`; do work in ``with db.session() as s:`` (one transaction) through the
repositories, which take that session. Everything here maps rows to and from :mod:`posdesk.core` values.
"""

from posdesk.store.appointments import Appointment, AppointmentRepository, AppointmentStatus
from posdesk.store.catalog import CatalogRepository
from posdesk.store.clients import ClientRepository
from posdesk.store.cursor import EventCursor
from posdesk.store.database import Database
from posdesk.store.invoices import InvoiceRecord, InvoiceRecordRepository
from posdesk.store.outbox import Outbox, OutboxEntry
from posdesk.store.settings import SettingsRepository, TerminalSettings
from posdesk.store.tickets import StaleTicketError, TicketRepository

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
