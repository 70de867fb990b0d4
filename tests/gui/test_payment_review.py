"""An online payment kept for review shows on its ticket as "Needs review" with a notice, and a manager
settles it from the ticket behind the manager PIN. The POS talks to a real companion (uvicorn on loopback,
Simulator gateway) through its companion client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from posdesk.core.events import Event
from posdesk.core.ticket import Payment
from posdesk.gui.pin import hash_pin
from posdesk.gui.qt import QLabel, QPushButton, QTableWidget
from posdesk.sync.applying import apply_event
from tests.companion.conftest import (  # noqa: F401 - fixtures
    Companion,
    companion,
    companion_db_file,
    invoice_upload,
    make_companion,
    put_invoice,
    service_line,
)
from tests.companion.test_ledger_invariants import events, payments_of
from tests.companion.test_payment_review import pay_and_lose_the_answer_for_an_hour
from tests.gui import conftest as gui
from tests.gui.conftest import BOB, Pos, wait_idle
from tests.gui.test_new_ticket_view import add_from_catalog
from tests.gui.test_settings_dialog import enter_pin, visible
from tests.gui.test_take_payment import PIN, click, payments_rows, refund_first_payment


@pytest.fixture
def pos_on_companion(
    qtbot, make_pos: Callable[..., Pos], companion: Companion, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> Pos:
    monkeypatch.setattr(gui, "COMPANION", companion.url)
    pos = make_pos(manager_pin_hash=hash_pin(PIN, iterations=1000))
    pos.ctx.vault.keep_for_session(companion.url, companion.terminal.credential)
    return pos


def invoiced_at_the_companion(qtbot, pos: Pos, companion: Companion) -> dict[str, Any]:  # noqa: F811
    """Bob's $43.20 haircut saved on the POS and its invoice uploaded to the companion; the upload."""
    pos.view.set_client(BOB)
    add_from_catalog(qtbot, pos, "Haircut")
    pos.view.save()
    wait_idle(qtbot, pos.ctx)
    body = invoice_upload(lines=[service_line(price=4320)], ticket_id=pos.view.ticket.id)
    assert put_invoice(companion.api, body).status_code in (200, 201)
    return body


def kept_payment_on(pos: Pos, companion: Companion, monkeypatch: pytest.MonkeyPatch, qtbot) -> dict[str, Any]:  # noqa: F811
    """The POS's saved ticket invoiced at the companion, and a charge whose answer was lost and that the
    gateway has no record of an hour later: kept for review."""
    body = invoiced_at_the_companion(qtbot, pos, companion)
    pay_and_lose_the_answer_for_an_hour(companion, monkeypatch, body["link_token"])
    return body


def test_a_payment_kept_for_review_shows_on_the_ticket_and_a_manager_dismisses_it(
    qtbot, pos_on_companion: Pos, make_pos: Callable[..., Pos], companion: Companion, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    pos = pos_on_companion
    body = kept_payment_on(pos, companion, monkeypatch, qtbot)
    other = make_pos()  # another terminal of the store, showing the same ticket
    other.ctx.vault.keep_for_session(companion.url, companion.terminal.credential)
    other.view.open_ticket(pos.view.ticket.id)
    [raised] = events(companion, "payment.needs_review")
    for till in (pos, other):  # the needs_review event, applied on every terminal, refreshes the ticket
        with till.db.session() as session:
            changed = apply_event(session, Event.from_wire(raised))
        assert changed == {pos.view.ticket.id}
        till.ctx.tickets_changed.emit(changed)
        qtbot.waitUntil(lambda till=till: any(row[4] == "Needs review" for row in payments_rows(till)), timeout=10_000)
    [row] = payments_rows(pos)
    assert row[1] == "$43.20"
    notice = pos.window.findChild(QLabel, "reviewNotice")
    assert notice.isVisible() and "needs a manager's review" in notice.text() and "may have been charged" in notice.text()
    assert not pos.window.findChild(QPushButton, "refundButton").isVisible()  # not money received

    pos.window.findChild(QTableWidget, "paymentsList").selectRow(0)
    click(qtbot, pos, "reviewPaymentButton")
    enter_pin(pos, PIN)
    dialog = visible(pos, "reviewDialog")
    assert "may have been charged" in dialog.findChild(QLabel, "reviewReason").text()
    dialog.findChild(QPushButton, "countPaymentButton").click()  # the gateway has no record: refused
    wait_idle(qtbot, pos.ctx)
    assert "does not confirm" in dialog.findChild(QLabel, "errorMessage").text() and dialog.isVisible()
    dialog.findChild(QPushButton, "dismissPaymentButton").click()
    wait_idle(qtbot, pos.ctx)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=10_000)
    qtbot.waitUntil(lambda: payments_rows(pos) == [], timeout=10_000)
    assert not notice.isVisible()
    assert "dismissed as not charged" in pos.window.statusBar().currentMessage()
    [payment] = payments_of(companion, body["invoice_id"])
    assert payment.status == "failed" and payment.review == "dismissed"
    [settled] = events(companion, "payment.review_settled")
    assert settled["ticket_id"] == pos.view.ticket.id
    with other.db.session() as session:  # the review_settled event reaches the other terminal
        other.ctx.tickets_changed.emit(apply_event(session, Event.from_wire(settled)))
    qtbot.waitUntil(lambda: payments_rows(other) == [], timeout=10_000)
    assert not other.window.findChild(QLabel, "reviewNotice").isVisible()


