"""The POS API (``/api/v1``): pairing, invoices, store settings, gateway configuration, events.

Every route but pairing needs a paired terminal's bearer credential and sees only its own store.
"""

from fastapi import APIRouter

from posdesk.companion.api import (
    crash_reports,
    events,
    gateway,
    gift_cards,
    invoices,
    stores,
    tenders,
    terminals,
    tip_splits,
    updates,
)

router = APIRouter()
for module in (terminals, invoices, stores, gateway, events, updates, crash_reports, tenders, tip_splits, gift_cards):
    router.include_router(module.router)

__all__ = ["router"]
