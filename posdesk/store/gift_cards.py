"""Gift cards sold through the POS, in the local cache: issued when their ticket is paid (and sent to the
companion through the outbox), lowered by uses at this counter, and set to the companion's balance when
it reports a change (a use at another terminal)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from posdesk.core.attributes import from_attributes
from posdesk.core.gift_cards import normalize_code, sold_gift_cards
from posdesk.core.money import Money
from posdesk.core.ticket import Ticket
from posdesk.store.models import GiftCardRow, OutboxRow
from posdesk.store.outbox import Outbox
from posdesk.store.repository import Repository

GIFT_CARDS_PATH = "/gift-cards"


@dataclass(frozen=True, slots=True)
class GiftCard:
    code: str
    amount: Money  # what it was sold for
    balance: Money
    ticket_id: str
    client_id: str | None


def _card(row: GiftCardRow) -> GiftCard:
    amount, balance = Money(row.amount_minor, row.currency), Money(row.balance_minor, row.currency)
    return from_attributes(GiftCard, row, amount=amount, balance=balance)


def _row(card: GiftCard, now: datetime) -> GiftCardRow:
    """A card's row, sold (or first heard of from the companion) ``now``."""
    return GiftCardRow(
        code=card.code,
        currency=card.amount.currency,
        amount_minor=card.amount.minor,
        balance_minor=card.balance.minor,
        ticket_id=card.ticket_id,
        client_id=card.client_id,
        sold_at=now,
        updated_at=now,
    )


def _said(data: dict[str, object]) -> GiftCard:
    """The companion's wire form of a card (``gift_card.changed``)."""
    currency = str(data["currency"])
    return GiftCard(
        code=normalize_code(str(data["code"])),
        amount=Money(int(str(data["amount"])), currency),
        balance=Money(int(str(data["balance"])), currency),
        ticket_id=str(data.get("ticket_id") or ""),
        client_id=str(data["client_id"]) if data.get("client_id") else None,
    )


class GiftCardRepository(Repository):
    """Gift cards sold through the POS."""

    def get(self, code: str) -> GiftCard | None:
        row = self.session.get(GiftCardRow, normalize_code(code))
        return _card(row) if row is not None else None

    def issue_sold(self, ticket: Ticket, now: datetime | None = None) -> list[GiftCard]:
        """The paid ticket's gift cards, each issued once: here with its face value as balance, and at the
        companion through the outbox. A ticket not paid in full issues none."""
        now = now or datetime.now(UTC)
        issued: list[GiftCard] = []
        for code, amount in sold_gift_cards(ticket):
            if self.session.get(GiftCardRow, code) is not None:
                continue
            card = GiftCard(code, amount, amount, ticket.id, ticket.client_id)  # its face value left on it
            self.session.add(_row(card, now))
            body = {
                "code": code,
                "amount": amount.minor,
                "currency": amount.currency,
                "ticket_id": ticket.id,
                "client_id": ticket.client_id,
            }
            Outbox(self.session).enqueue(
                "api.post", f"gift-card:{code}", {"path": GIFT_CARDS_PATH, "body": body}, now=now
            )
            issued.append(card)
        return issued

    def use(self, code: str, amount: Money, ticket_id: str, use_id: str = "") -> GiftCard:
        """Lower the card's balance by ``amount`` here and tell the companion (once, by the use's id).
        The caller checked the balance. A negative amount puts value back (a refund of a payment made
        with the card), never above what the card was sold for. ``use_id``: a use the companion already
        took (told again from the outbox, harmlessly: the companion records a use once)."""
        row = self.session.get(GiftCardRow, normalize_code(code))
        if row is None:
            raise KeyError(code)
        row.balance_minor = min(row.balance_minor - amount.minor, row.amount_minor)
        row.updated_at = datetime.now(UTC)
        use_id = use_id or uuid.uuid4().hex
        Outbox(self.session).enqueue(
            "api.post",
            f"gift-card-use:{use_id}",
            {
                "path": f"{GIFT_CARDS_PATH}/{row.code}/uses",
                "body": {"use_id": use_id, "amount": amount.minor, "currency": amount.currency, "ticket_id": ticket_id},
            },
        )
        return _card(row)

    def set_from_companion(self, data: dict[str, object]) -> GiftCard:
        """The companion's word on a card (issued anywhere, or used at another terminal)."""
        said = _said(data)
        now = datetime.now(UTC)
        row = self.session.get(GiftCardRow, said.code)
        if row is None:
            row = _row(said, now)
            self.session.add(row)
        elif self._waiting_uses(said.code):
            # A use made here and not yet told to the companion stays counted until it is.
            row.balance_minor = min(row.balance_minor, said.balance.minor)
            row.updated_at = now
        else:
            row.balance_minor = said.balance.minor
            row.updated_at = now
        return _card(row)

    def _waiting_uses(self, code: str) -> bool:
        path = f"{GIFT_CARDS_PATH}/{code}/uses"
        waiting = self.session.scalars(
            select(OutboxRow.payload).where(OutboxRow.done_at.is_(None), OutboxRow.dedupe_key.like("gift-card-use:%"))
        )
        return any(isinstance(p, dict) and p.get("path") == path for p in waiting)

    def all(self) -> list[GiftCard]:
        return [_card(r) for r in self.session.scalars(select(GiftCardRow).order_by(GiftCardRow.sold_at))]
