"""The POS's data access, in the shape the screens need, over :mod:`posdesk.store`.

Reads here are small indexed queries the UI thread may make; every write is called through the
writer operation (:class:`~posdesk.gui.operations.CollectionOp`) so it runs on the one writer thread. What the New Ticket view needs
to start (settings, catalog, today's appointments, client search and holdings) is read through
:meth:`Database.direct` (stdlib ``sqlite3``), so the window is interactive before SQLAlchemy is
imported; everything else goes through the repositories.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from posdesk.core.attributes import from_attributes
from posdesk.core.catalog import CatalogItem
from posdesk.core.client import Client, Holdings
from posdesk.core.events import LinkStatus
from posdesk.core.money import Money
from posdesk.core.pricing import Promotion, price_ticket
from posdesk.core.ticket import Payment, Ticket, TicketState
from posdesk.store.values import Appointment, TerminalSettings

if TYPE_CHECKING:  # imported where used: they bring SQLAlchemy (see the module's docstring)
    from zoneinfo import ZoneInfo

    from posdesk.core.day_summary import DaySummary
    from posdesk.pos.reminders import SentReminder
    from posdesk.pos.tenders import Tender, TenderOutcome
    from posdesk.store import Database, InvoiceRecord
    from posdesk.store.client_messages import ClientMessage
    from posdesk.sync.invoice_links import SentLink

TodayAppointment = Appointment


@dataclass(frozen=True, slots=True)
class TicketSummary:
    """One row of the Tickets list."""

    id: str
    number: int
    client_name: str
    state: TicketState
    balance_due: Money
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class InvoiceInfo:
    """What the POS knows locally about a ticket's invoice link."""

    invoice_id: str
    version: int
    token: str
    link_status: LinkStatus
    out_of_date: bool
    amount_requested: Money | None
    expires_at: datetime | None = None

    @classmethod
    def of(cls, record: InvoiceRecord | None) -> InvoiceInfo | None:
        if record is None:
            return None
        return from_attributes(cls, record, token=record.link_token)


def _link_state(record: InvoiceRecord | None, now: datetime) -> str:
    """ "awaiting" (a live link), "expired", or "" (no link, paid or revoked)."""
    if record is None:
        return ""
    if record.link_status is LinkStatus.EXPIRED:
        return "expired"
    live = record.link_status in (
        LinkStatus.PREPARING,
        LinkStatus.SENT,
        LinkStatus.OPENED,
        LinkStatus.PARTIALLY_PAID,
    )
    if not live:
        return ""
    return "awaiting" if record.expires_at > now else "expired"