def test_the_review_needs_the_manager_pin(
    qtbot, pos_on_companion: Pos, companion: Companion, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    pos = pos_on_companion
    kept_payment_on(pos, companion, monkeypatch, qtbot)
    pos.view.open_ticket(pos.view.ticket.id)  # opening the ticket asks the companion too
    qtbot.waitUntil(lambda: any(row[4] == "Needs review" for row in payments_rows(pos)), timeout=10_000)
    pos.window.findChild(QTableWidget, "paymentsList").selectRow(0)
    click(qtbot, pos, "reviewPaymentButton")
    gate = enter_pin(pos, "0000")
    assert gate.isVisible() and not any(d.isVisible() for d in pos.window.findChildren(type(gate), "reviewDialog"))


def cash_taken_after_the_link_was_paid(
    qtbot, pos: Pos, companion: Companion  # noqa: F811
) -> tuple[dict[str, Any], Payment]:
    """Bob pays the link online, then $20.00 cash is taken at the counter and relayed: the companion keeps
    the cash for review, and the ticket's cash row says so. The invoice's upload and the cash payment."""
    from posdesk.gateways.simulator import APPROVES
    from tests.companion.test_ledger_invariants import Phone
    from tests.companion.test_tenders import tender
    from tests.gui.test_take_payment import record, take_payment

    body = invoiced_at_the_companion(qtbot, pos, companion)
    assert Phone(companion, body["link_token"]).pay(1, APPROVES).status_code == 303  # paid online
    record(qtbot, pos, take_payment(qtbot, pos, "Cash", "20"))  # ... and cash at the counter
    [cash] = pos.view.ticket.payments
    sent = tender(pos.view.ticket.id, 2000, id=cash.id, invoice_id=body["invoice_id"])
    assert companion.api.post("/api/v1/tenders", json=sent).status_code == 200  # what the relay sends
    pos.ctx.tickets_changed.emit({pos.view.ticket.id})
    qtbot.waitUntil(lambda: payments_rows(pos) and payments_rows(pos)[0][4] == "Needs review", timeout=10_000)
    return body, cash


def test_cash_kept_for_review_is_marked_on_its_row_and_the_manager_keeps_it(
    qtbot, pos_on_companion: Pos, companion: Companion  # noqa: F811
) -> None:
    """Cash taken at the counter after the client had paid the link: the ticket's cash row says "Needs
    review" (no second row), and the manager keeps it."""
    pos = pos_on_companion
    cash_taken_after_the_link_was_paid(qtbot, pos, companion)
    assert len(payments_rows(pos)) == 1
    assert "after the invoice was paid" in pos.window.findChild(QLabel, "reviewNotice").text()
    pos.window.findChild(QTableWidget, "paymentsList").selectRow(0)
    click(qtbot, pos, "reviewPaymentButton")
    enter_pin(pos, PIN)
    dialog = visible(pos, "reviewDialog")
    dialog.findChild(QPushButton, "countPaymentButton").click()
    wait_idle(qtbot, pos.ctx)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=10_000)
    qtbot.waitUntil(lambda: payments_rows(pos)[0][4] == "Paid", timeout=10_000)
    assert not pos.window.findChild(QLabel, "reviewNotice").isVisible()


