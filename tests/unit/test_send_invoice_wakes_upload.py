"""Send via Shareable Link: the sync service is woken the moment the upload is in the outbox, from the
worker, before the ticket is read back for the screen (a QR scanned at once must find the invoice)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from posdesk.core.catalog import ItemKind
from posdesk.core.links import new_link_token
from posdesk.core.ticket import Ticket, TicketLine, new_id
from posdesk.pos.backend import PosBackend
from posdesk.store import Database
from posdesk.store.sample import load_sample_data, sample_data_path

TZ = ZoneInfo("America/New_York")


def test_the_upload_is_committed_when_the_sync_service_is_woken(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "posdesk.db")
    try:
        load_sample_data(db, datetime.now(TZ).date(), TZ)
        backend = PosBackend(db)
        settings = backend.save_settings(replace(backend.settings(), online_payment_link_enabled=True))
        client = backend.client(
            json.loads(sample_data_path().read_text(encoding="utf-8"))["clients"][0]["id"]
        )
        assert client is not None
        item = next(i for i in backend.catalog() if i.kind is ItemKind.PRODUCT)
        ticket = Ticket.new(0, "USD")
        ticket.set_client(client.id, client.first_name)
        ticket.add_line(
            TicketLine(id=new_id(), item_id=item.id, kind=item.kind, name=item.name, unit_price=item.price)
        )

        seen_by_the_sync_thread: list[list[str]] = []

        def woken() -> None:  # what another connection (the sync thread's) finds at that moment
            other = sqlite3.connect(tmp_path / "posdesk.db")
            try:
                rows = other.execute("SELECT kind FROM outbox WHERE done_at IS NULL").fetchall()
            finally:
                other.close()
            seen_by_the_sync_thread.append([row[0] for row in rows])

        sent, saved, _info = backend.send_invoice(
            ticket,
            amount_requested=None,
            companion_url="http://127.0.0.1:9",
            settings=settings,
            token=new_link_token(),
            invoice_id=new_id(),
            base_revision=None,
            on_queued=woken,
        )
        assert seen_by_the_sync_thread == [["invoice.upsert"]]
        assert sent.url.startswith("http://127.0.0.1:9/pay/") and saved.id == ticket.id
    finally:
        db.close()
