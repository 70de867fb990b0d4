"""Saved cards: the gateway customer of a known client, cards saved by paying or without paying, and
the list the page shows brought in line with the gateway's where the gateway keeps it
(:class:`~posdesk.gateways.base.KeepsCardList`), at most once a minute per customer."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from posdesk.companion.database import Database
from posdesk.companion.models import GatewayCustomer, SavedCard, Store, utcnow
from posdesk.companion.models import Invoice as InvoiceRow
from posdesk.companion.payments.directory import GatewayDirectory
from posdesk.companion.payments.errors import PaymentRefused
from posdesk.core.invoice import Invoice
from posdesk.gateways.base import (
    ClientInfo,
    Gateway,
    GatewayError,
    KeepsCardList,
    MethodSaved,
    SavedMethod,
    SavesCardsOnPage,
)

log = logging.getLogger(__name__)

NOT_ON_PAGE_MESSAGE = "This payment page is not set up for card payments right now. Please reload it."
CARD_LIST_FRESH_FOR = 60.0  # seconds: how long a customer's card list from the gateway is shown without asking again
CARD_LIST_MEMORY = 10_000  # customers remembered before the stale ones are forgotten


def saved_card(session: Session, store_id: str, client_id: str | None, gateway: str, card_id: str) -> SavedCard:
    """The client's own saved card ``card_id`` for this gateway; :class:`PaymentRefused` for any other."""
    card = session.get(SavedCard, card_id)
    if card is None or client_id is None or card.store_id != store_id or card.client_id != client_id:
        raise PaymentRefused("This card is not available")
    if card.gateway != gateway or card.removed_at is not None:
        raise PaymentRefused("This card is not available")
    return card


def customer_ref(db: Database, gateway: Gateway, store_id: str, client: ClientInfo) -> str:
    """The gateway's customer for a known client, created on first need (the gateway is asked between
    two transactions, never inside one; two first needs at once keep the first row written)."""

    def known(session: Session) -> GatewayCustomer | None:
        return session.scalars(
            select(GatewayCustomer).where(
                GatewayCustomer.store_id == store_id,
                GatewayCustomer.client_id == client.id,
                GatewayCustomer.gateway == gateway.kind,
            )
        ).one_or_none()

    with db.read() as session:
        existing = known(session)
        existing_ref = existing.customer_ref if existing else None
    ref = gateway.ensure_customer(client, existing_ref)
    if existing_ref is not None:
        return ref
    with db.write() as session:
        again = known(session)
        if again is not None:
            return again.customer_ref
        session.add(GatewayCustomer(store_id=store_id, client_id=client.id, gateway=gateway.kind, customer_ref=ref))
    return ref


def save_card(session: Session, store_id: str, client_id: str, gateway: str, method: SavedMethod) -> SavedCard:
    """The client's saved card for ``method`` (made the default when they have none)."""
    cards = session.scalars(
        select(SavedCard).where(SavedCard.store_id == store_id, SavedCard.client_id == client_id, SavedCard.gateway == gateway)
    ).all()
    known = next((c for c in cards if c.method_ref == method.ref), None)
    if known is not None:
        known.removed_at = None
        return known
    card = SavedCard(
        id=uuid.uuid4().hex,
        store_id=store_id,
        client_id=client_id,
        gateway=gateway,
        method_ref=method.ref[:100],
        brand=method.brand[:20],
        last4=method.last4[:4],
        exp_month=method.exp_month,
        exp_year=method.exp_year,
        is_default=not any(c.is_default and c.removed_at is None for c in cards),
    )
    session.add(card)
    session.flush()
    return card


def saves_on_page(gateway: Gateway) -> SavesCardsOnPage:
    if not isinstance(gateway, SavesCardsOnPage):
        raise PaymentRefused(NOT_ON_PAGE_MESSAGE)
    return gateway


