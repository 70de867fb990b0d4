"""Invoices: versioned, priced snapshots of a ticket, and their wire format.

The POS makes an :class:`Invoice` from a ticket each time the cashier sends it; any priced change makes
a new version (the :meth:`Invoice.fingerprint` differs). The companion reads the same wire format with
:meth:`Invoice.from_wire`, re-prices the lines with :mod:`posdesk.core.pricing` and refuses totals that
do not match (:func:`totals_difference`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from posdesk.core.catalog import ItemKind
from posdesk.core.money import Money, validate_currency
from posdesk.core.pricing import PricedTicket, Promotion, card_charge, price_lines, price_ticket
from posdesk.core.ticket import Coverage, LineDiscount, Payment, PaymentMethod, Ticket, TicketLine

TOTAL_FIELDS = (
    "subtotal",
    "prepaid",
    "discounts",
    "promos",
    "tax",
    "surcharge",
    "total",
    "paid",
    "balance_due",
    "tip_base",
)
MAX_LINES = 200


class InvoiceFormatError(ValueError):
    """An invoice document is malformed; the message names the field."""


@dataclass(frozen=True, slots=True)
class InvoiceClient:
    """The client an invoice is for, frozen with the invoice's version (not :class:`~posdesk.core.client.Client`:
    a snapshot on the wire, with the full name as it was when the invoice was sent)."""

    id: str
    name: str
    phone: str = ""
    email: str = ""
    sms_consent: bool = False
    email_consent: bool = False


@dataclass(frozen=True, slots=True)
class Invoice:
    """A priced snapshot of a ticket at one version. ``client`` is None for a walk-in."""

    invoice_id: str
    ticket_id: str
    ticket_number: int
    version: int
    currency: str
    locale: str
    expires_at: datetime
    client: InvoiceClient | None
    lines: tuple[TicketLine, ...]
    promo_codes: tuple[str, ...]
    payments: tuple[Payment, ...]
    surcharge_rate: Decimal
    amount_requested: Money | None  # None: the whole balance due
    totals: Mapping[str, int]  # minor units, as the sender priced them

    @classmethod
    def from_ticket(
        cls,
        ticket: Ticket,
        *,
        invoice_id: str,
        version: int,
        locale: str,
        expires_at: datetime,
        client: InvoiceClient | None,
        promotions: Mapping[str, Promotion] | None = None,
        surcharge_rate: Decimal = Decimal(0),
        amount_requested: Money | None = None,
    ) -> Invoice:
        priced = price_ticket(ticket, promotions=promotions, surcharge_rate=surcharge_rate, per_tender=True)
        if amount_requested is not None:
            check_requested_amount(amount_requested, priced.balance_due)
        return cls(
            invoice_id=invoice_id,
            ticket_id=ticket.id,
            ticket_number=ticket.number,
            version=version,
            currency=ticket.currency,
            locale=locale,
            expires_at=expires_at,
            client=client,
            lines=tuple(ticket.lines),
            promo_codes=tuple(ticket.promo_codes),
            payments=tuple(ticket.payments),
            surcharge_rate=surcharge_rate,
            amount_requested=amount_requested,
            totals=totals_of(priced),
        )

    def price(
        self, promotions: Mapping[str, Promotion] | None = None, also_paid: Sequence[Payment] = ()
    ) -> PricedTicket:
        """The document priced per tender (``docs/pricing.md``): the surcharge is what its card payments
        carried, as the counter prices the ticket. ``also_paid``: payments the document does not list
        yet (taken through the companion since it was sent)."""
        return price_lines(
            self.lines,
            self.currency,
            promo_codes=self.promo_codes,
            promotions=promotions,
            payments=(*self.payments, *also_paid),
            surcharge_rate=self.surcharge_rate,
            per_tender=True,
        )

    def amount_due_now(self, priced: PricedTicket) -> Money:
        """What this invoice asks off the balance now: the requested amount, capped by the balance due
        (both without the card surcharge, as the POS's "Balance due")."""
        if self.amount_requested is None:
            return priced.balance_due
        return self.amount_requested.min(priced.balance_due)

    def card_charge(self, toward: Money) -> Money:
        """What the link charges the client's card to take ``toward`` off the balance: the amount and
        its card surcharge (on this card amount only)."""
        return card_charge(toward, self.surcharge_rate)

    def fingerprint(self) -> str:
        """Hash of everything that changes what the client pays; equal fingerprints need no new version."""
        wire = self.to_wire()
        priced_parts = {
            k: wire[k]
            for k in ("currency", "lines", "promo_codes", "payments", "surcharge_rate", "amount_requested")
        }
        priced_parts["client_id"] = self.client.id if self.client else None
        canonical = json.dumps(priced_parts, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    # -- wire format -----------------------------------------------------------------------------
    def to_wire(self) -> dict[str, Any]:
        return {
            "invoice_id": self.invoice_id,
            "ticket_id": self.ticket_id,
            "ticket_number": self.ticket_number,
            "version": self.version,
            "currency": self.currency,
            "locale": self.locale,
            "expires_at": self.expires_at.isoformat(),
            "client": None
            if self.client is None
            else {
                "id": self.client.id,
                "name": self.client.name,
                "phone": self.client.phone,
                "email": self.client.email,
                "sms_consent": self.client.sms_consent,
                "email_consent": self.client.email_consent,
            },
            "lines": [line_to_wire(line) for line in self.lines],
            "promo_codes": list(self.promo_codes),
            "payments": [payment_to_wire(p) for p in self.payments],
            "surcharge_rate": str(self.surcharge_rate),
            "amount_requested": None if self.amount_requested is None else self.amount_requested.minor,
            "totals": dict(self.totals),
        }

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Invoice:
        """Read an invoice document, raising :class:`InvoiceFormatError` naming the first bad field."""
        r = _Reader(raw, "invoice")
        currency = r.currency("currency")
        client_raw = raw.get("client")
        client = None
        if client_raw is not None:
            c = _Reader(client_raw, "client")
            client = InvoiceClient(
                id=c.text("id", required=True),
                name=c.text("name", required=True),
                phone=c.text("phone"),
                email=c.text("email"),
                sms_consent=c.flag("sms_consent"),
                email_consent=c.flag("email_consent"),
            )
        lines_raw = r.list("lines")
        if len(lines_raw) > MAX_LINES:
            raise InvoiceFormatError(f"invoice.lines: an invoice has at most {MAX_LINES} lines")
        lines = tuple(line_from_wire(item, currency, i) for i, item in enumerate(lines_raw))
        payments = tuple(payment_from_wire(item, currency, i) for i, item in enumerate(r.list("payments")))
        requested = raw.get("amount_requested")
        totals = _Reader(raw.get("totals"), "totals")
        surcharge_rate = r.rate("surcharge_rate")
        if surcharge_rate >= 1:  # pricing refuses it too; say so here, naming the field
            raise InvoiceFormatError("invoice.surcharge_rate: must be less than 1")
        promo_codes = r.list("promo_codes")
        if not all(isinstance(code, str) for code in promo_codes):
            raise InvoiceFormatError("invoice.promo_codes: must be a list of strings")
        return cls(
            invoice_id=r.text("invoice_id", required=True),
            ticket_id=r.text("ticket_id", required=True),
            ticket_number=r.integer("ticket_number", minimum=0),
            version=r.integer("version", minimum=1),
            currency=currency,
            locale=r.text("locale") or "en_US",
            expires_at=r.timestamp("expires_at"),
            client=client,
            lines=lines,
            promo_codes=tuple(code.upper()[:40] for code in promo_codes),
            payments=payments,
            surcharge_rate=surcharge_rate,
            amount_requested=None if requested is None else Money(r.integer("amount_requested", minimum=1), currency),
            totals={name: totals.integer(name) for name in TOTAL_FIELDS},
        )


def totals_of(priced: PricedTicket) -> dict[str, int]:
    return {name: getattr(priced, name).minor for name in TOTAL_FIELDS}


def totals_difference(claimed: Mapping[str, int], priced: PricedTicket) -> dict[str, dict[str, int]]:
    """Fields whose claimed value differs from the re-priced one: ``{field: {"claimed", "computed"}}``."""
    computed = totals_of(priced)
    return {
        name: {"claimed": int(claimed.get(name, 0)), "computed": computed[name]}
        for name in TOTAL_FIELDS
        if int(claimed.get(name, 0)) != computed[name]
    }


def check_requested_amount(amount: Money, balance_due: Money) -> None:
    """A custom payment amount must be more than zero and at most the balance due."""
    if not amount.is_positive():
        raise ValueError("The amount must be more than zero")
    if amount > balance_due:
        raise ValueError(f"The amount cannot be more than the balance due ({balance_due.format()})")


# -- lines and payments on the wire ---------------------------------------------------------------
def line_to_wire(line: TicketLine) -> dict[str, Any]:
    discount: dict[str, Any] | None = None
    if line.discount is not None:
        discount = (
            {"percent": str(line.discount.percent)}
            if line.discount.percent is not None
            else {"amount": line.discount.amount.minor if line.discount.amount else 0}
        )
    return {
        "id": line.id,
        "item_id": line.item_id,
        "kind": line.kind.value,
        "name": line.name,
        "unit_price": line.unit_price.minor,
        "quantity": line.quantity,
        "tax_rate": str(line.tax_rate),
        "discount": discount,
        "prepaid": line.prepaid.value if line.prepaid else None,
        "prepaid_holding_id": line.prepaid_holding_id,
        "staff": line.staff,
        "start": line.start.isoformat() if line.start else None,
        "appointment_id": line.appointment_id,
        "note": line.note,
    }


def line_from_wire(raw: Any, currency: str, index: int = 0) -> TicketLine:
    r = _Reader(raw, f"lines[{index}]")
    kind_text = r.text("kind", required=True)
    try:
        kind = ItemKind(kind_text)
    except ValueError:
        raise InvoiceFormatError(f"lines[{index}].kind: unknown kind {kind_text!r}") from None
    discount = None
    discount_raw = raw.get("discount")
    if discount_raw is not None:
        d = _Reader(discount_raw, f"lines[{index}].discount")
        try:
            if "percent" in discount_raw:
                discount = LineDiscount(percent=d.rate("percent"))
            else:
                discount = LineDiscount(amount=Money(d.integer("amount", minimum=1), currency))
        except InvoiceFormatError:
            raise
        except ValueError as exc:
            raise InvoiceFormatError(f"lines[{index}].discount: {exc}") from None
    prepaid_text = r.text("prepaid")
    if prepaid_text and prepaid_text not in {c.value for c in Coverage}:
        raise InvoiceFormatError(f"lines[{index}].prepaid: unknown coverage {prepaid_text!r}")
    try:
        return TicketLine(
            id=r.text("id", required=True),
            item_id=r.text("item_id"),
            kind=kind,
            name=r.text("name", required=True),
            unit_price=Money(r.integer("unit_price", minimum=0), currency),
            quantity=r.integer("quantity", minimum=1),
            tax_rate=r.rate("tax_rate"),
            discount=discount,
            prepaid=Coverage(prepaid_text) if prepaid_text else None,
            prepaid_holding_id=r.text("prepaid_holding_id"),
            staff=r.text("staff"),
            start=r.timestamp("start") if raw.get("start") else None,
            appointment_id=r.text("appointment_id"),
            note=r.text("note"),
        )
    except InvoiceFormatError:
        raise  # already names its field
    except (ValueError, TypeError) as exc:
        raise InvoiceFormatError(f"lines[{index}]: {exc}") from None


def payment_to_wire(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.id,
        "amount": payment.amount.minor,
        "tip": payment.tip.minor,
        "method": payment.method.value,
        "received_at": payment.received_at.isoformat(),
        "reference": payment.reference,
        "card_brand": payment.card_brand,
        "card_last4": payment.card_last4,
        "refunded": None if payment.refunded is None else payment.refunded.minor,
    }


def payment_from_wire(raw: Any, currency: str, index: int = 0) -> Payment:
    r = _Reader(raw, f"payments[{index}]")
    method_text = r.text("method", required=True)
    if method_text not in {m.value for m in PaymentMethod}:
        raise InvoiceFormatError(f"payments[{index}].method: unknown payment method {method_text!r}")
    refunded = None if raw.get("refunded") is None else Money(r.integer("refunded", minimum=0), currency)
    try:
        return Payment(
            id=r.text("id", required=True),
            amount=Money(r.integer("amount", minimum=0), currency),
            tip=Money(r.integer("tip", minimum=0), currency),
            method=PaymentMethod(method_text),
            received_at=r.timestamp("received_at"),
            reference=r.text("reference"),
            card_brand=r.text("card_brand"),
            card_last4=r.text("card_last4"),
            refunded=refunded,
        )
    except InvoiceFormatError:
        raise  # already names its field
    except ValueError as exc:
        raise InvoiceFormatError(f"payments[{index}]: {exc}") from None


MAX_MINOR = 10**12  # a trillion minor units: far above any ticket, far below overflow anywhere


class _Reader:
    """Typed access to one JSON object, with errors that name the field."""

    def __init__(self, raw: Any, where: str) -> None:
        if not isinstance(raw, Mapping):
            raise InvoiceFormatError(f"{where}: expected an object")
        self.raw = raw
        self.where = where

    def _fail(self, name: str, message: str) -> InvoiceFormatError:
        return InvoiceFormatError(f"{self.where}.{name}: {message}")

    def text(self, name: str, *, required: bool = False, limit: int = 500) -> str:
        value = self.raw.get(name)
        if value is None:
            if required:
                raise self._fail(name, "is required")
            return ""
        if not isinstance(value, str):
            raise self._fail(name, "must be a string")
        if required and not value.strip():
            raise self._fail(name, "must not be empty")
        if len(value) > limit:
            raise self._fail(name, f"is longer than {limit} characters")
        return value

    def flag(self, name: str) -> bool:
        value = self.raw.get(name, False)
        if not isinstance(value, bool):
            raise self._fail(name, "must be true or false")
        return value

    def integer(self, name: str, *, minimum: int | None = None) -> int:
        value = self.raw.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(name, "must be an integer")
        if minimum is not None and value < minimum:
            raise self._fail(name, f"must be at least {minimum}")
        if abs(value) > MAX_MINOR:
            raise self._fail(name, "is too large")
        return value

    def rate(self, name: str) -> Decimal:
        value = self.raw.get(name, "0")
        if not isinstance(value, str):
            raise self._fail(name, "must be a decimal string such as \"0.0825\"")
        try:
            rate = Decimal(value)
        except InvalidOperation:
            raise self._fail(name, "is not a decimal number") from None
        if not rate.is_finite() or not Decimal(0) <= rate <= Decimal(1):
            raise self._fail(name, "must be between 0 and 1")
        return rate

    def currency(self, name: str) -> str:
        text = self.text(name, required=True)
        try:
            return validate_currency(text)
        except ValueError as exc:
            raise self._fail(name, str(exc)) from None

    def timestamp(self, name: str) -> datetime:
        text = self.text(name, required=True)
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise self._fail(name, "is not an ISO 8601 timestamp") from None
        if value.tzinfo is None:
            raise self._fail(name, "needs a time zone")
        return value

    def list(self, name: str) -> list[Any]:
        value = self.raw.get(name, [])
        if not isinstance(value, list):
            raise self._fail(name, "must be a list")
        return value
