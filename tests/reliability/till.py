"""One POS terminal without its window: the local SQLite cache and the real sync service.

What a cashier's clicks do, through the same functions the window calls: make a ticket for a client,
send its invoice (token made here, upload queued in the outbox), and read what the cache now says.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

from posdesk.core.catalog import ItemKind
from posdesk.core.client import Client
from posdesk.core.events import LinkStatus
from posdesk.core.money import Money
from posdesk.core.ticket import Ticket, TicketLine
from posdesk.store.clients import ClientRepository
from posdesk.store.database import Database
from posdesk.store.invoices import InvoiceRecordRepository
from posdesk.store.outbox import Outbox
from posdesk.store.settings import SettingsRepository
from posdesk.store.tickets import TicketRepository
from posdesk.sync import ConnectionState, SyncService
from posdesk.sync.sending import SentLink, send_invoice

CLIENT = Client(id="client-ana", first_name="Ana", last_name="Díaz", email="ana@example.com")


class Till:
    """A terminal's cache and sync service; ``start()``/``pause()`` the sync, ``close()`` at the end."""

    def __init__(self, path: Path, companion_url: str, credential: str, store_id: str) -> None:
        self.db = Database.open(path)
        self.companion_url = companion_url
        self.credential = credential
        self.store_id = store_id
        self.states: list[ConnectionState] = []
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
        self.sync = SyncService(
            self.db, self.companion_url, self.credential, on_state=self.states.append, store_key=self.store_id
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
            ticket.add_line(
                TicketLine(
                    id=uuid.uuid4().hex,
                    item_id="svc-cut",
                    kind=ItemKind.APPOINTMENT,
                    name=name,
                    unit_price=Money(price, "USD"),
                    staff="Rosa",
                )
            )
            tickets.save(ticket, base_revision=None)
        return ticket

    def send(self, ticket_id: str) -> SentLink:
        with self.db.reading() as session:
            settings = SettingsRepository(session).terminal()
        link = send_invoice(self.db, ticket_id, amount_requested=None, companion_url=self.companion_url, settings=settings)
        if self.sync is not None:
            self.sync.wake()
        return link

    # -- what the cache says -----------------------------------------------------------------------
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
