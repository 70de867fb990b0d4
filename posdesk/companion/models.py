"""The companion's tables. The companion is the source of truth for invoices and payments.

Amounts are integer minor units with their currency; ids are text (uuid hex) so the POS can make them
offline. Every row that belongs to a store carries ``store_id`` and every query filters on it.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from posdesk.sql_types import UTCDateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(timezone=True), dict[str, Any]: JSON}


class InvoiceStatus(enum.StrEnum):
    """Where an invoice's link stands. Forward only, except that a new version re-opens 'sent'."""

    SENT = "sent"
    OPENED = "opened"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    EXPIRED = "expired"
    REVOKED = "revoked"

    @property
    def is_payable(self) -> bool:
        return self in (InvoiceStatus.SENT, InvoiceStatus.OPENED, InvoiceStatus.PARTIALLY_PAID)


class PaymentStatus(enum.StrEnum):
    """A charge attempt. ``SUCCEEDED`` and ``REFUNDED`` are never undone by a late failure."""

    PENDING = "pending"  # created, not yet confirmed by the gateway
    REQUIRES_ACTION = "requires_action"  # 3-D Secure or similar
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    REFUNDED = "refunded"  # fully refunded; partial refunds keep SUCCEEDED with refunded_minor > 0
    # Succeeded at the gateway for a superseded version or a link no longer active: never counted toward
    # the invoice, refunded automatically (refunded_minor then equals the whole; payment.refunded_stale).
    STALE = "stale"

    @property
    def is_final(self) -> bool:
        return self in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)


PAYMENT_STATUS_RANK = {
    PaymentStatus.PENDING: 0,
    PaymentStatus.REQUIRES_ACTION: 1,
    PaymentStatus.PROCESSING: 2,
    PaymentStatus.FAILED: 3,
    PaymentStatus.CANCELED: 3,
    PaymentStatus.SUCCEEDED: 4,
    PaymentStatus.STALE: 4,
    PaymentStatus.REFUNDED: 5,
}


def payment_status_advances(current: PaymentStatus, new: PaymentStatus) -> bool:
    """True when moving from ``current`` to ``new`` is forward (a late 'failed' never undoes 'succeeded').

    A failed attempt may still be retried on the same intent, so FAILED -> REQUIRES_ACTION/PROCESSING/
    SUCCEEDED is allowed; nothing leaves SUCCEEDED except a refund.
    """
    if current is new:
        return False
    if current is PaymentStatus.SUCCEEDED:
        return new is PaymentStatus.REFUNDED
    if current is PaymentStatus.STALE:
        return False  # final: its refund is recorded in refunded_minor
    if current is PaymentStatus.REFUNDED:
        return False
    if current is PaymentStatus.CANCELED:
        # Cancelled at the gateway: nothing resumes it; only money that moved anyway is recorded.
        return new in (PaymentStatus.SUCCEEDED, PaymentStatus.STALE, PaymentStatus.REFUNDED)
    if current is PaymentStatus.FAILED:
        return new is not PaymentStatus.PENDING
    return PAYMENT_STATUS_RANK[new] > PAYMENT_STATUS_RANK[current]


class Store(Base):
    __tablename__ = "stores"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)  # tips, surcharge, languages, address...
    promotions: Mapped[dict[str, Any]] = mapped_column(default=dict)  # code -> promotion wire form
    gateway_kind: Mapped[str] = mapped_column(String(20), default="simulator")
    gateway_public: Mapped[dict[str, Any]] = mapped_column(default=dict)  # publishable ids, masked hints
    gateway_secrets: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)  # encrypted JSON
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StoreEventCounter(Base):
    """The last event id handed out per store; taken under a row lock by the appending transaction."""

    __tablename__ = "store_event_counters"

    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)


class PairingCode(Base):
    __tablename__ = "pairing_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"), index=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class Terminal(Base):
    __tablename__ = "terminals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    credential_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    # From the POS's User-Agent (posdesk/<version>): which build each terminal runs (posdesk.companion.updates).
    app_version: Mapped[str | None] = mapped_column(String(40), default=None)
    version_seen_at: Mapped[datetime | None] = mapped_column(default=None)


