"""Clients of the store and what they already hold (package sessions, memberships, gift cards)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from posdesk.core.money import Money

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ().-]{7,20}$")
MAX_NAME_LENGTH = 200


class ClientValidationError(ValueError):
    """A client field is invalid; ``field`` names which one for the form to highlight."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


def normalize_phone(phone: str) -> str:
    """Digits with an optional leading +, as stored and compared ("+1 (555) 010-2000" -> "+15550102000")."""
    phone = phone.strip()
    digits = re.sub(r"\D", "", phone)
    return ("+" if phone.startswith("+") else "") + digits


@dataclass(frozen=True, slots=True)
class Client:
    """A known client. Walk-ins are not clients: a ticket without a client is a walk-in ticket."""

    id: str
    first_name: str
    last_name: str = ""
    phone: str = ""
    email: str = ""
    sms_consent: bool = False
    email_consent: bool = False

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def can_receive_sms(self) -> bool:
        return bool(self.phone) and self.sms_consent

    @property
    def can_receive_email(self) -> bool:
        return bool(self.email) and self.email_consent

    def validate(self) -> Client:
        """Raise :class:`ClientValidationError` for the first bad field; return self when all are fine."""
        if not self.first_name.strip():
            raise ClientValidationError("first_name", "First name is required")
        for name in ("first_name", "last_name"):
            if len(getattr(self, name)) > MAX_NAME_LENGTH:
                raise ClientValidationError(name, f"Names are limited to {MAX_NAME_LENGTH} characters")
        if self.phone and not _PHONE.match(self.phone.strip()):
            raise ClientValidationError("phone", "Phone number should contain 7 to 20 digits")
        if self.email and not _EMAIL.match(self.email.strip()):
            raise ClientValidationError("email", "Email address is not valid")
        if self.sms_consent and not self.phone:
            raise ClientValidationError("sms_consent", "SMS consent needs a phone number")
        if self.email_consent and not self.email:
            raise ClientValidationError("email_consent", "Email consent needs an email address")
        return self


@dataclass(frozen=True, slots=True)
class PackageHolding:
    """Sessions left of a package the client bought, usable for the listed services."""

    package_id: str
    name: str
    service_ids: frozenset[str]
    sessions_left: int


@dataclass(frozen=True, slots=True)
class MembershipHolding:
    """An active membership covering the listed services until ``active_until`` (inclusive)."""

    membership_id: str
    name: str
    covers_service_ids: frozenset[str]
    active_until: date

    def is_active(self, on: date) -> bool:
        return on <= self.active_until


@dataclass(frozen=True, slots=True)
class GiftCardBalance:
    """A gift card the client holds, and what is left on it."""

    code: str
    balance: Money


@dataclass(frozen=True, slots=True)
class Holdings:
    """Everything a client holds that can cover or pay for a line."""

    packages: tuple[PackageHolding, ...] = ()
    memberships: tuple[MembershipHolding, ...] = ()
    gift_cards: tuple[GiftCardBalance, ...] = field(default=())

    def coverage_for(self, service_id: str, on: date) -> tuple[str, str] | None:
        """Which holding would cover a service today: ``("package", id)``, ``("membership", id)`` or None.

        Memberships are used before packages: a membership costs nothing per visit, a package session
        is used up.
        """
        for membership in self.memberships:
            if service_id in membership.covers_service_ids and membership.is_active(on):
                return ("membership", membership.membership_id)
        for package in self.packages:
            if service_id in package.service_ids and package.sessions_left > 0:
                return ("package", package.package_id)
        return None
