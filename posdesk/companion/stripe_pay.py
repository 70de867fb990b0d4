"""The payment page's Stripe steps: a new card confirmed on the page with the Payment Element.

The card never reaches this server. When the client presses Pay the page asks :func:`start_payment`
for an intent: the companion prices the invoice itself (the same plan, attempt and idempotency key as
any charge, :mod:`posdesk.companion.payments`), creates an unconfirmed PaymentIntent for that amount and
hands back its client secret; Stripe.js confirms it. Then :func:`sync_payment` asks Stripe (never the
page) how it went and applies that through :func:`~posdesk.companion.payments.apply_gateway_payment`,
exactly as a webhook would, so whichever arrives first wins and the other changes nothing.

Saved cards ("Use") go through the ordinary form and :meth:`StripeGateway.charge`; 3-D Secure on them
comes back to the authenticate page, whose script fetches the client secret from here. The cards the
page lists are Stripe's: :func:`refresh_saved_cards` brings the companion's rows in line with the
customer's cards at Stripe before the page is shown (at most once a minute per customer).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, and_, select
from sqlalchemy.orm import Session

from posdesk.companion import payments
from posdesk.companion.database import Database
from posdesk.companion.models import (
    GatewayCustomer,
    Payment,
    PaymentStatus,
    SavedCard,
    Store,
    payment_status_advances,
    utcnow,
)
from posdesk.companion.models import Invoice as InvoiceRow
from posdesk.companion.payments import GatewayDirectory, PaymentRefused, PayOutcome, PayRequest
from posdesk.core.invoice import Invoice
from posdesk.core.money import Money
from posdesk.gateways.base import (
    ChargeRequest,
    ClientInfo,
    GatewayError,
    GatewayPayment,
    NewCard,
    SavedMethod,
)
from posdesk.gateways.stripe import IntentState, StripeGateway

log = logging.getLogger(__name__)

NOT_STRIPE_MESSAGE = "This payment page is not set up for card payments right now. Please reload it."
CARD_LIST_FRESH_FOR = 60.0  # seconds: how long a customer's card list from Stripe is shown without asking again
CARD_LIST_MEMORY = 10_000  # customers remembered before the stale ones are forgotten


@dataclass(frozen=True, slots=True)
class PreparedPayment:
    """What the page needs to confirm: the companion's payment id and Stripe's client secret."""

    payment_id: str
    client_secret: str
    total: Money
    save_card: bool
    status: PaymentStatus


def stripe_of(gateway: object) -> StripeGateway:
    if not isinstance(gateway, StripeGateway):
        raise PaymentRefused(NOT_STRIPE_MESSAGE)
    return gateway


def start_payment(
    db: Database, gateways: GatewayDirectory, token_hash: str, request: PayRequest
) -> PreparedPayment:
    """An unconfirmed intent for this invoice's amount now plus the tip (see the module docstring).

    Raises :class:`PaymentRefused` (and its ``VersionChanged``) like :func:`payments.pay_invoice`.
    """
    with db.read() as session:
        plan = payments._plan_invoice_payment(session, token_hash, request)
        store = session.get(Store, plan.store_id)
        assert store is not None
        gateway = stripe_of(gateways.for_store(store))
    save = bool(request.save_card and plan.client)
    release_abandoned(db, gateway, plan.invoice_id, keep=(plan.version, plan.amount.minor, plan.tip.minor))
    payment_id, key, existing = payments._start_attempt(
        db, plan, gateway.kind, kind="invoice", scope=f"{plan.invoice_id}:v{plan.version}"
    )
    if existing is not None and existing.status in (PaymentStatus.SUCCEEDED, PaymentStatus.PROCESSING):
        raise PaymentRefused("This invoice is already being paid. Please wait a moment and refresh.")
    customer = None
    if save and plan.client is not None:
        with db.write() as session:
            customer = payments.customer_ref(session, gateway, plan.store_id, plan.client)
    charge = ChargeRequest(
        amount=plan.amount,
        tip=plan.tip,
        idempotency_key=key,
        metadata=payments._metadata(plan, payment_id, "invoice"),
        new_card=NewCard("payment-element"),  # the card stays in the page's element
        customer_ref=customer,
        save_card=save,
        description=f"{plan.store_name} invoice",
    )
    try:
        state = gateway.prepare_payment(charge)
    except GatewayError as exc:
        payments.fail_payment(db, payment_id, exc.message)  # nothing was confirmed: nothing charged
        raise PaymentRefused(exc.message) from None
    with db.write() as session:
        payment = payments.lock_payment(session, payment_id)
        if payment.gateway_payment_id is None:
            payment.gateway_payment_id = state.ref
        status = PaymentStatus(payment.status)
    return PreparedPayment(payment_id, state.client_secret, charge.total, save, status)


def release_abandoned(
    db: Database, gateway: StripeGateway, invoice_id: str, keep: tuple[int, int, int]
) -> int:
    """Cancel this invoice's intents that nobody confirmed and that are for another version, amount or
    tip than ``keep`` (the client changed the tip, the cashier sent a new version); how many.

    An intent that did move (another tab paid) is applied instead, never canceled.
    """
    with db.read() as session:
        open_ones = session.scalars(
            select(Payment).where(
                Payment.invoice_id == invoice_id,
                Payment.gateway == gateway.kind,
                Payment.kind == "invoice",
                Payment.status == PaymentStatus.PENDING.value,
                Payment.gateway_payment_id.is_not(None),
            )
        ).all()
        stale = [
            (p.id, p.gateway_payment_id)
            for p in open_ones
            if (p.invoice_version, p.amount_minor, p.tip_minor) != keep
        ]
    released = 0
    for payment_id, ref in stale:
        assert ref is not None
        state = gateway.intent(ref)
        if state.confirmable:
            state = gateway.cancel(ref)
        apply_intent(db, payment_id, state)
        released += 1
    return released


def apply_intent(db: Database, payment_id: str, state: IntentState) -> PayOutcome:
    """Apply what Stripe says about an intent to its payment (forward only); the payment's outcome."""
    with db.write() as session:
        payment = payments.lock_payment(session, payment_id)
        if state.payment is not None:
            try:
                payments.apply_gateway_payment(session, payment, state.payment)
            except payments.MismatchError as exc:
                log.warning("stripe intent %s not applied to payment %s: %s", state.ref, payment_id, exc)
            remember_card(session, payment, state.payment)
        elif state.status == "canceled":
            cancel_payment(payment)
        return payments._outcome(payment, state.payment.action if state.payment else None)


