"""All repositories of the local cache in one import (each lives in its own module)."""

from posdesk.store.appointments import AppointmentRepository
from posdesk.store.catalog import CatalogRepository
from posdesk.store.clients import ClientRepository
from posdesk.store.cursor import EventCursor
from posdesk.store.invoices import InvoiceRecordRepository
from posdesk.store.outbox import Outbox
from posdesk.store.terminal_settings import SettingsRepository
from posdesk.store.tickets import StaleTicketError, TicketRepository

__all__ = [
    "AppointmentRepository",
    "CatalogRepository",
    "ClientRepository",
    "EventCursor",
    "InvoiceRecordRepository",
    "Outbox",
    "SettingsRepository",
    "StaleTicketError",
    "TicketRepository",
]
