"""What the payment page shows, read from the database and priced with :mod:`posdesk.core`.

Templates get plain values (already translated and formatted strings, integer minor units for the
script); nothing here trusts the browser.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.orm import Session

from posdesk.companion.i18n import Translator
from posdesk.companion.models import Invoice as InvoiceRow
from posdesk.companion.models import InvoiceStatus, Payment, PaymentStatus, SavedCard, Store
from posdesk.companion.payments import (
    COUNTED,
    Balance,
    balance_with,
    is_expired,
    tip_added_to,
    tip_window_open,
)
from posdesk.companion.stores import StoreSettings
from posdesk.companion.tipping import payment_tip_basis, tip_basis
from posdesk.core.amount_input import AmountRules, amount_rules
from posdesk.core.currencies import gateway_scale
from posdesk.core.links import hash_token
from posdesk.core.money import Money
from posdesk.core.text import without_bidi_controls as plain
from posdesk.core.tips import TipPreset

COUNTED_STATUSES = [status.value for status in COUNTED]
BRANDS = {"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express", "discover": "Discover"}


class LinkState(enum.Enum):
    PAYABLE = "payable"
    PAID = "paid"  # nothing left to pay on this link
    INACTIVE = "inactive"  # unknown, expired, revoked: one answer for all


@dataclass(frozen=True, slots=True)
class Found:
    """The invoice behind a token, with its store and figures; ``row`` is detached (read-only)."""

    state: LinkState
    row: InvoiceRow | None = None
    store: Store | None = None
    settings: StoreSettings | None = None
    balance: Balance | None = None


# Built once: a page view only binds the token's hash (building the statement cost as much as running it).
# The counted statuses are ORed, not ``IN (...)``, which SQLAlchemy re-expands on every execution.
_FIND = (
    select(InvoiceRow, Store, Payment)
    .join(Store, Store.id == InvoiceRow.store_id)
    .outerjoin(
        Payment,
        and_(Payment.invoice_id == InvoiceRow.id, or_(*(Payment.status == status for status in COUNTED_STATUSES))),
    )
    .where(InvoiceRow.token_hash == bindparam("token_hash"))
)
_SAVED_CARDS = (
    select(SavedCard)
    .where(
        SavedCard.store_id == bindparam("store_id"),
        SavedCard.client_id == bindparam("client_id"),
        SavedCard.gateway == bindparam("gateway"),
        SavedCard.removed_at.is_(None),
    )
    .order_by(SavedCard.is_default.desc(), SavedCard.created_at)
)


def find(session: Session, token: str, now: datetime | None = None) -> Found:
    if not token or len(token) > 200:
        return Found(LinkState.INACTIVE)
    # One round trip for the invoice, its store and its counted payments: every page reads all three.
    rows = session.execute(_FIND, {"token_hash": hash_token(token)}).all()
    if not rows:
        return Found(LinkState.INACTIVE)
    row, store = rows[0][0], rows[0][1]
    counted = [payment for _, _, payment in rows if payment is not None]
    status = InvoiceStatus(row.status)
    if status is not InvoiceStatus.PAID and (not status.is_payable or is_expired(row, now)):
        return Found(LinkState.INACTIVE)
    settings = StoreSettings.of(store)
    balance = balance_with(row, store, counted)
    _detach(session, row, store)
    if status is InvoiceStatus.PAID:
        return Found(LinkState.PAID, row, store, settings, balance)
    state = LinkState.PAID if balance.due_now.is_zero() and status is InvoiceStatus.PARTIALLY_PAID else LinkState.PAYABLE
    return Found(state, row, store, settings, balance)


def _detach(session: Session, *rows: object) -> None:
    """Keep the rows readable after the read transaction ends (its rollback would expire them)."""
    for row in rows:
        session.expunge(row)


def brand_name(brand: str) -> str:
    return BRANDS.get(brand, brand.title() or "Card")


@dataclass(frozen=True, slots=True)
class LineView:
    name: str
    detail: str
    quantity: int
    amount: str
    was: str  # the price before coverage or discount, struck through when it differs
    badge: str  # "In package" / "In membership"


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    amount: str
    testid: str = ""
    negative: bool = False


@dataclass(frozen=True, slots=True)
class TipOption:
    value: str
    label: str
    amount_minor: int
    amount: str


@dataclass(frozen=True, slots=True)
class CardView:
    id: str
    brand: str
    last4: str
    expiry: str
    is_default: bool


@dataclass(frozen=True, slots=True)
class PageView:
    """Everything ``pay.html`` shows for one invoice, language and state; hashable (tuples, frozen), so a
    rendered page can be kept per view (see :func:`posdesk.companion.pay.rendering.render`)."""

    business: str
    address: str
    ticket_number: int
    client_name: str
    version: int
    currency: str
    lines: tuple[LineView, ...]
    rows: tuple[Row, ...]
    payments: tuple[Row, ...]
    balance_due: str
    due_now_minor: int
    due_now: str
    partial_request: bool
    tip_allowed: bool
    tip_options: tuple[TipOption, ...]
    tip_cap_minor: int
    promo_codes: tuple[str, ...]
    saved_cards: tuple[CardView, ...] = ()
    known_client: bool = False
    no_tip: str = ""
    locale: str = "en_US"
    exponent: int = 2
    amount_rules: AmountRules | None = None  # how a typed tip is read, by the page and the server alike
    gateway_scale: int = 1  # one minor unit of the store in the gateway's unit (100 for COP at Stripe)
    tip_base: str = ""  # what the tip buttons' percentages are of (the services), said beside them
    card_surcharge: str = ""  # the card surcharge on what the link charges now (on this card amount only)

    @property
    def nothing_due(self) -> bool:
        return self.due_now_minor == 0


def _tip_options(presets: Sequence[TipPreset], base: Money, t: Translator, cap: Money) -> list[TipOption]:
    """The tip buttons on ``base``; presets above ``cap`` are not offered (they would be refused).

    Each posts what it shows (its rate or amount, and the amount), never its place in the list.
    """
    options = []
    for preset in presets:
        amount = preset.amount_for(base)
        if amount.is_positive() and amount <= cap:
            options.append(TipOption(preset.form_value(base), preset.label(t.locale), amount.minor, t.money(amount)))
    return options


def itemised(balance: Balance, t: Translator) -> tuple[list[LineView], list[Row], list[Row]]:
    """The invoice's lines, its total rows and what was paid, as the page and the receipts show them."""
    invoice, priced = balance.invoice, balance.priced
    lines = []
    for line, p in zip(invoice.lines, priced.lines, strict=True):
        detail = t(line.kind.label)
        if line.staff:
            detail = t("{kind} with {staff}", kind=detail, staff=line.staff)
        badge = t(line.prepaid.label) if line.prepaid else ""
        was = t.money(p.gross) if p.net != p.gross else ""
        lines.append(LineView(plain(line.name), plain(detail), line.quantity, t.money(p.net), was, badge))
    # The POS's lines and signs: the subtotal counts prepaid lines, taken off again by "Prepaid".
    rows = [Row(t("Subtotal"), t.money(priced.subtotal + priced.prepaid), testid="invoice-subtotal")]
    if priced.prepaid.is_positive():
        rows.append(Row(t("Prepaid"), "−" + t.money(priced.prepaid), testid="invoice-prepaid", negative=True))
    if priced.discounts.is_positive():
        rows.append(Row(t("Discounts"), "−" + t.money(priced.discounts), negative=True))
    if priced.promos.is_positive():
        codes = ", ".join(priced.applied_promo_codes)
        rows.append(Row(t("Promo {codes}", codes=codes), "−" + t.money(priced.promos), negative=True))
    rows.append(Row(t("Tax"), t.money(priced.tax)))
    if priced.surcharge.is_positive():
        rows.append(Row(t("Card surcharge"), t.money(priced.surcharge)))
    rows.append(Row(t("Total"), t.money(priced.total), testid="invoice-total"))
    payments = [Row(t("Paid"), "−" + t.money(balance.paid_total), negative=True)] if balance.paid_total.is_positive() else []
    return lines, rows, payments


