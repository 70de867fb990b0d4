"""Store settings and promotions, as the manager sets them on the POS."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from posdesk.companion.api.common import terminal_store
from posdesk.companion.deps import DbDep, TerminalDep
from posdesk.companion.events import append_event
from posdesk.companion.models import Invoice, Store
from posdesk.companion.stores import (
    SettingsError,
    StoreSettings,
    apply_settings,
    promotions,
    promotions_from_wire,
    store_promotions_wire,
)
from posdesk.core.currencies import check_gateway_currency, check_store_currency
from posdesk.core.events import EventType
from posdesk.core.languages import PAGE_LANGUAGES

router = APIRouter(tags=["settings"])

SETTINGS_EXAMPLE = {
    "business_name": "Rosa's Salon",
    "address": "12 Main St, Springfield",
    "currency": "USD",
    "default_locale": "en",
    "languages": list(PAGE_LANGUAGES),
    "tips_allowed": True,
    "tip_presets": [{"percent": "0.15"}, {"percent": "0.20"}, {"amount": 500}],
    "tip_max_rate": "1",
    "surcharge_rate": "0.03",
    "link_expiry_hours": 72,
    "card_on_file_for_memberships": False,
}


@router.get("/settings")
def get_settings(terminal: TerminalDep, db: DbDep) -> dict[str, Any]:
    with db.read() as session:
        return StoreSettings.of(terminal_store(session, terminal)).to_wire()


@router.put("/settings")
def put_settings(
    terminal: TerminalDep, db: DbDep, body: Annotated[dict[str, Any], Body(examples=[SETTINGS_EXAMPLE])]
) -> dict[str, Any]:
    """Replace the store's settings (fields left out take their defaults). The currency cannot change
    once the store has invoices. A change appends ``store.settings_changed``: the other terminals adopt it."""
    with db.write() as session:
        store = terminal_store(session, terminal, for_update=True)
        before = StoreSettings.of(store).to_wire()
        try:
            settings = StoreSettings.from_wire({"currency": store.currency, **body})
        except SettingsError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        if settings.currency != store.currency:
            try:
                check_store_currency(settings.currency)
                check_gateway_currency(store.gateway_kind, settings.currency)
            except ValueError as exc:
                raise HTTPException(status_code=422, detail=f"settings.currency: {exc}") from None
            has_invoices = session.scalars(
                select(Invoice.id).where(Invoice.store_id == store.id).limit(1)
            ).first()
            if has_invoices is not None:
                raise HTTPException(
                    status_code=409, detail="The currency cannot change once invoices were sent"
                )
            if store.promotions:
                raise HTTPException(
                    status_code=409, detail="Remove the promotions before changing the currency"
                )
        apply_settings(store, settings)
        if settings.to_wire() != before:
            _settings_changed(session, store, terminal.id, "settings")
        return settings.to_wire()


@router.get("/promotions")
def get_promotions(terminal: TerminalDep, db: DbDep) -> dict[str, Any]:
    with db.read() as session:
        store = terminal_store(session, terminal)
        return {"promotions": [p.to_wire() for p in promotions(store).values()]}


@router.put("/promotions")
def put_promotions(
    terminal: TerminalDep,
    db: DbDep,
    body: Annotated[
        dict[str, Any],
        Body(examples=[{"promotions": [{"code": "SPRING15", "name": "Spring", "percent": "0.15"}]}]),
    ],
) -> dict[str, Any]:
    """Replace the store's promo codes: ``{"promotions": [{code, name, percent | amount, stackable,
    eligible_kinds, active}]}``. Invoices already uploaded keep their priced version. A change appends
    ``store.settings_changed``."""
    with db.write() as session:
        store = terminal_store(session, terminal, for_update=True)
        try:
            values = promotions_from_wire(body.get("promotions"), store.currency)
        except SettingsError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        wire = store_promotions_wire(values)
        if wire != store.promotions:
            store.promotions = wire
            _settings_changed(session, store, terminal.id, "promotions")
        return {"promotions": [p.to_wire() for p in values.values()]}


def _settings_changed(session: Session, store: Store, terminal_id: str, part: str) -> None:
    """Tell every terminal of the store, in the transaction that made the change."""
    append_event(
        session, store.id, EventType.STORE_SETTINGS_CHANGED, data={"part": part, "terminal_id": terminal_id}
    )
