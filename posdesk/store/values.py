"""Values the store hands out that are not core values: terminal settings and today's appointments.

No SQLAlchemy here (nor in :mod:`posdesk.store.direct`): the POS reads its first screen with these
before SQLAlchemy is imported (DESIGN.md section 7, start-up). :mod:`posdesk.store.terminal_settings` and
:mod:`posdesk.store.appointments` re-export them next to their repositories.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from posdesk.core.attributes import field_values
from posdesk.core.catalog import CatalogItem
from posdesk.core.client import Client
from posdesk.core.money import validate_currency
from posdesk.core.pricing import Promotion
from posdesk.core.ticket import TicketLine, new_id
from posdesk.core.tips import TipPolicy
from posdesk.store.codecs import (
    tip_policy_from_json,
    tip_policy_to_json,
)

log = logging.getLogger(__name__)

TERMINAL_KEY = "terminal"


@dataclass(frozen=True, slots=True)
class TerminalSettings:
    """What the manager sets for this terminal and store. Send Invoice is off until enabled."""

    online_payment_link_enabled: bool = False
    business_name: str = ""
    business_address: str = ""
    business_phone: str = ""
    business_email: str = ""
    brand_color: str = ""  # "#rrggbb" for the payment page; "" keeps the page's own
    logo: str = ""  # a PNG, JPEG or WebP as a data: URL, shown on the payment page
    currency: str = "USD"
    locale: str = "en_US"
    languages: tuple[str, ...] = ("en",)
    tip_policy: TipPolicy = field(default_factory=TipPolicy)
    surcharge_rate: Decimal = Decimal(0)
    link_expiry_hours: int = 72
    promotions: tuple[Promotion, ...] = ()
    companion_url: str = ""
    store_id: str = ""
    terminal_name: str = ""
    manager_pin_hash: str = ""
    # Demo mode only: the embedded companion listens on this computer's network address, so a phone on
    # the same Wi-Fi can open a demo link (off: links open on this computer only).
    demo_links_on_lan: bool = False

    def promotions_by_code(self) -> dict[str, Promotion]:
        """The store's promotions keyed by code, as :func:`posdesk.core.pricing.price_ticket` takes them."""
        return {promo.code: promo for promo in self.promotions}

    def to_json(self) -> dict[str, Any]:
        return field_values(
            self,
            languages=list(self.languages),
            tip_policy=tip_policy_to_json(self.tip_policy),
            surcharge_rate=str(self.surcharge_rate),
            promotions=[p.to_wire() for p in self.promotions],
        )

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> TerminalSettings:
        settings = cls()
        if not isinstance(raw, Mapping):
            return settings
        currency = settings.currency
        if "currency" in raw:
            currency = _read("currency", raw, lambda v: validate_currency(str(v)), currency)
        readers: dict[str, Callable[[Any], Any]] = {
            "online_payment_link_enabled": _flag,
            "business_name": str,
            "business_address": str,
            "business_phone": str,
            "business_email": str,
            "brand_color": str,
            "logo": str,
            "locale": str,
            "languages": lambda v: tuple(str(x) for x in v) or ("en",),
            "tip_policy": lambda v: tip_policy_from_json(v, currency),
            "surcharge_rate": _rate,
            "link_expiry_hours": _positive_int,
            "promotions": lambda v: tuple(Promotion.from_wire(p, currency) for p in v),
            "companion_url": str,
            "store_id": str,
            "terminal_name": str,
            "manager_pin_hash": str,
            "demo_links_on_lan": _flag,
        }
        changes: dict[str, Any] = {"currency": currency}
        for f in fields(cls):
            if f.name in raw and f.name in readers:
                changes[f.name] = _read(f.name, raw, readers[f.name], getattr(settings, f.name))
        return replace(settings, **changes)


def _read(name: str, raw: Mapping[str, Any], reader: Callable[[Any], Any], default: Any) -> Any:
    try:
        return reader(raw[name])
    except (TypeError, ValueError, KeyError, ArithmeticError):
        # The value itself is not logged: it could be anything a broken file holds.
        log.warning("setting %r is unreadable; using its default", name)
        return default


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("expected true or false")
    return value


def _rate(value: Any) -> Decimal:
    rate = Decimal(str(value))
    if not Decimal(0) <= rate < Decimal(1):
        raise ValueError("rate out of range")
    return rate


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("expected a positive integer")
    return value


class AppointmentStatus(enum.StrEnum):
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    ON_TICKET = "on_ticket"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class Appointment:
    """A booked service, with its client (None for a walk-in booking) and the catalog service."""

    id: str
    client: Client | None
    service: CatalogItem
    staff: str
    start: datetime
    duration_minutes: int
    status: AppointmentStatus
    ticket_id: str | None = None

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.duration_minutes)

    def to_line(self, line_id: str | None = None) -> TicketLine:
        """The ticket line for this appointment: the service's price and tax, with staff and start."""
        line = TicketLine.from_item(self.service, line_id=line_id or new_id())
        return replace(line, staff=self.staff, start=self.start, appointment_id=self.id)