def cancel_payment(payment: Payment) -> bool:
    """An intent canceled at Stripe: its attempt is over (quietly: nothing was charged)."""
    if (
        payment_status_advances(PaymentStatus(payment.status), PaymentStatus.CANCELED)
        and payment.status != PaymentStatus.FAILED.value
    ):
        payment.status = PaymentStatus.CANCELED.value
        return True
    return False


def sync_payment(db: Database, gateways: GatewayDirectory, token_hash: str, payment_id: str) -> PayOutcome:
    """After Stripe.js confirmed (or failed to): ask Stripe how the payment stands and apply it."""
    with db.read() as session:
        payment, invoice = payments.payment_for_token(session, token_hash, payment_id)
        store = session.get(Store, invoice.store_id)
        assert store is not None
        ref, kind = payment.gateway_payment_id, payment.gateway
        current = payments._outcome(payment)
        gateway = gateways.for_store(store)
    if not ref or not isinstance(gateway, StripeGateway) or kind != gateway.kind:
        return current
    return apply_intent(db, payment_id, gateway.intent(ref))


def client_secret(db: Database, gateways: GatewayDirectory, token_hash: str, payment_id: str) -> str:
    """The client secret of a payment waiting for 3-D Secure (for ``stripe.handleNextAction``)."""
    with db.read() as session:
        payment, invoice = payments.payment_for_token(session, token_hash, payment_id)
        store = session.get(Store, invoice.store_id)
        assert store is not None
        ref = payment.gateway_payment_id
        gateway = stripe_of(gateways.for_store(store))
        if PaymentStatus(payment.status) is not PaymentStatus.REQUIRES_ACTION or not ref:
            raise LookupError("nothing to confirm")
    return gateway.intent(ref).client_secret