class PosBackend:
    """What the screens read and write, over one local :class:`~posdesk.store.Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._settings: TerminalSettings | None = None

    # -- settings --------------------------------------------------------------------------------
    def settings(self) -> TerminalSettings:
        with self.db.direct() as reader:
            self._settings = reader.terminal_settings()
        self.promotions.cache_clear()
        return self._settings

    def save_settings(self, settings: TerminalSettings) -> TerminalSettings:
        from posdesk.store import SettingsRepository

        with self.db.session() as session:
            SettingsRepository(session).save_terminal(settings)
        self._settings = settings
        self.promotions.cache_clear()
        return settings

    def save_settings_and_push(self, settings: TerminalSettings) -> None:
        """Save the settings and queue the store's fields for the companion, in one transaction."""
        from posdesk.sync.settings_reconciliation import save_and_queue

        save_and_queue(self.db, settings)
        self._settings = settings
        self.promotions.cache_clear()

    @functools.lru_cache(maxsize=1)  # noqa: B019 - one backend per app; cleared when settings change
    def promotions(self) -> dict[str, Promotion]:
        settings = self._settings or self.settings()
        return settings.promotions_by_code()

    def setting(self, key: str, default: object = None) -> object:
        """A stored setting of this terminal by key (e.g. the gateway's name and masked secrets)."""
        from posdesk.store import SettingsRepository

        with self.db.reading() as session:
            return SettingsRepository(session).get(key, default)

    def set_setting(self, key: str, value: object) -> None:
        from posdesk.store import SettingsRepository

        with self.db.session() as session:
            SettingsRepository(session).set(key, value)

    # -- messages --------------------------------------------------------------------------------
    def messages_for_client(self, client_id: str) -> list[ClientMessage]:
        from posdesk.store.client_messages import MessageRepository

        with self.db.reading() as session:
            return list(MessageRepository(session).for_client(client_id))

    def last_message_for_ticket(self, ticket_id: str) -> ClientMessage | None:
        from posdesk.store.client_messages import MessageRepository

        with self.db.reading() as session:
            return MessageRepository(session).last_for_ticket(ticket_id)

    def queue_message(self, **message: Any) -> ClientMessage:
        """Write a Communicator message and queue it for the companion (see ``queue_message``)."""
        from posdesk.store.client_messages import queue_message

        with self.db.session() as session:
            return queue_message(session, **message)

    def merge_client_history(self, messages: list[dict[str, Any]]) -> set[str]:
        from posdesk.sync.history import merge_client_history

        return merge_client_history(self.db, messages)

    # -- clients and catalog ---------------------------------------------------------------------
    def search_clients(self, text: str, limit: int = 20) -> list[Client]:
        with self.db.direct() as reader:
            return reader.search_clients(text, limit=limit)

    def client(self, client_id: str) -> Client | None:
        with self.db.direct() as reader:
            return reader.client(client_id)

    def create_client(self, client: Client) -> Client:
        from posdesk.store import ClientRepository

        with self.db.session() as session:
            return ClientRepository(session).create(client)

    def holdings(self, client_id: str) -> Holdings:
        with self.db.direct() as reader:
            return reader.holdings(client_id)

    def catalog(self) -> list[CatalogItem]:
        with self.db.direct() as reader:
            return reader.catalog()

    def todays_appointments(self, today: date, tz: tzinfo) -> list[Appointment]:
        with self.db.direct() as reader:
            return reader.appointments_for_date(today, tz)

    # -- tickets ---------------------------------------------------------------------------------
    def load_ticket(self, ticket_id: str) -> Ticket:
        from posdesk.store import TicketRepository

        with self.db.reading() as session:
            return TicketRepository(session).require(ticket_id, KeyError(ticket_id))

    def invoice_info(self, ticket_id: str) -> InvoiceInfo | None:
        from posdesk.store import InvoiceRecordRepository

        with self.db.reading() as session:
            return InvoiceInfo.of(InvoiceRecordRepository(session).get(ticket_id))

    def save_ticket(
        self, ticket: Ticket, *, base_revision: int | None, settings: TerminalSettings
    ) -> tuple[Ticket, InvoiceInfo | None]:
        """Save the whole ticket in one transaction (numbered on first save) and flag a stale invoice.

        ``base_revision`` is the revision the cashier's copy started from (None: never saved). Raises
        :class:`~posdesk.store.StaleTicketError` when someone else saved it meanwhile: edits are
        refused, never merged silently.
        """
        from posdesk.store import AppointmentRepository, InvoiceRecordRepository, TicketRepository
        from posdesk.sync.invoice_links import mark_out_of_date

        with self.db.session() as session:
            tickets = TicketRepository(session)
            if base_revision is not None and ticket.revision == base_revision:
                stored = tickets.get(ticket.id)  # nothing new to write
                assert stored is not None
                return stored, InvoiceInfo.of(InvoiceRecordRepository(session).get(ticket.id))
            if base_revision is None and not ticket.number:
                ticket.number = tickets.next_number()
            tickets.save(ticket, base_revision=base_revision)
            appointments = AppointmentRepository(session)
            for line in ticket.lines:
                if line.appointment_id:
                    # An appointment this terminal no longer has is simply not marked.
                    with contextlib.suppress(KeyError):
                        appointments.mark_on_ticket(line.appointment_id, ticket.id)
            mark_out_of_date(session, ticket, settings)
            return ticket, InvoiceInfo.of(InvoiceRecordRepository(session).get(ticket.id))

    def send_invoice(
        self,
        ticket: Ticket,
        *,
        amount_requested: Money | None,
        companion_url: str,
        settings: TerminalSettings,
        token: str,
        invoice_id: str,
        base_revision: int | None,
        on_queued: Callable[[], None] | None = None,
    ) -> tuple[SentLink, Ticket, InvoiceInfo | None]:
        """Save the ticket as shown, then make its invoice and queue the upload.

        ``on_queued`` is called (on this thread) the moment the upload is committed to the outbox, before
        the ticket is read back for the screen: the sync service can start uploading at once, so a QR
        code scanned at the counter finds the invoice sooner.
        """
        from posdesk.sync.invoice_links import send_invoice

        self.save_ticket(ticket, base_revision=base_revision, settings=settings)
        sent = send_invoice(
            self.db,
            ticket.id,
            amount_requested=amount_requested,
            companion_url=companion_url,
            settings=settings,
            token=token,
            invoice_id=invoice_id,
        )
        if on_queued is not None:
            on_queued()
        return sent, self.load_ticket(ticket.id), self.invoice_info(ticket.id)

    # -- taking payment, refunds, the day ----------------------------------------------------------
    def record_tender(
        self, ticket_id: str, tender: Tender, *, settings: TerminalSettings, companion_url: str, credential: str = ""
    ) -> TenderOutcome:
        from posdesk.pos.tenders import record_tender

        return record_tender(self.db, ticket_id, tender, settings, companion_url=companion_url, credential=credential)

    def close_settled_ticket(self, ticket_id: str, settings: TerminalSettings) -> Ticket:
        from posdesk.pos.tenders import close_settled_ticket

        return close_settled_ticket(self.db, ticket_id, settings)

    def adopt_gift_card(self, card: dict[str, Any]) -> Money:
        """The companion's record of a gift card noted in this cache (its balance only goes down)."""
        from posdesk.store.gift_cards import GiftCardRepository

        with self.db.session() as session:
            return GiftCardRepository(session).set_from_companion(card).balance

    def gift_card_balance(self, code: str) -> Money | None:
        from posdesk.pos.tenders import gift_card_balance

        with self.db.reading() as session:
            return gift_card_balance(session, code)

    def refund_at_counter(
        self, ticket_id: str, payment: Payment, amount: Money, tip: Money | None = None
    ) -> Ticket:
        from posdesk.pos.refunds import refund_at_counter

        return refund_at_counter(self.db, ticket_id, payment, amount, tip)

    def queue_online_refund(self, payment: Payment, amount: Money) -> None:
        from posdesk.pos.refunds import queue_online_refund

        queue_online_refund(self.db, payment, amount)

    def record_refunded_total(
        self, ticket_id: str, payment_id: str, total: Money, tip_total: Money | None = None
    ) -> Ticket:
        from posdesk.pos.refunds import record_refunded_total

        return record_refunded_total(self.db, ticket_id, payment_id, total, tip_total)

    def queue_refunded_tip(self, ticket_id: str, payment_id: str, tip_total: Money) -> None:
        from posdesk.pos.refunds import queue_refunded_tip

        queue_refunded_tip(self.db, ticket_id, payment_id, tip_total)

    def queue_refund_receipt(
        self, ticket_id: str, payment: Payment, amount: Money, business: str, method: str, locale: str
    ) -> bool:
        """Email the client a refund receipt when they agreed to emails; whether one was queued."""
        from posdesk.pos.refunds import queue_refund_receipt

        return queue_refund_receipt(self.db, ticket_id, payment, amount, business, method, locale) is not None

    def reissue_link(
        self, ticket_id: str, *, settings: TerminalSettings, companion_url: str
    ) -> tuple[SentLink, InvoiceInfo | None]:
        """A new version of an expired link for the current balance (the same address, a fresh expiry)."""
        from posdesk.store import InvoiceRecordRepository
        from posdesk.sync.invoice_links import send_invoice

        with self.db.session() as session:  # past its expiry before the companion said so: it is dead
            records = InvoiceRecordRepository(session)
            if _link_state(records.get(ticket_id), datetime.now(UTC)) == "expired":
                records.advance_link_status(ticket_id, LinkStatus.EXPIRED)
        sent = send_invoice(
            self.db, ticket_id, amount_requested=None, companion_url=companion_url, settings=settings
        )
        return sent, self.invoice_info(ticket_id)

    def save_tip_split(
        self, ticket_id: str, payment_id: str, shares: dict[str, Money] | None, locale: str = "en_US"
    ) -> Ticket:
        """A manager's tip split saved on the payment and queued for the companion (see pos.tip_splits)."""
        from posdesk.pos.tip_splits import save_tip_split

        return save_tip_split(self.db, ticket_id, payment_id, shares, locale)

    def send_reminder(self, ticket_id: str, **reminder: Any) -> SentReminder:
        """The payment reminder queued for the ticket's client now (see :mod:`posdesk.pos.reminders`)."""
        from posdesk.pos.reminders import send_reminder

        return send_reminder(self.db, ticket_id, **reminder)

    def link_url(self, ticket_id: str, companion_url: str) -> str:
        from posdesk.core.links import pay_url

        info = self.invoice_info(ticket_id)
        return pay_url(companion_url, info.token) if info is not None else ""

    def day_summary(self, day: date, timezone: ZoneInfo, settings: TerminalSettings) -> DaySummary:
        from posdesk.pos.day_summary import local_day_summary

        return local_day_summary(self.db, day, timezone, settings, datetime.now(UTC))

    def list_tickets(
        self, search: str = "", states: tuple[TicketState, ...] = (), limit: int = 100, *, link: str = ""
    ) -> list[TicketSummary]:
        """Tickets by number or client name and state; ``link`` "awaiting" or "expired" keeps only the
        open tickets whose invoice link is live (awaiting online payment) or has expired."""
        from posdesk.store import InvoiceRecordRepository, TicketRepository

        with self.db.reading() as session:
            found = TicketRepository(session).list(states, search, limit=limit)
            if link:
                records = InvoiceRecordRepository(session)
                now = datetime.now(UTC)
                found = [t for t in found if _link_state(records.get(t.id), now) == link and not t.is_closed]
        promotions = self.promotions()
        rate = (self._settings or TerminalSettings()).surcharge_rate
        return [
            TicketSummary(
                id=t.id,
                number=t.number,
                client_name=t.client_name,
                state=t.state,
                balance_due=price_ticket(
                    t, promotions=promotions, surcharge_rate=rate, per_tender=True
                ).balance_due,
                updated_at=t.updated_at,
            )
            for t in found
        ]
