"""Tables of the POS's local cache (SQLAlchemy 2 typed models).

Money is stored as integer minor units next to its currency, rates as decimal text ("0.0825"), times
as naive UTC (:class:`UTCDateTime` gives them back timezone-aware). The Alembic migrations under
``migrations/`` create exactly these tables; a test compares the two.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from posdesk.sql_types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(32)
CURRENCY = String(3)
RATE = String(16)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(timezone=False),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class ClientRow(Base):
    __tablename__ = "clients"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    first_name: Mapped[str] = mapped_column(String(200))
    last_name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    sms_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    email_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    # Search keys (see posdesk.store.search): "first last", "last first", phone digits forwards and
    # backwards (so the last digits of a number find it too), case-folded email.
    name_key: Mapped[str] = mapped_column(String(420), index=True)
    last_name_key: Mapped[str] = mapped_column(String(420), index=True)
    phone_key: Mapped[str] = mapped_column(String(40), index=True)
    phone_key_reversed: Mapped[str] = mapped_column(String(40), index=True)
    email_key: Mapped[str] = mapped_column(String(320), index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ClientHoldingRow(Base):
    """One thing a client holds: a package (sessions left), a membership (until) or a gift card (balance)."""

    __tablename__ = "client_holdings"
    __table_args__ = (UniqueConstraint("client_id", "kind", "holding_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ID, ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # package | membership | gift_card
    holding_id: Mapped[str] = mapped_column(String(64))  # package/membership item id, or gift card code
    name: Mapped[str] = mapped_column(String(200), default="")
    service_ids: Mapped[list[Any]] = mapped_column(default=list)
    sessions_left: Mapped[int | None] = mapped_column(Integer)
    active_until: Mapped[date | None] = mapped_column(Date)
    balance_minor: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str | None] = mapped_column(CURRENCY)


class CatalogItemRow(Base):
    __tablename__ = "catalog_items"
    __table_args__ = (Index(None, "kind", "name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    price_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(CURRENCY)
    tax_rate: Mapped[str] = mapped_column(RATE, default="0")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class AppointmentRow(Base):
    __tablename__ = "appointments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str | None] = mapped_column(ID, ForeignKey("clients.id"), index=True)
    item_id: Mapped[str] = mapped_column(String(64), ForeignKey("catalog_items.id"))
    staff: Mapped[str] = mapped_column(String(200), default="")
    start_at: Mapped[datetime] = mapped_column(index=True)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    status: Mapped[str] = mapped_column(String(16), default="booked")
    ticket_id: Mapped[str | None] = mapped_column(ID)


class TicketRow(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index(None, "state", "number"),
        Index(None, "client_id", "number"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    currency: Mapped[str] = mapped_column(CURRENCY)
    client_id: Mapped[str | None] = mapped_column(ID, ForeignKey("clients.id"))
    client_name: Mapped[str] = mapped_column(String(420), default="")
    client_key: Mapped[str] = mapped_column(String(420), default="")
    state: Mapped[str] = mapped_column(String(24))
    revision: Mapped[int] = mapped_column(Integer)
    promo_codes: Mapped[list[Any]] = mapped_column(default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


# Search as you type by client name, newest first within a name: a range on client_key read in this
# index's order needs no sort, so a page costs the same with a million tickets as with a hundred.
Index("ix_tickets_client_key_number", TicketRow.client_key, TicketRow.number.desc())


class TicketLineRow(Base):
    __tablename__ = "ticket_lines"
    __table_args__ = (UniqueConstraint("ticket_id", "position"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ID, ForeignKey("tickets.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(500))
    unit_price_minor: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    tax_rate: Mapped[str] = mapped_column(RATE)
    discount_percent: Mapped[str | None] = mapped_column(RATE)
    discount_minor: Mapped[int | None] = mapped_column(Integer)
    prepaid: Mapped[str | None] = mapped_column(String(16))
    prepaid_holding_id: Mapped[str] = mapped_column(String(64), default="")
    staff: Mapped[str] = mapped_column(String(200), default="")
    start_at: Mapped[datetime | None]
    appointment_id: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(String(500), default="")


class PaymentRow(Base):
    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("ticket_id", "position"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ID, ForeignKey("tickets.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(Integer)
    tip_minor: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime]
    reference: Mapped[str] = mapped_column(String(200), default="")
    card_brand: Mapped[str] = mapped_column(String(32), default="")
    card_last4: Mapped[str] = mapped_column(String(4), default="")
    refunded_minor: Mapped[int | None] = mapped_column(Integer)
    refunded_tip_minor: Mapped[int | None] = mapped_column(Integer, default=None)  # of refunded_minor
    refunds: Mapped[list[Any] | None] = mapped_column(default=None)  # [{at, amount, tip}]: each refund, when
    tip_split: Mapped[dict[str, Any] | None] = mapped_column(
        default=None
    )  # a manager's split {provider: minor}


class GiftCardRow(Base):
    """A gift card sold through the POS: its code and what is left on it (the companion's figure when
    this terminal last heard, lowered here by uses at this counter)."""

    __tablename__ = "gift_cards"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    currency: Mapped[str] = mapped_column(CURRENCY)
    amount_minor: Mapped[int] = mapped_column(Integer)  # sold for
    balance_minor: Mapped[int] = mapped_column(Integer)
    ticket_id: Mapped[str] = mapped_column(String(64), default="")  # the ticket that sold it
    client_id: Mapped[str | None] = mapped_column(String(64), default=None)  # who bought it
    sold_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class InvoiceRow(Base):
    """The local record of a ticket's invoice. The terminal keeps the link token so it can show the
    link and QR again; the companion only ever stores its hash."""

    __tablename__ = "invoices"

    ticket_id: Mapped[str] = mapped_column(ID, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(ID, unique=True)
    version: Mapped[int] = mapped_column(Integer)
    link_token: Mapped[str] = mapped_column(String(100))
    fingerprint: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    currency: Mapped[str] = mapped_column(CURRENCY)
    amount_requested_minor: Mapped[int | None] = mapped_column(Integer)
    link_status: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime | None]
    out_of_date: Mapped[bool] = mapped_column(Boolean, default=False)


class OutboxRow(Base):
    """Work waiting for the companion. ``dedupe_key`` makes enqueueing the same effect twice harmless."""

    __tablename__ = "outbox"
    __table_args__ = (Index(None, "done_at", "next_try_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime]
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]


class EventCursorRow(Base):
    """How far this terminal has applied a companion store's event log."""

    __tablename__ = "event_cursor"

    store_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]


class SettingRow(Base):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class MessageRow(Base):
    """A Communicator message to a client, as this terminal knows it: sent from here (kept while it waits
    in the outbox) or learnt from the companion's ``message.status`` events. ``status`` moves forward
    only: queued, sent, delivered or failed (with ``reason``)."""

    __tablename__ = "messages"
    __table_args__ = (Index(None, "client_id", "created_at"), Index(None, "ticket_id", "created_at"))

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # made on the terminal
    client_id: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(10))
    to_address: Mapped[str] = mapped_column(String(320), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
