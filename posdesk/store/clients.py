"""Clients in the local cache: search as you type, create, consent, and what they hold."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import date

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from posdesk.core.attributes import from_attributes
from posdesk.core.client import (
    Client,
    GiftCardBalance,
    Holdings,
    MembershipHolding,
    PackageHolding,
    normalize_phone,
)
from posdesk.core.money import Money
from posdesk.core.ticket import new_id, utcnow
from posdesk.store.models import ClientHoldingRow, ClientRow
from posdesk.store.repository import Repository
from posdesk.store.search import email_key, looks_like_phone, name_key, phone_key, prefix_upper_bound

DEFAULT_RESULTS = 20


def _starts_with(column: InstrumentedAttribute[str], prefix: str) -> ColumnElement[bool]:
    # A range, not LIKE: SQLite answers it from the column's index (see posdesk.store.search).
    return and_(column >= prefix, column < prefix_upper_bound(prefix))


class ClientRepository(Repository):
    """Clients, and what they hold."""

    def search(self, text: str, limit: int = DEFAULT_RESULTS) -> list[Client]:
        """Clients whose first or last name, email, or phone (first or last digits) start with ``text``.

        Case and accents are ignored; results come in name order. Empty text finds nothing.
        """
        conditions: list[ColumnElement[bool]] = []
        if looks_like_phone(text):
            digits = phone_key(text)
            conditions += [
                _starts_with(ClientRow.phone_key, digits),
                _starts_with(ClientRow.phone_key_reversed, digits[::-1]),
            ]
        else:
            key = name_key(text)
            if not key:
                return []
            conditions += [_starts_with(ClientRow.name_key, key), _starts_with(ClientRow.last_name_key, key)]
            if "@" in text or "." in text or " " not in key:
                conditions.append(_starts_with(ClientRow.email_key, email_key(text)))
        rows = self.session.scalars(
            select(ClientRow)
            .where(or_(*conditions))
            .order_by(ClientRow.name_key, ClientRow.id)
            .limit(limit)
            .execution_options(populate_existing=True)
        )
        return [client_of(row) for row in rows]

    def get(self, client_id: str) -> Client | None:
        return self._get(ClientRow, client_id, client_of)

    def create(self, client: Client) -> Client:
        """Validate (raising ``ClientValidationError`` naming the field) and store a new client.

        The stored phone is normalized (digits with an optional leading +); an empty id gets a new one.
        """
        client = _cleaned(client).validate()
        if not client.id:
            client = replace(client, id=new_id())
        now = utcnow()
        self.session.execute(insert(ClientRow).values(**_row_values(client), created_at=now, updated_at=now))
        return client

    def upsert(self, client: Client) -> Client:
        """Create the client or overwrite the stored one with the same id (sample data, sync)."""
        client = _cleaned(client).validate()
        if self.session.get(ClientRow, client.id) is None:
            return self.create(client)
        self.session.execute(
            update(ClientRow)
            .where(ClientRow.id == client.id)
            .values(**_row_values(client), updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return client

    def update_consent(self, client_id: str, *, sms: bool | None = None, email: bool | None = None) -> Client:
        """Change SMS and/or email consent (e.g. a STOP reply); refuses consent without the contact."""
        current = self.get(client_id)
        if current is None:
            raise KeyError(client_id)
        changed = replace(
            current,
            sms_consent=current.sms_consent if sms is None else sms,
            email_consent=current.email_consent if email is None else email,
        ).validate()
        self.session.execute(
            update(ClientRow)
            .where(ClientRow.id == client_id)
            .values(sms_consent=changed.sms_consent, email_consent=changed.email_consent, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return changed

    # -- holdings --------------------------------------------------------------------------------
    def holdings(self, client_id: str) -> Holdings:
        rows = list(
            self.session.scalars(
                select(ClientHoldingRow)
                .where(ClientHoldingRow.client_id == client_id)
                .order_by(ClientHoldingRow.id)
                .execution_options(populate_existing=True)
            )
        )
        return Holdings(
            packages=tuple(
                PackageHolding(r.holding_id, r.name, frozenset(r.service_ids), r.sessions_left or 0)
                for r in rows
                if r.kind == "package"
            ),
            memberships=tuple(
                MembershipHolding(r.holding_id, r.name, frozenset(r.service_ids), r.active_until or date.min)
                for r in rows
                if r.kind == "membership"
            ),
            gift_cards=tuple(
                GiftCardBalance(r.holding_id, Money(r.balance_minor or 0, r.currency or "USD"))
                for r in rows
                if r.kind == "gift_card"
            ),
        )

    def set_holdings(self, client_id: str, holdings: Holdings) -> None:
        """Replace everything the client holds with ``holdings``."""
        self.session.execute(delete(ClientHoldingRow).where(ClientHoldingRow.client_id == client_id))
        values = (
            [
                {
                    "client_id": client_id,
                    "kind": "package",
                    "holding_id": p.package_id,
                    "name": p.name,
                    "service_ids": sorted(p.service_ids),
                    "sessions_left": p.sessions_left,
                }
                for p in holdings.packages
            ]
            + [
                {
                    "client_id": client_id,
                    "kind": "membership",
                    "holding_id": m.membership_id,
                    "name": m.name,
                    "service_ids": sorted(m.covers_service_ids),
                    "active_until": m.active_until,
                }
                for m in holdings.memberships
            ]
            + [
                {
                    "client_id": client_id,
                    "kind": "gift_card",
                    "holding_id": g.code,
                    "name": "Gift card",
                    "service_ids": [],
                    "balance_minor": g.balance.minor,
                    "currency": g.balance.currency,
                }
                for g in holdings.gift_cards
            ]
        )
        for value in values:  # one by one: the columns differ by kind
            self.session.execute(insert(ClientHoldingRow).values(**value))

    def use_package_session(self, client_id: str, package_id: str) -> int:
        """Use one session of a package (a prepaid line was paid for); returns the sessions left."""
        row = self.session.scalar(
            select(ClientHoldingRow).where(
                ClientHoldingRow.client_id == client_id,
                ClientHoldingRow.kind == "package",
                ClientHoldingRow.holding_id == package_id,
            )
        )
        if row is None or not row.sessions_left:
            raise ValueError("no session left in this package")
        row.sessions_left -= 1
        self.session.flush()
        return row.sessions_left


def _cleaned(client: Client) -> Client:
    return replace(
        client,
        first_name=client.first_name.strip(),
        last_name=client.last_name.strip(),
        phone=normalize_phone(client.phone) if client.phone.strip() else "",
        email=client.email.strip(),
    )


def _row_values(client: Client) -> dict[str, object]:
    digits = phone_key(client.phone)
    return {
        **asdict(client),  # a column for each of the client's fields, and the search keys
        "name_key": name_key(f"{client.first_name} {client.last_name}"),
        "last_name_key": name_key(f"{client.last_name} {client.first_name}"),
        "phone_key": digits,
        "phone_key_reversed": digits[::-1],
        "email_key": email_key(client.email),
    }


def client_of(row: ClientRow) -> Client:
    return from_attributes(Client, row)