# -- saved cards ------------------------------------------------------------------------------------
def remember_card(session: Session, payment: Payment, result: GatewayPayment) -> None:
    """Keep the card the client asked to save, once the payment succeeded (whichever report came first)."""
    if result.saved_method is None or PaymentStatus(payment.status) not in (
        PaymentStatus.SUCCEEDED,
        PaymentStatus.REFUNDED,
    ):
        return
    invoice = session.get(InvoiceRow, payment.invoice_id)
    if invoice is not None and invoice.client_id is not None:
        save_card(session, payment.store_id, invoice.client_id, payment.gateway, result.saved_method)


def save_card(
    session: Session, store_id: str, client_id: str, gateway: str, method: SavedMethod
) -> SavedCard:
    """The client's saved card for ``method`` (made the default when they have none)."""
    cards = session.scalars(
        select(SavedCard).where(
            SavedCard.store_id == store_id, SavedCard.client_id == client_id, SavedCard.gateway == gateway
        )
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


def start_setup(db: Database, gateways: GatewayDirectory, token_hash: str) -> tuple[str, str]:
    """A SetupIntent to save a card without paying (known clients only): ``(setup id, secret)``."""
    with db.read() as session:
        row = payments._refuse_unpayable(
            session.scalars(select(InvoiceRow).where(InvoiceRow.token_hash == token_hash)).one_or_none()
        )
        store = session.get(Store, row.store_id)
        assert store is not None
        gateway = stripe_of(gateways.for_store(store))
        client = Invoice.from_wire(row.document).client
        if client is None:
            raise PaymentRefused("Cards can only be saved for a known client")
        info = ClientInfo(client.id, client.name, client.email, client.phone)
        store_id, invoice_id = store.id, row.id
    with db.write() as session:
        customer = payments.customer_ref(session, gateway, store_id, info)
    metadata = {"store_id": store_id, "client_id": info.id, "invoice_id": invoice_id}
    try:
        return gateway.prepare_setup(customer, metadata, f"setup:{invoice_id}:{uuid.uuid4().hex}")
    except GatewayError as exc:
        raise PaymentRefused(exc.message) from None


def finish_setup(
    db: Database, gateways: GatewayDirectory, token_hash: str, setup_ref: str
) -> SavedCard | None:
    """Record the card a SetupIntent of this invoice's client saved; None while it is not done."""
    with db.read() as session:
        row = session.scalars(select(InvoiceRow).where(InvoiceRow.token_hash == token_hash)).one_or_none()
        if row is None:
            raise LookupError("no such link")
        store = session.get(Store, row.store_id)
        assert store is not None
        gateway = stripe_of(gateways.for_store(store))
        invoice_id = row.id
    report = gateway.setup_result(setup_ref)
    if report is None or report.metadata.get("invoice_id") != invoice_id:
        return None
    return record_setup(
        db,
        gateway,
        report.metadata.get("store_id", ""),
        report.metadata.get("client_id", ""),
        report.customer_ref,
        report.method_ref,
    )


def record_setup(
    db: Database, gateway: StripeGateway, store_id: str, client_id: str, customer_ref: str, method_ref: str
) -> SavedCard | None:
    """Save the card ``method_ref`` for the client whose Stripe customer is ``customer_ref``."""
    with db.read() as session:
        known = session.scalars(
            select(GatewayCustomer).where(
                GatewayCustomer.store_id == store_id,
                GatewayCustomer.client_id == client_id,
                GatewayCustomer.gateway == gateway.kind,
            )
        ).one_or_none()
        if known is None or known.customer_ref != customer_ref:
            return None  # not a customer this store made for this client
    method = gateway.saved_method(customer_ref, method_ref)
    if method is None:
        return None
    with db.write() as session:
        card = save_card(session, store_id, client_id, gateway.kind, method)
        session.flush()
        session.expunge(card)
        return card


# -- the saved cards the page lists: Stripe's ---------------------------------------------------------
class CardListCache:
    """When each Stripe customer's cards were last listed, in this process's memory.

    A page view waits on Stripe at most once per :data:`CARD_LIST_FRESH_FOR` per customer. A listing
    counts from the moment it is asked for, successful or not: two phones opening at once ask once, and
    while Stripe is down the page does not wait for its timeout on every view.
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
        """Ask Stripe again on the next view of every customer."""
        with self._lock:
            self._asked.clear()


card_lists = CardListCache()  # one per process: each worker asks Stripe on its own


def refresh_saved_cards(
    db: Database, gateways: GatewayDirectory, token_hash: str, cache: CardListCache = card_lists
) -> bool:
    """Make the saved cards of the client behind ``token_hash`` those of their Stripe customer.

    A card detached at Stripe (the dashboard, another app) is removed here; one attached there and
    unknown here is added; Stripe's default, when it has one, is the default. Nothing happens for
    walk-ins, clients with no Stripe customer yet, other gateways, or while the customer's list is
    fresh (``cache``). Stripe unreachable: the stored cards stay as they are, with a log line, and the
    page shows them. True when Stripe was asked and its list applied.
    """
    with db.read() as session:
        found = session.execute(
            select(InvoiceRow.client_id, Store, GatewayCustomer.customer_ref)
            .join(Store, Store.id == InvoiceRow.store_id)
            .join(
                GatewayCustomer,
                and_(
                    GatewayCustomer.store_id == InvoiceRow.store_id,
                    GatewayCustomer.client_id == InvoiceRow.client_id,
                    GatewayCustomer.gateway == Store.gateway_kind,
                ),
            )
            .where(InvoiceRow.token_hash == token_hash, Store.gateway_kind == StripeGateway.kind)
        ).first()
        if found is None or found.client_id is None:
            return False
        client_id, store, customer = found.client_id, found.Store, found.customer_ref
        session.expunge(store)
    if not cache.due(customer):
        return False
    with db.read() as session:
        # Only cards stored before Stripe is asked may be removed for missing from its list: a card saved
        # by a payment finishing meanwhile is not in that list yet.
        known_before = set(session.scalars(_cards_of(store.id, client_id).with_only_columns(SavedCard.id)))
    try:
        methods = stripe_of(gateways.for_store(store)).list_methods(customer)
    except (GatewayError, PaymentRefused) as exc:
        log.warning(
            "stripe: the saved cards of customer %s could not be listed (%s); the page shows the stored ones",
            customer,
            exc.message,
        )
        return False
    with db.write() as session:
        apply_card_list(session, store.id, client_id, methods, known_before)
    return True


def _cards_of(store_id: str, client_id: str) -> Select[SavedCard]:
    return select(SavedCard).where(
        SavedCard.store_id == store_id,
        SavedCard.client_id == client_id,
        SavedCard.gateway == StripeGateway.kind,
    )


def apply_card_list(
    session: Session, store_id: str, client_id: str, methods: Sequence[SavedMethod], known_before: set[str]
) -> None:
    """Bring the client's stored cards in line with Stripe's ``methods`` (see :func:`refresh_saved_cards`)."""
    listed = {method.ref: method for method in methods}
    cards = list(session.scalars(_cards_of(store_id, client_id).order_by(SavedCard.created_at)))
    for card in cards:
        method = listed.get(card.method_ref)
        if method is None:
            if card.removed_at is None and card.id in known_before:
                card.removed_at, card.is_default = utcnow(), False
            continue
        # Stripe's card updater renews expiry dates; show what Stripe will charge.
        card.brand, card.last4 = method.brand[:20], method.last4[:4]
        card.exp_month, card.exp_year = method.exp_month, method.exp_year
    stored = {card.method_ref for card in cards if card.removed_at is None}
    for method in methods:
        if method.ref not in stored:  # saved at Stripe only (a lost webhook), or removed here earlier
            card = save_card(session, store_id, client_id, StripeGateway.kind, method)
            if card not in cards:
                cards.append(card)
    active = [card for card in cards if card.removed_at is None]
    default = next((m.ref for m in methods if m.is_default), None)
    if default is not None:
        for card in active:
            card.is_default = card.method_ref == default
    elif active and not any(card.is_default for card in active):
        active[0].is_default = True  # the default was removed at Stripe: the oldest card takes its place
