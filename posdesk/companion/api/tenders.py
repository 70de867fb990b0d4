"""Tenders taken at a terminal's counter, and the store's day summary."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Body, HTTPException, Path, Query
from pydantic import BaseModel, Field

from posdesk.companion.api.common import ID_PATTERN, terminal_store
from posdesk.companion.day_summary import day_summary
from posdesk.companion.deps import DbDep, TerminalDep
from posdesk.companion.models import utcnow
from posdesk.companion.tenders import TenderRecord, record_tender, refund_tender

router = APIRouter(tags=["tenders"])


@router.post("/tenders")
def post_tender(terminal: TerminalDep, db: DbDep, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Record money taken at the counter (the ticket's payment wire form plus ``ticket_id`` and
    ``invoice_id``). Idempotent by the payment's id; other terminals hear ``tender.recorded``."""
    record = TenderRecord.from_wire(body)
    with db.write() as session:
        store = terminal_store(session, terminal)
        tender = record_tender(session, store, terminal.id, record)
        return {"id": tender.id, "ticket_id": tender.ticket_id, "refunded_total": tender.refunded_minor}


class TenderRefund(BaseModel):
    refunded_total: int = Field(
        gt=0, description="The tender's refunded total after this refund (minor units)"
    )
    refunded_tip_total: int | None = Field(
        default=None, ge=0, description="Of the refunded total, what was tip (told to the other terminals)"
    )


@router.post("/tenders/{tender_id}/refund")
def post_tender_refund(
    terminal: TerminalDep, db: DbDep, body: TenderRefund, tender_id: str = Path(pattern=ID_PATTERN)
) -> dict[str, Any]:
    """Cash handed back or a refund on the counter terminal: the refunded total only moves forward, so
    sending it again is harmless."""
    with db.write() as session:
        tender = refund_tender(
            session, terminal.store_id, tender_id, body.refunded_total, body.refunded_tip_total
        )
        return {"id": tender.id, "refunded_total": tender.refunded_minor}


@router.get("/day-summary")
def get_day_summary(
    terminal: TerminalDep, db: DbDep, day: date, tz: Annotated[str, Query(max_length=64)] = "UTC"
) -> dict[str, Any]:
    """The store's figures for ``day`` in the terminal's time zone ``tz``, from every terminal's records."""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise HTTPException(status_code=422, detail=f"unknown time zone {tz!r}") from None
    with db.read() as session:
        store = terminal_store(session, terminal)
        return day_summary(session, store, day, zone, utcnow()).to_wire()