def page_view(session: Session, found: Found, t: Translator, gateway_kind: str) -> PageView:
    assert found.row is not None and found.store is not None and found.settings is not None and found.balance
    balance, settings = found.balance, found.settings
    invoice, priced = balance.invoice, balance.priced
    lines, rows, payments = itemised(balance, t)

    policy = settings.tip_policy()
    basis = tip_basis(balance, policy, balance.due_toward)
    tip_options = _tip_options(policy.presets, basis.share, t, basis.cap)
    tip_allowed = policy.allowed and basis.can_tip

    client = invoice.client
    cards: list[CardView] = []
    if client is not None:
        params = {"store_id": found.store.id, "client_id": client.id, "gateway": gateway_kind}
        for card in session.scalars(_SAVED_CARDS, params):
            cards.append(CardView(card.id, brand_name(card.brand), card.last4, f"{card.exp_month:02d}/{card.exp_year % 100:02d}", card.is_default))
    return PageView(
        business=plain(settings.business_name),
        address=plain(settings.address),
        ticket_number=invoice.ticket_number,
        client_name=plain(client.name) if client else "",
        version=found.row.version,
        currency=invoice.currency,
        lines=tuple(lines),
        rows=tuple(rows),
        payments=tuple(payments),
        balance_due=t.money(balance.balance_due),
        due_now_minor=balance.due_now.minor,
        due_now=t.money(balance.due_now),
        partial_request=balance.due_toward != balance.balance_due,
        tip_allowed=tip_allowed,
        tip_options=tuple(tip_options),
        tip_cap_minor=basis.cap.minor,
        promo_codes=tuple(priced.applied_promo_codes),
        saved_cards=tuple(cards),
        known_client=client is not None,
        no_tip=t.money(Money.zero(invoice.currency)),
        locale=t.locale,
        exponent=balance.due_now.exponent,
        amount_rules=amount_rules(invoice.currency, t.locale),
        gateway_scale=gateway_scale(gateway_kind, invoice.currency),
        tip_base=t.money(basis.share),
        card_surcharge=t.money(balance.due_surcharge) if balance.due_surcharge.is_positive() else "",
    )