def test_a_refund_while_another_is_under_way_says_so_in_the_refund_dialog(
    qtbot, pos_on_companion: Pos, companion: Companion, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    """Another terminal (or worker) is refunding the same payment: the manager reads "in progress, try
    again" in the dialog, nothing is refunded twice, and trying again refunds."""
    from posdesk.companion.payments import refund_claims
    from posdesk.gateways.simulator import APPROVES
    from tests.companion.test_ledger_invariants import Phone
    from tests.gui.test_take_payment import label

    pos = pos_on_companion
    body = invoiced_at_the_companion(qtbot, pos, companion)
    assert Phone(companion, body["link_token"]).pay(1, APPROVES).status_code == 303
    [paid] = events(companion, "invoice.paid")
    with pos.db.session() as session:  # the invoice.paid event reaches this terminal
        changed = apply_event(session, Event.from_wire(paid))
    pos.ctx.tickets_changed.emit(changed)
    qtbot.waitUntil(lambda: bool(payments_rows(pos)), timeout=10_000)
    payment_id = paid["data"]["payment"]["id"]
    monkeypatch.setattr(refund_claims, "WAIT_SECONDS", 0.3)
    assert refund_claims.take(companion.db, payment_id, "another-terminal")
    dialog = refund_first_payment(qtbot, pos, "10")
    error = dialog.findChild(QLabel, "errorMessage")
    qtbot.waitUntil(lambda: error.text() not in ("", "Refunding…"), timeout=10_000)
    assert "in progress" in error.text(), error.text()
    assert dialog.isVisible() and "Try again in a moment" in dialog.findChild(QLabel, "errorMessage").text()
    assert payments_of(companion, body["invoice_id"])[0].refunded_minor == 0
    refund_claims.release(companion.db, payment_id, "another-terminal")
    dialog.findChild(QPushButton, "confirmRefundButton").click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=10_000)
    assert payments_of(companion, body["invoice_id"])[0].refunded_minor == 1000
    assert label(pos, "balanceDueLabel")  # the ticket is still shown


def test_cash_kept_for_review_is_given_back_and_the_review_closes(
    qtbot, pos_on_companion: Pos, companion: Companion  # noqa: F811
) -> None:
    """The review of extra cash offers what a manager can do at the counter: count it, or say the cash was
    given back (a counter refund through the ledger). There is no card to refund or gateway to ask."""
    pos = pos_on_companion
    body, cash = cash_taken_after_the_link_was_paid(qtbot, pos, companion)
    pos.window.findChild(QTableWidget, "paymentsList").selectRow(0)
    click(qtbot, pos, "reviewPaymentButton")
    enter_pin(pos, PIN)
    dialog = visible(pos, "reviewDialog")
    offered = [b.text() for b in dialog.findChildren(QPushButton) if b.objectName()]
    assert offered == ["Count it", "Cash given back"]
    assert dialog.findChild(QPushButton, "refundKeptPaymentButton") is None
    dialog.findChild(QPushButton, "givenBackButton").click()
    wait_idle(qtbot, pos.ctx)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=10_000)
    assert pos.window.statusBar().currentMessage() == "Payment of $20.00 given back at the counter"
    qtbot.waitUntil(lambda: not pos.window.findChild(QLabel, "reviewNotice").isVisible(), timeout=10_000)
    [payment] = [p for p in payments_of(companion, body["invoice_id"]) if p.gateway == "in_store"]
    assert (payment.status, payment.refunded_minor, payment.review) == ("refunded", 2000, "given_back")
    [refunded] = events(companion, "payment.refunded")
    with pos.db.session() as session:  # the refund reaches the terminals as any counter refund does
        pos.ctx.tickets_changed.emit(apply_event(session, Event.from_wire(refunded)))
    from posdesk.store import TicketRepository

    with pos.db.reading() as session:
        [given_back] = TicketRepository(session).get(pos.view.ticket.id).payments
    assert given_back.id == cash.id and given_back.refunded == given_back.amount  # the day summary's refund