class Invoice(Base):
    """The latest version of an invoice; ``document`` is its :class:`posdesk.core.invoice.Invoice` wire form."""

    __tablename__ = "invoices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"), index=True)
    ticket_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=InvoiceStatus.SENT.value)
    currency: Mapped[str] = mapped_column(String(3))
    client_id: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    document: Mapped[dict[str, Any]] = mapped_column()
    amount_due_minor: Mapped[int] = mapped_column(BigInteger)  # what the client is asked to pay now
    paid_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # paid through this companion
    tip_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[datetime]
    opened_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class InvoiceVersion(Base):
    """Every version the companion accepted, so a retried upload of an old version gets its old answer."""

    __tablename__ = "invoice_versions"
    __table_args__ = (UniqueConstraint("invoice_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Payment(Base):
    """One charge attempt through a gateway, keyed by the gateway's payment id once it has one."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("gateway", "gateway_payment_id"),
        UniqueConstraint("idempotency_key"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"), index=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    invoice_version: Mapped[int] = mapped_column(Integer)
    gateway: Mapped[str] = mapped_column(String(20))
    gateway_payment_id: Mapped[str | None] = mapped_column(String(100), default=None)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="invoice")  # invoice | tip (after payment)
    status: Mapped[str] = mapped_column(String(20), default=PaymentStatus.PENDING.value)
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # toward the balance
    tip_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    card_brand: Mapped[str] = mapped_column(String(20), default="")
    card_last4: Mapped[str] = mapped_column(String(4), default="")
    payment_method_ref: Mapped[str] = mapped_column(String(100), default="")  # to charge a later tip
    failure_message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    succeeded_at: Mapped[datetime | None] = mapped_column(default=None)
    # A refund in progress (one at a time, across workers): the claim's holder and when it lapses, and
    # the refund asked at the gateway whose answer is not recorded yet (looked up if the holder died).
    refund_claim: Mapped[str | None] = mapped_column(String(32), default=None)
    refund_claim_until: Mapped[datetime | None] = mapped_column(default=None)
    refund_pending_key: Mapped[str | None] = mapped_column(String(200), default=None)
    refund_pending_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # Kept for a manager (payment.needs_review): "" none, "open", or how it was settled
    # (posdesk.companion.payments.review).
    review: Mapped[str] = mapped_column(String(20), default="", server_default="")
    review_reason: Mapped[str] = mapped_column(Text, default="", server_default="")


class Tender(Base):
    """Money taken at the counter (cash, the counter card terminal, a gift card, other), recorded by the
    terminal that took it under the POS's own payment id, so a resent record is stored once."""

    __tablename__ = "tenders"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the POS's payment id
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"), index=True)
    terminal_id: Mapped[str] = mapped_column(String(32))
    ticket_id: Mapped[str] = mapped_column(String(64), index=True)
    invoice_id: Mapped[str | None] = mapped_column(String(64), default=None)
    method: Mapped[str] = mapped_column(String(20))  # cash | card | gift_card | other
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    tip_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str] = mapped_column(String(100), default="")
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    received_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TipSplit(Base):
    """A manager's split of one payment's tip (online or counter) among providers."""

    __tablename__ = "tip_splits"

    payment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"), index=True)
    ticket_id: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    shares: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)  # {provider: minor}
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class GiftCard(Base):
    """A gift card sold on a ticket through the POS: its code and what is left on it."""

    __tablename__ = "gift_cards"

    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # sold for
    balance_minor: Mapped[int] = mapped_column(BigInteger)
    ticket_id: Mapped[str] = mapped_column(String(64), default="")
    client_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class GiftCardUse(Base):
    """One use of a gift card at a counter, stored once by the terminal's use id."""

    __tablename__ = "gift_card_uses"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    ticket_id: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEvent(Base):
    """A gateway event, stored once by the gateway's event id before it is applied."""

    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("gateway", "event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    gateway: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(100))
    event_type: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")


Index("ix_webhook_events_pending", WebhookEvent.processed_at, WebhookEvent.received_at)


class GatewayReport(Base):
    """A gateway's report kept for a manager that names no payment the companion recorded (an unknown
    payment id with figures the invoice could not have asked, another store's invoice...): what it said
    and why it was kept, until a manager marks it handled with a note (``payments.reports``)."""

    __tablename__ = "gateway_reports"
    __table_args__ = (
        UniqueConstraint("gateway", "event_id", name="uq_gateway_reports_event"),
        Index("ix_gateway_reports_store_open", "store_id", "handled_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"))  # the store whose secret verified it
    gateway: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(100))
    gateway_payment_id: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(20), default="")  # what the gateway said of the charge
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    tip_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="")
    invoice_id: Mapped[str | None] = mapped_column(String(64), default=None)  # only this store's invoice
    ticket_id: Mapped[str | None] = mapped_column(String(64), default=None)
    reason: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(default=None)
    note: Mapped[str] = mapped_column(Text, default="")  # the manager's, when handled


