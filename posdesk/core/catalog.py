"""What a store sells: the six kinds of catalog item and their kind-specific data."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from posdesk.core.money import Money


class ItemKind(enum.StrEnum):
    """The kinds of thing a ticket line can sell."""

    APPOINTMENT = "appointment"
    CLASS = "class"
    PRODUCT = "product"
    MEMBERSHIP = "membership"
    PACKAGE = "package"
    GIFT_CARD = "gift_card"

    @property
    def is_service(self) -> bool:
        """Services are what a client tips on (appointments and classes)."""
        return self in (ItemKind.APPOINTMENT, ItemKind.CLASS)

    @property
    def is_taxable(self) -> bool:
        """A gift card is stored value, not a sale: it is never taxed."""
        return self is not ItemKind.GIFT_CARD

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]


_KIND_LABELS = {
    ItemKind.APPOINTMENT: "Service",
    ItemKind.CLASS: "Class",
    ItemKind.PRODUCT: "Product",
    ItemKind.MEMBERSHIP: "Membership",
    ItemKind.PACKAGE: "Package",
    ItemKind.GIFT_CARD: "Gift card",
}


@dataclass(frozen=True, slots=True)
class AppointmentDetails:
    """A service booked with a member of staff."""

    staff: str
    start: datetime | None = None
    duration_minutes: int = 60


@dataclass(frozen=True, slots=True)
class ClassDetails:
    """A class: one session, a number of places."""

    session_start: datetime | None = None
    capacity: int = 10


@dataclass(frozen=True, slots=True)
class ProductDetails:
    """A retail product, by its SKU."""

    sku: str
    stock: int = 0


@dataclass(frozen=True, slots=True)
class MembershipDetails:
    """A membership: how long it runs and the services it covers."""

    period_days: int
    covers_service_ids: frozenset[str] = frozenset()
    requires_card_on_file: bool = False


@dataclass(frozen=True, slots=True)
class PackageDetails:
    """A package: a number of sessions of the services it names."""

    sessions: int
    service_ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class GiftCardDetails:
    """A gift card sold, and for whom."""

    recipient: str = ""


ItemDetails = (
    AppointmentDetails | ClassDetails | ProductDetails | MembershipDetails | PackageDetails | GiftCardDetails
)

DETAILS_TYPES: dict[ItemKind, type[Any]] = {  # the details each kind of item carries
    ItemKind.APPOINTMENT: AppointmentDetails,
    ItemKind.CLASS: ClassDetails,
    ItemKind.PRODUCT: ProductDetails,
    ItemKind.MEMBERSHIP: MembershipDetails,
    ItemKind.PACKAGE: PackageDetails,
    ItemKind.GIFT_CARD: GiftCardDetails,
}


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """Something the store sells. ``tax_rate`` is a fraction (``Decimal("0.0825")`` for 8.25%)."""

    id: str
    kind: ItemKind
    name: str
    price: Money
    details: ItemDetails
    tax_rate: Decimal = Decimal(0)
    active: bool = True
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("a catalog item needs a name")
        if self.price.is_negative():
            raise ValueError("a catalog price cannot be negative")
        if not isinstance(self.tax_rate, Decimal) or not Decimal(0) <= self.tax_rate < Decimal(1):
            raise ValueError("tax rate must be a Decimal fraction between 0 and 1")
        expected = DETAILS_TYPES[self.kind]
        if not isinstance(self.details, expected):
            raise TypeError(f"{self.kind.value} items need {expected.__name__}")
        if not self.kind.is_taxable and self.tax_rate:
            raise ValueError("gift cards are not taxed")