@dataclass(frozen=True, slots=True)
class ReceiptView:
    payment_id: str
    business: str
    amount: str
    tip: str
    tip_minor: int
    total: str
    card: str
    date: str
    balance_due: str
    balance_due_minor: int
    status: PaymentStatus
    message: str
    can_add_tip: bool
    tip_options: list[TipOption]
    tip_added: str  # the later tip, when one was added


def receipt_view(session: Session, found: Found, payment: Payment, t: Translator) -> ReceiptView:
    assert found.settings is not None and found.balance is not None

    def money(minor: int) -> str:
        return t.money(Money(minor, payment.currency))

    later = tip_added_to(session, payment.id)
    balance = found.balance
    policy = found.settings.tip_policy()
    basis = payment_tip_basis(balance, policy, payment)
    options = _tip_options(policy.presets, basis.share, t, basis.cap)
    can_tip = later is None and policy.allowed and basis.can_tip and tip_window_open(payment)
    when = payment.succeeded_at or payment.created_at
    return ReceiptView(
        payment_id=payment.id,
        business=plain(found.settings.business_name),
        amount=money(payment.amount_minor),
        tip=money(payment.tip_minor),
        tip_minor=payment.tip_minor,
        total=money(payment.amount_minor + payment.tip_minor),
        card=f"{brand_name(payment.card_brand)} •••• {payment.card_last4}" if payment.card_last4 else "",
        date=t.datetime(when),
        balance_due=t.money(balance.balance_due),
        balance_due_minor=balance.balance_due.minor,
        status=PaymentStatus(payment.status),
        message=payment.failure_message,
        can_add_tip=can_tip,
        tip_options=options,
        tip_added=money(later.tip_minor) if later is not None else "",
    )


@dataclass(frozen=True, slots=True)
class PaidPart:
    """One payment on a paid link, as the "already paid" page lists it."""

    date: str
    card: str
    amount: str  # the part of the balance, with its tip added
    tip: str
    tip_minor: int


def paid_parts(session: Session, invoice_id: str, t: Translator) -> tuple[tuple[PaidPart, ...], str]:
    """Every succeeded payment of the invoice in order (a tip added later is its own line), and their total."""
    payments = session.scalars(
        select(Payment)
        .where(Payment.invoice_id == invoice_id, Payment.status.in_(COUNTED_STATUSES))
        .order_by(Payment.succeeded_at, Payment.created_at)
    ).all()
    parts, total_minor, currency = [], 0, ""
    for payment in payments:
        whole = payment.amount_minor + payment.tip_minor
        total_minor, currency = total_minor + whole, payment.currency
        card = f"{brand_name(payment.card_brand)} •••• {payment.card_last4}" if payment.card_last4 else ""
        parts.append(
            PaidPart(
                date=t.datetime(payment.succeeded_at or payment.created_at),
                card=card,
                amount=t.money(Money(whole, payment.currency)),
                tip=t.money(Money(payment.tip_minor, payment.currency)),
                tip_minor=payment.tip_minor,
            )
        )
    return tuple(parts), (t.money(Money(total_minor, currency)) if currency else "")


def latest_payment(session: Session, invoice_id: str) -> Payment | None:
    return session.scalars(
        select(Payment)
        .where(Payment.invoice_id == invoice_id, Payment.kind == "invoice", Payment.status == PaymentStatus.SUCCEEDED.value)
        .order_by(Payment.succeeded_at.desc())
    ).first()


def payment_being_checked(session: Session, invoice_id: str) -> Payment | None:
    """An attempt whose outcome nobody knows yet (its answer was lost, a lookup is pending): while it
    waits the page offers no new attempt, since the card may have been charged."""
    return session.scalars(
        select(Payment)
        .where(Payment.invoice_id == invoice_id, Payment.kind == "invoice", Payment.status == PaymentStatus.PROCESSING.value)
        .order_by(Payment.created_at.desc())
    ).first()


def status_json(found: Found, t: Translator) -> dict[str, Any]:
    """What the page's script polls to notice a new version or a payment made elsewhere."""
    if found.state is LinkState.INACTIVE or found.row is None or found.balance is None:
        return {"state": LinkState.INACTIVE.value}
    return {
        "state": found.state.value,
        "version": found.row.version,
        "due_now": found.balance.due_now.minor,
        "due_now_text": t.money(found.balance.due_now),
        "balance_due_text": t.money(found.balance.balance_due),
    }

