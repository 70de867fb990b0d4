"""Fixtures for the companion suite: a fresh companion app, a store with a paired terminal, clients.

* ``companion_app`` -- ``create_app`` in demo configuration on a new SQLite file (migrated).
* ``store_and_terminal`` -- a store (USD, tips 15/18/20%, no surcharge) and a paired terminal's
  credential (:class:`PairedTerminal`).
* ``api`` -- an ``httpx.Client`` sending that terminal's bearer credential; ``client`` -- one without
  credentials (the payment page, webhooks, pairing). Both talk to a real uvicorn on loopback
  (``tests/fakes/serve.py``); ``companion.url`` is its base URL.
* ``other_terminal`` -- a second store with its own terminal (for "another store's ids answer 404").
* ``companion_any_db`` -- a :class:`Companion` (app, store, terminal, ``api``) parametrized over
  SQLite and PostgreSQL (``db_url`` from ``tests/plugins/postgres.py``).
* ``make_companion`` -- the factory behind them: ``make_companion(database_url)``.
* :func:`invoice_upload` -- a correctly priced ``PUT /api/v1/invoices/{id}`` body (a plain function).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import tests.conftest as root_conftest
from posdesk.companion.app import create_app
from posdesk.companion.auth import new_pairing_code, pair_terminal
from posdesk.companion.config import CompanionConfig
from posdesk.companion.database import Database
from posdesk.companion.stores import create_store
from posdesk.core.catalog import ItemKind
from posdesk.core.invoice import Invoice, InvoiceClient
from posdesk.core.links import new_link_token
from posdesk.core.money import Money
from posdesk.core.pricing import Promotion
from posdesk.core.ticket import Coverage, Payment, Ticket, TicketLine
from posdesk.store import Database as PosDatabase
from posdesk.sync.client import CompanionClient
from posdesk.sync.relay import RelayRound, relay_once
from tests.fakes.serve import serve_app
from tests.fakes.stripe_api import FakeStripe, make_fake_stripe

# tests/conftest.py may load the shared plugins itself one day; until then, take their fixtures here.
if "tests.plugins.postgres" not in getattr(root_conftest, "pytest_plugins", ()):
    from tests.plugins.postgres import db_url, postgres_db_url, postgres_url  # noqa: F401

TEST_SETTINGS: dict[str, Any] = {
    "business_name": "Test Salon",
    "address": "1 Test Street",
    "languages": ["en", "es", "fr"],
    "tips_allowed": True,
    "tip_presets": [{"percent": "0.15"}, {"percent": "0.18"}, {"percent": "0.20"}],
    "surcharge_rate": "0",
    "link_expiry_hours": 72,
}


@dataclass
class PairedTerminal:
    store_id: str
    terminal_id: str
    credential: str
    currency: str = "USD"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential}"}


@dataclass
class Companion:
    """A companion app served by uvicorn on loopback, with one store and one paired terminal."""

    app: FastAPI
    config: CompanionConfig
    url: str
    terminal: PairedTerminal
    api: httpx.Client

    def client(self, **kwargs: Any) -> httpx.Client:
        """A new client of this companion (closed with the fixture); pass ``headers=`` for credentials."""
        made = httpx.Client(base_url=self.url, timeout=10, **kwargs)
        self.app.state.test_clients.append(made)
        return made

    @property
    def db(self) -> Database:
        db: Database = self.app.state.db
        return db

    def relay(self, terminal: PosDatabase) -> RelayRound:
        """One round of ``terminal``'s outbox relay to this companion, as the paired terminal's sync runs it."""

        async def once() -> RelayRound:
            client = CompanionClient(self.url, self.terminal.credential)
            try:
                return await relay_once(terminal, client)
            finally:
                await client.aclose()

        return asyncio.run(once())


def add_store(
    app: FastAPI, name: str = "Test Salon", currency: str = "USD", settings: dict[str, Any] | None = None
) -> PairedTerminal:
    """Create a store in ``app``'s database and pair a terminal to it (without going through HTTP)."""
    db: Database = app.state.db
    with db.write() as session:
        store = create_store(
            session, name, currency, settings={**TEST_SETTINGS, "business_name": name, **(settings or {})}
        )
        code = new_pairing_code(session, store.id)
    with db.write() as session:
        terminal, credential = pair_terminal(session, code, "Front desk")
        return PairedTerminal(store.id, terminal.id, credential, currency)


def demo_config(database_url: str, public_url: str = "http://127.0.0.1") -> CompanionConfig:
    return CompanionConfig.for_demo(database_url, public_url)


@pytest.fixture
def make_companion() -> Iterator[Callable[[str], Companion]]:
    """``make_companion(database_url)``: another companion app (its own uvicorn) on that database."""
    with contextlib.ExitStack() as stack:

        def make(database_url: str) -> Companion:
            config = demo_config(database_url)
            app = create_app(config)
            app.state.test_clients = []
            stack.callback(app.state.db.dispose)
            url = stack.enter_context(serve_app(app))
            stack.callback(lambda: [c.close() for c in app.state.test_clients])
            terminal = add_store(app)
            companion = Companion(app, config, url, terminal, api=httpx.Client())
            companion.api = companion.client(headers=terminal.headers)
            return companion

        yield make