# -- saving a card without paying ---------------------------------------------------------------------
def start_setup(db: Database, gateways: GatewayDirectory, token_hash: str) -> tuple[str, str]:
    """A setup the page confirms to save a card without paying (known clients only): ``(setup id, secret)``."""
    from posdesk.companion.payments.attempts import refuse_unpayable

    with db.read() as session:
        row = refuse_unpayable(session.scalars(select(InvoiceRow).where(InvoiceRow.token_hash == token_hash)).one_or_none())
        store = session.get(Store, row.store_id)
        assert store is not None
        gateway = gateways.for_store(store)
        saves_on_page(gateway)
        client = Invoice.from_wire(row.document).client
        if client is None:
            raise PaymentRefused("Cards can only be saved for a known client")
        info = ClientInfo(client.id, client.name, client.email, client.phone)
        store_id, invoice_id = store.id, row.id
    customer = customer_ref(db, gateway, store_id, info)
    metadata = {"store_id": store_id, "client_id": info.id, "invoice_id": invoice_id}
    try:
        return saves_on_page(gateway).prepare_setup(customer, metadata, f"setup:{invoice_id}:{uuid.uuid4().hex}")
    except GatewayError as exc:
        raise PaymentRefused(exc.message) from None


def finish_setup(db: Database, gateways: GatewayDirectory, token_hash: str, setup_ref: str) -> SavedCard | None:
    """Record the card a setup of this invoice's client saved; None while it is not done."""
    with db.read() as session:
        row = session.scalars(select(InvoiceRow).where(InvoiceRow.token_hash == token_hash)).one_or_none()
        if row is None:
            raise LookupError("no such link")
        store = session.get(Store, row.store_id)
        assert store is not None
        gateway = saves_on_page(gateways.for_store(store))
        invoice_id, store_id = row.id, store.id
    report = gateway.setup_result(setup_ref)
    if report is None or report.metadata.get("invoice_id") != invoice_id:
        return None
    return record_setup(db, gateway, store_id, report)


def record_setup(db: Database, gateway: SavesCardsOnPage, store_id: str, saved: MethodSaved) -> SavedCard | None:
    """Save the card of ``saved`` for the client it names, when its customer is the one this store made
    for that client (asks the gateway for the card's details, outside any transaction)."""
    client_id = saved.metadata.get("client_id", "")
    if saved.metadata.get("store_id", store_id) != store_id:
        return None
    with db.read() as session:
        known = session.scalars(
            select(GatewayCustomer).where(
                GatewayCustomer.store_id == store_id,
                GatewayCustomer.client_id == client_id,
                GatewayCustomer.gateway == gateway.kind,
            )
        ).one_or_none()
        if known is None or known.customer_ref != saved.customer_ref:
            return None  # not a customer this store made for this client
    method = gateway.saved_method(saved.customer_ref, saved.method_ref)
    if method is None:
        return None
    with db.write() as session:
        card = save_card(session, store_id, client_id, gateway.kind, method)
        session.flush()
        session.expunge(card)
        return card


# -- the saved cards the page lists: the gateway's ------------------------------------------------------
class CardListCache:
    """When each customer's cards were last listed at the gateway, in this process's memory.

    A page view waits on the gateway at most once per :data:`CARD_LIST_FRESH_FOR` per customer. A
    listing counts from the moment it is asked for, successful or not: two phones opening at once ask
    once, and while the gateway is down the page does not wait for its timeout on every view.
    """

    def __init__(self, fresh_for: float = CARD_LIST_FRESH_FOR, clock: Callable[[], float] = time.monotonic) -> None:
        self.fresh_for = fresh_for
        self._clock = clock
        self._asked: dict[str, float] = {}
        self._lock = threading.Lock()

    def due(self, customer_ref: str) -> bool:
        """True when the customer's list is older than ``fresh_for`` (and it now counts as asked)."""
        with self._lock:
            now = self._clock()
            asked = self._asked.get(customer_ref)
            if asked is not None and now - asked < self.fresh_for:
                return False
            if len(self._asked) >= CARD_LIST_MEMORY:
                self._asked = {k: t for k, t in self._asked.items() if now - t < self.fresh_for}
            self._asked[customer_ref] = now
            return True

    def forget(self) -> None:
        """Ask the gateway again on the next view of every customer."""
        with self._lock:
            self._asked.clear()


