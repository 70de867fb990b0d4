"""One POS terminal without its window: the local SQLite cache and the real sync service.

What a cashier's and a manager's clicks do, through the same functions the window calls: make a ticket
for a client, send its invoice (token made here, upload queued in the outbox), save store settings; and
what the cache and the sync service now say. The one terminal helper of the e2e and reliability tests.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from posdesk.core.client import Client
from posdesk.core.events import LinkStatus
from posdesk.core.ticket import Ticket
from posdesk.store.clients import ClientRepository
from posdesk.store.database import Database
from posdesk.store.invoices import InvoiceRecordRepository
from posdesk.store.outbox import Outbox
from posdesk.store.terminal_settings import SettingsRepository, TerminalSettings
from posdesk.store.tickets import TicketRepository
from posdesk.sync import ConnectionState, SyncService
from posdesk.sync.invoice_links import SentLink, send_invoice
from posdesk.sync.settings_reconciliation import save_and_queue
from tests.companion.conftest import service_line

CLIENT = Client(id="client-ana", first_name="Ana", last_name="Díaz", email="ana@example.com")


class Till:
    """A terminal's cache and sync service; ``start()``/``pause()`` the sync, ``close()`` at the end."""

    def __init__(self, path: Path, companion_url: str, credential: str, store_id: str) -> None:
        self.db = Database.open(path)
        self.companion_url = companion_url
        self.credential = credential
        self.store_id = store_id
        self.states: list[ConnectionState] = []
        self.changed: list[set[str]] = []  # ticket ids each applied event touched
        self.adoptions = 0  # store settings adopted from another terminal
        self.notices: list[str] = []  # refusals the manager is shown
        self.sync: SyncService | None = None
        with self.db.session() as session:
            settings = SettingsRepository(session)
            settings.save_terminal(
                replace(settings.terminal(), online_payment_link_enabled=True, companion_url=companion_url)
            )
            clients = ClientRepository(session)
            if clients.get(CLIENT.id) is None:
                clients.create(CLIENT)

    # -- the sync service --------------------------------------------------------------------------
    def start(self) -> None:
        def adopted() -> None:
            self.adoptions += 1

        self.sync = SyncService(
            self.db,
            self.companion_url,
            self.credential,
            on_state=self.states.append,
            on_tickets_changed=self.changed.append,
            on_settings_changed=adopted,
            on_notice=self.notices.append,
            store_key=self.store_id,
        )
        self.sync.start()

    def pause(self) -> None:
        """Stop listening (the terminal is off, or its network is)."""
        if self.sync is not None:
            self.sync.stop()
            self.sync = None

    def close(self) -> None:
        self.pause()
        self.db.close()

    @property
    def state(self) -> ConnectionState:
        return self.sync.state if self.sync else ConnectionState.OFFLINE

    # -- the cashier -------------------------------------------------------------------------------
    def new_ticket(self, price: int = 6000, name: str = "Haircut") -> Ticket:
        with self.db.session() as session:
            tickets = TicketRepository(session)
            ticket = Ticket.new(tickets.next_number(), "USD")
            ticket.set_client(CLIENT.id, CLIENT.display_name)
            ticket.add_line(service_line(name, price))
            tickets.save(ticket, base_revision=None)
        return ticket

    def send(self, ticket_id: str) -> SentLink:
        with self.db.reading() as session:
            settings = SettingsRepository(session).terminal()
        link = send_invoice(self.db, ticket_id, amount_requested=None, companion_url=self.companion_url, settings=settings)
        if self.sync is not None:
            self.sync.wake()
        return link

    def manager_saves(self, **changes: Any) -> TerminalSettings:
        """Save store settings as the Settings dialog does (queued for the companion)."""
        settings = save_and_queue(self.db, replace(self.settings(), **changes))
        if self.sync is not None:
            self.sync.wake()
        return settings

    def ticket_with_promo(self, code: str) -> str:
        ticket = self.new_ticket()
        with self.db.session() as session:
            tickets = TicketRepository(session)
            stored = tickets.get(ticket.id)
            assert stored is not None
            base = stored.revision
            stored.add_promo_code(code)
            tickets.save(stored, base_revision=base)
        return ticket.id

    # -- what the cache says -----------------------------------------------------------------------
    def settings(self) -> TerminalSettings:
        with self.db.reading() as session:
            return SettingsRepository(session).terminal()

    def invoice(self, ticket_id: str) -> Any:
        with self.db.reading() as session:
            return InvoiceRecordRepository(session).get(ticket_id)

    def ticket(self, ticket_id: str) -> Ticket:
        with self.db.reading() as session:
            ticket = TicketRepository(session).get(ticket_id)
        assert ticket is not None
        return ticket

    def link_status(self, ticket_id: str) -> LinkStatus | None:
        with self.db.reading() as session:
            record = InvoiceRecordRepository(session).get(ticket_id)
        return record.link_status if record else None

    def pending(self) -> int:
        with self.db.reading() as session:
            return Outbox(session).pending_count()

    def ticket_count(self) -> int:
        with self.db.reading() as session:
            return TicketRepository(session).count()