class Event(Base):
    """A store's event log entry. ``(store_id, seq)`` increases strictly and is never reused."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("store_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(40))
    invoice_id: Mapped[str | None] = mapped_column(String(64), default=None)
    ticket_id: Mapped[str | None] = mapped_column(String(64), default=None)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GatewayCustomer(Base):
    """The gateway's customer record for a known client (Stripe Customer); none for walk-ins."""

    __tablename__ = "gateway_customers"
    __table_args__ = (UniqueConstraint("store_id", "client_id", "gateway"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"))
    client_id: Mapped[str] = mapped_column(String(64))
    gateway: Mapped[str] = mapped_column(String(20))
    customer_ref: Mapped[str] = mapped_column(String(100))


class SavedCard(Base):
    """A card a known client saved, as the gateway's reference plus what the page shows."""

    __tablename__ = "saved_cards"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    gateway: Mapped[str] = mapped_column(String(20))
    method_ref: Mapped[str] = mapped_column(String(100))  # Stripe pm_..., Cloud9 CardToken, simulator id
    brand: Mapped[str] = mapped_column(String(20))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int] = mapped_column(Integer)
    exp_year: Mapped[int] = mapped_column(Integer)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(default=None)


class ClientContact(Base):
    """How the Communicator may reach a client: the addresses and consent the POS last sent, plus an SMS
    opt-out the client made themselves (a STOP reply), which only their START reply lifts."""

    __tablename__ = "client_contacts"

    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(420), default="")
    phone: Mapped[str] = mapped_column(String(40), default="", index=True)  # E.164 when it could be read
    email: Mapped[str] = mapped_column(String(320), default="")
    sms_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    email_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    sms_opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Message(Base):
    """One Communicator message, keyed by the id the terminal made (so a resent POST is the same message).

    ``status`` moves forward only: queued, sent, delivered or failed (``reason`` says why it failed).
    ``provider_ref`` is the SMS sid or the email Message-ID once a provider took it.
    """

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_store_client", "store_id", "client_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"))
    client_id: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[str | None] = mapped_column(String(64), default=None)
    invoice_id: Mapped[str | None] = mapped_column(String(64), default=None)
    channel: Mapped[str] = mapped_column(String(10))
    to_address: Mapped[str] = mapped_column(String(320), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    reason: Mapped[str] = mapped_column(Text, default="")
    provider_ref: Mapped[str | None] = mapped_column(String(200), default=None, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CrashReport(Base):
    """A POS crash report a terminal sent (opt-in on the terminal; posdesk.crash), redacted again here.

    ``name`` is the report's file name on the terminal: a resent report is the same row.
    """

    __tablename__ = "crash_reports"
    __table_args__ = (
        UniqueConstraint("terminal_id", "name", name="uq_crash_reports_terminal_name"),
        Index("ix_crash_reports_store_received", "store_id", "received_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"))
    terminal_id: Mapped[str] = mapped_column(String(32))
    app_version: Mapped[str | None] = mapped_column(String(40), default=None)
    name: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
