"""A counter tender that settles an invoice also queues the link's revoke on the terminal; when it reaches
the companion the invoice is already paid, so the revoke's goal is met: the entry is closed as sent, with
no refusal logged or recorded for the cashier."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from posdesk.store import Database as PosDatabase
from posdesk.store import Outbox
from tests.companion.conftest import Companion
from tests.companion.test_counter_tenders import counter
from tests.companion.test_ledger_invariants import V1_TOTAL, ticket


def queue_revoke(terminal: PosDatabase, invoice_id: str) -> None:
    with terminal.session() as session:
        Outbox(session).enqueue("invoice.revoke", f"revoke:{invoice_id}", {"invoice_id": invoice_id})


def test_a_revoke_that_meets_an_invoice_paid_at_the_counter_is_done_without_a_refusal(
    companion: Companion, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    invoice = ticket(companion, V1_TOTAL)
    assert companion.api.post("/api/v1/tenders", json=counter(invoice, V1_TOTAL)).status_code == 200
    assert companion.api.get(f"/api/v1/invoices/{invoice['invoice_id']}").json()["status"] == "paid"
    terminal = PosDatabase.open(tmp_path / "till.db")
    try:
        queue_revoke(terminal, invoice["invoice_id"])
        with caplog.at_level(logging.INFO):
            round_ = companion.relay(terminal)
        assert (round_.sent, round_.rejected, round_.pending) == (1, 0, 0)
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    finally:
        terminal.close()


def test_a_revoke_refused_for_an_invoice_still_payable_is_still_a_refusal(
    companion: Companion, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Only "already paid" (or already revoked) counts as done: an unknown invoice stays refused."""
    terminal = PosDatabase.open(tmp_path / "till.db")
    try:
        queue_revoke(terminal, "no-such-invoice")
        round_ = companion.relay(terminal)
        assert (round_.sent, round_.rejected) == (0, 1)
        assert "refused" in caplog.text
    finally:
        terminal.close()