@pytest.fixture
def companion_db_file(tmp_path: Path) -> str:
    return f"sqlite+pysqlite:///{tmp_path / 'companion.db'}"


@pytest.fixture
def companion(make_companion: Callable[[str], Companion], companion_db_file: str) -> Companion:
    """A companion on a fresh SQLite file with a store and a paired terminal."""
    return make_companion(companion_db_file)


@pytest.fixture
def companion_app(companion: Companion) -> FastAPI:
    return companion.app


@pytest.fixture
def store_and_terminal(companion: Companion) -> PairedTerminal:
    return companion.terminal


@pytest.fixture
def api(companion: Companion) -> httpx.Client:
    """HTTP client with the paired terminal's bearer credential."""
    return companion.api


@pytest.fixture
def client(companion: Companion) -> httpx.Client:
    """HTTP client without credentials (payment page, webhooks, pairing)."""
    return companion.client()


@pytest.fixture
def other_terminal(companion: Companion) -> PairedTerminal:
    """A second store of the same companion, with its own terminal."""
    return add_store(companion.app, name="Other Store")


@pytest.fixture
def companion_any_db(make_companion: Callable[[str], Companion], db_url: str) -> Companion:
    """Like ``companion``, once on SQLite and once on PostgreSQL."""
    return make_companion(db_url)


def events(companion: Companion, type_: str) -> list[dict[str, Any]]:
    """The store's events of one type, as its terminal reads them."""
    return [e for e in companion.api.get("/api/v1/events").json()["events"] if e["type"] == type_]


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """``check()``'s first truthy result, or its last one after ``timeout`` seconds (for an assert)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


# -- invoices ---------------------------------------------------------------------------------------
ANA = InvoiceClient(id="client-1", name="Ana Díaz", email="ana@example.com", email_consent=True)


def ticket_line(kind: ItemKind, name: str, price: int, **details: Any) -> TicketLine:
    """A new line of ``kind`` for ``name`` at ``price`` cents (USD); ``details`` are its other fields."""
    prefix = "svc-" if kind is ItemKind.APPOINTMENT else "prd-"
    item_id = prefix + name.lower()
    return TicketLine(uuid.uuid4().hex, item_id, kind, name, Money(price, "USD"), **details)


def service_line(name: str = "Haircut", price: int = 6000, *, prepaid: Coverage | None = None) -> TicketLine:
    return ticket_line(ItemKind.APPOINTMENT, name, price, prepaid=prepaid, staff="Rosa")


def product_line(name: str = "Shampoo", price: int = 2000, tax_rate: str = "0.0825") -> TicketLine:
    return ticket_line(ItemKind.PRODUCT, name, price, tax_rate=Decimal(tax_rate))


def invoice_upload(
    *,
    invoice_id: str | None = None,
    ticket_id: str | None = None,
    version: int = 1,
    lines: Sequence[TicketLine] | None = None,
    client: InvoiceClient | None = ANA,
    promo_codes: Sequence[str] = (),
    promotions: dict[str, Promotion] | None = None,
    surcharge_rate: Decimal = Decimal(0),
    amount_requested: int | None = None,
    expires_at: datetime | None = None,
    link_token: str | None = None,
    currency: str = "USD",
    payments: Sequence[Payment] = (),
) -> dict[str, Any]:
    """The body of ``PUT /api/v1/invoices/{invoice_id}``, priced the way the POS prices it."""
    ticket = Ticket.new(7, currency, ticket_id=ticket_id or uuid.uuid4().hex)
    for line in lines if lines is not None else (service_line(), product_line()):
        ticket.add_line(line)
    for code in promo_codes:
        ticket.add_promo_code(code)
    if client is not None:
        ticket.set_client(client.id, client.name)
    ticket.payments = list(payments)
    invoice = Invoice.from_ticket(
        ticket,
        invoice_id=invoice_id or uuid.uuid4().hex,
        version=version,
        locale="en_US",
        expires_at=expires_at or datetime.now(UTC) + timedelta(hours=72),
        client=client,
        promotions=promotions,
        surcharge_rate=surcharge_rate,
        amount_requested=None if amount_requested is None else Money(amount_requested, currency),
    )
    return {**invoice.to_wire(), "link_token": link_token or new_link_token()}


def same_invoice(body: dict[str, Any], version: int = 2, **changes: Any) -> dict[str, Any]:
    """Another upload of ``body``'s invoice (its ids and link token): version 2 unless told, with ``changes``."""
    return invoice_upload(
        invoice_id=body["invoice_id"],
        ticket_id=body["ticket_id"],
        link_token=body["link_token"],
        version=version,
        **changes,
    )


def put_invoice(api: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    """PUT ``body`` to its invoice's address; returns the response."""
    return api.put(f"/api/v1/invoices/{body['invoice_id']}", json=body)


# -- a fake Stripe ------------------------------------------------------------------------------------------
STRIPE_WHSEC = "whsec_companion_test"  # the webhook signing secret of the fake below


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    """A fake Stripe (tests/fakes/stripe_api.py) signing its webhooks with ``STRIPE_WHSEC``; the test
    serves ``fake.app``. (The Cloud9 tests' own ``fake`` is a fake Cloud9.)"""
    with make_fake_stripe(webhook_secret=STRIPE_WHSEC) as made:
        yield made
