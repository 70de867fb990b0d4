"""A known client's saved cards, managed from the payment page: remove one, or make one the default.

The card must belong to the client of the invoice the link is for; any other id answers as unknown
(``LookupError``), so a link cannot reach another client's cards.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from posdesk.companion.database import Database
from posdesk.companion.models import GatewayCustomer, SavedCard, utcnow
from posdesk.companion.models import Invoice as InvoiceRow
from posdesk.gateways.base import Gateway


def _card_of_invoice_client(session: Session, invoice_id: str, card_id: str, gateway: str) -> tuple[SavedCard, str | None]:
    invoice = session.get(InvoiceRow, invoice_id)
    card = session.get(SavedCard, card_id, with_for_update=True)
    if (
        invoice is None
        or invoice.client_id is None
        or card is None
        or card.removed_at is not None
        or card.gateway != gateway
        or (card.store_id, card.client_id) != (invoice.store_id, invoice.client_id)
    ):
        raise LookupError("no such card")
    customer = session.scalars(
        select(GatewayCustomer.customer_ref).where(
            GatewayCustomer.store_id == card.store_id,
            GatewayCustomer.client_id == card.client_id,
            GatewayCustomer.gateway == gateway,
        )
    ).first()
    return card, customer


def remove_card(db: Database, gateway: Gateway, invoice_id: str, card_id: str) -> None:
    with db.write() as session:
        card, customer = _card_of_invoice_client(session, invoice_id, card_id, gateway.kind)
        if customer:
            gateway.remove_method(customer, card.method_ref)
        card.removed_at = utcnow()
        if card.is_default:
            card.is_default = False
            successor = session.scalars(
                select(SavedCard)
                .where(
                    SavedCard.store_id == card.store_id,
                    SavedCard.client_id == card.client_id,
                    SavedCard.gateway == card.gateway,
                    SavedCard.removed_at.is_(None),
                    SavedCard.id != card.id,
                )
                .order_by(SavedCard.created_at)
            ).first()
            if successor is not None:
                successor.is_default = True


def make_default(db: Database, gateway: Gateway, invoice_id: str, card_id: str) -> None:
    with db.write() as session:
        card, customer = _card_of_invoice_client(session, invoice_id, card_id, gateway.kind)
        if customer:
            gateway.set_default_method(customer, card.method_ref)
        session.execute(
            update(SavedCard)
            .where(
                SavedCard.store_id == card.store_id,
                SavedCard.client_id == card.client_id,
                SavedCard.gateway == card.gateway,
            )
            .values(is_default=False)
        )
        card.is_default = True