card_lists = CardListCache()  # one per process: each worker asks on its own


def cards_kept_at_gateway(gateway: Gateway) -> bool:
    return isinstance(gateway, KeepsCardList) and gateway.lists_cards_at_gateway()


def refresh_saved_cards(db: Database, gateways: GatewayDirectory, token_hash: str, cache: CardListCache = card_lists) -> bool:
    """Make the saved cards of the client behind ``token_hash`` those of their gateway customer.

    A card detached at the gateway (the dashboard, another app) is removed here; one attached there and
    unknown here is added; the gateway's default, when it has one, is the default. Nothing happens for
    walk-ins, clients with no customer yet, gateways that do not keep the list, or while the
    customer's list is fresh (``cache``). Gateway unreachable: the stored cards stay as they are, with a
    log line, and the page shows them. True when the gateway was asked and its list applied.
    """
    with db.read() as session:
        found = session.execute(
            select(InvoiceRow.client_id, Store, GatewayCustomer.customer_ref)
            .join(Store, Store.id == InvoiceRow.store_id)
            .join(
                GatewayCustomer,
                (GatewayCustomer.store_id == InvoiceRow.store_id)
                & (GatewayCustomer.client_id == InvoiceRow.client_id)
                & (GatewayCustomer.gateway == Store.gateway_kind),
            )
            .where(InvoiceRow.token_hash == token_hash)
        ).first()
        if found is None or found.client_id is None:
            return False
        client_id, store, customer = found.client_id, found.Store, found.customer_ref
        session.expunge(store)
    try:
        gateway = gateways.for_store(store)
    except GatewayError:
        return False
    if not cards_kept_at_gateway(gateway) or not cache.due(customer):
        return False
    with db.read() as session:
        # Only cards stored before the gateway is asked may be removed for missing from its list: a card
        # saved by a payment finishing meanwhile is not in that list yet.
        known_before = set(session.scalars(_cards_of(store.id, client_id, gateway.kind).with_only_columns(SavedCard.id)))
    try:
        methods = gateway.list_methods(customer)
    except GatewayError as exc:
        log.warning(
            "%s: the saved cards of customer %s could not be listed (%s); the page shows the stored ones",
            gateway.kind,
            customer,
            exc.message,
        )
        return False
    with db.write() as session:
        apply_card_list(session, store.id, client_id, gateway.kind, methods, known_before)
    return True


def _cards_of(store_id: str, client_id: str, gateway: str) -> Select[SavedCard]:
    return select(SavedCard).where(SavedCard.store_id == store_id, SavedCard.client_id == client_id, SavedCard.gateway == gateway)


def apply_card_list(
    session: Session, store_id: str, client_id: str, gateway: str, methods: Sequence[SavedMethod], known_before: set[str]
) -> None:
    """Bring the client's stored cards in line with the gateway's ``methods`` (see :func:`refresh_saved_cards`)."""
    listed = {method.ref: method for method in methods}
    cards = list(session.scalars(_cards_of(store_id, client_id, gateway).order_by(SavedCard.created_at)))
    for card in cards:
        method = listed.get(card.method_ref)
        if method is None:
            if card.removed_at is None and card.id in known_before:
                card.removed_at, card.is_default = utcnow(), False
            continue
        # Card updaters renew expiry dates; show what the gateway will charge.
        card.brand, card.last4 = method.brand[:20], method.last4[:4]
        card.exp_month, card.exp_year = method.exp_month, method.exp_year
    stored = {card.method_ref for card in cards if card.removed_at is None}
    for method in methods:
        if method.ref not in stored:  # saved at the gateway only (a lost webhook), or removed here earlier
            card = save_card(session, store_id, client_id, gateway, method)
            if card not in cards:
                cards.append(card)
    active = [card for card in cards if card.removed_at is None]
    default = next((m.ref for m in methods if m.is_default), None)
    if default is not None:
        for card in active:
            card.is_default = card.method_ref == default
    elif active and not any(card.is_default for card in active):
        active[0].is_default = True  # the default was removed at the gateway: the oldest card takes its place
