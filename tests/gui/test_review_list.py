"""Manage > Needs review: a manager sees everything of the store waiting for a review, behind the manager
PIN, including a gateway report that names no payment the companion recorded, and marks such a report
handled with a note. The POS talks to a real companion (uvicorn on loopback, Simulator gateway)."""

from __future__ import annotations

from typing import Any

import pytest

from posdesk.gui.qt import QLabel, QLineEdit, QListWidget, QPushButton
from tests.companion.conftest import (  # noqa: F401 - fixtures
    Companion,
    companion,
    companion_db_file,
    make_companion,
)
from tests.companion.test_ledger_invariants import deliver, events, eventually, simulator_event
from tests.gui.conftest import Pos, wait_idle
from tests.gui.test_payment_review import (  # noqa: F401 - fixtures
    invoiced_at_the_companion,
    kept_payment_on,
    pos_on_companion,
)
from tests.gui.test_settings_dialog import enter_pin, visible
from tests.gui.test_take_payment import PIN


def open_review_list(qtbot, pos: Pos) -> Any:
    qtbot.waitUntil(lambda: pos.window.review_action.text() != "Needs &Review…", timeout=10_000)
    pos.window.review_action.trigger()
    enter_pin(pos, PIN)
    return visible(pos, "reviewListDialog")


def rows(dialog: Any) -> list[str]:
    listed = dialog.findChild(QListWidget, "reviewList")
    return [listed.item(i).text() for i in range(listed.count())]


def test_a_gateway_report_for_a_payment_never_issued_is_shown_to_the_manager_and_handled(
    qtbot, pos_on_companion: Pos, companion: Companion  # noqa: F811
) -> None:
    pos = pos_on_companion
    body = invoiced_at_the_companion(qtbot, pos, companion)
    deliver(companion, simulator_event(companion, body, ref="pi_sim_never_ours", amount=-500))
    eventually(lambda: events(companion, "payment.needs_review"))
    pos.window.refresh_review_count()  # as opening the Manage menu does
    qtbot.waitUntil(lambda: pos.window.review_action.text() == "Needs &Review (1)…", timeout=10_000)
    dialog = open_review_list(qtbot, pos)
    qtbot.waitUntil(lambda: len(rows(dialog)) == 1, timeout=10_000)
    [row] = rows(dialog)
    assert f"Ticket #{pos.view.ticket.number}" in row and "pi_sim_never_ours" in row and "-$5.00" in row
    assert "1 waiting" in dialog.findChild(QLabel, "reviewCountLabel").text()
    assert "amount" in dialog.findChild(QLabel, "reviewReason").text()
    assert "gateway's dashboard" in dialog.findChild(QLabel, "reviewListMessage").text()
    handle = dialog.findChild(QPushButton, "handleReportButton")
    assert not handle.isEnabled()  # a note first
    dialog.findChild(QLineEdit, "reviewNoteEdit").setText("Not on the dashboard: nothing was taken")
    assert handle.isEnabled()
    handle.click()
    wait_idle(qtbot, pos.ctx)
    qtbot.waitUntil(lambda: rows(dialog) == [], timeout=10_000)
    assert "Nothing waits" in dialog.findChild(QLabel, "reviewCountLabel").text()
    assert pos.window.review_action.text() == "Needs &Review…"
    [settled] = events(companion, "payment.review_settled")
    assert settled["data"]["note"] == "Not on the dashboard: nothing was taken"
    assert companion.api.get("/api/v1/payments/review").json()["reports"] == []


def test_a_payment_kept_for_review_is_listed_and_opens_its_ticket(
    qtbot, pos_on_companion: Pos, companion: Companion, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    pos = pos_on_companion
    kept_payment_on(pos, companion, monkeypatch, qtbot)
    ticket_id, number = pos.view.ticket.id, pos.view.ticket.number
    pos.view.new_ticket()
    pos.window.review_action.setText("Needs &Review (?)…")  # skip the count: the list is what is tested
    dialog = open_review_list(qtbot, pos)
    qtbot.waitUntil(lambda: len(rows(dialog)) == 1, timeout=10_000)
    assert rows(dialog) == [f"Ticket #{number} · Online card $43.20"]
    assert not dialog.findChild(QPushButton, "handleReportButton").isEnabled()  # settled from its ticket
    assert "Review…" in dialog.findChild(QLabel, "reviewListMessage").text()
    dialog.findChild(QPushButton, "openReviewTicketButton").click()
    assert not dialog.isVisible() and pos.view.ticket.id == ticket_id
