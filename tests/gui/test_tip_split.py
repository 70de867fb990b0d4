"""The manager's tip split: a tip on a ticket with services by two providers is shared in proportion to
their services by default; the manager edits the shares behind the PIN, a split that does not add up is
refused saying by how much, and the saved split goes to the companion and into the day summary."""

from __future__ import annotations

from datetime import UTC, datetime

from posdesk.core.money import Money
from posdesk.core.ticket import Payment, PaymentMethod
from posdesk.gui.pin import hash_pin
from posdesk.gui.qt import QDialog, QLabel, QLineEdit, QPushButton, QTableWidget, QTableWidgetItem
from posdesk.store import Outbox, TicketRepository
from tests.gui.conftest import Pos, wait_idle
from tests.gui.test_settings_dialog import enter_pin, visible
from tests.gui.test_take_payment import PIN, click, paid_on_a_saved_ticket


def paid_with_a_tip(qtbot, pos: Pos, tip: int = 1000) -> str:
    """Bob's haircut by Sam ($40) and blowout by Ana ($35), $81.00 with tax, paid in cash with a tip."""
    cash = Payment("pay_cash", Money(8100, "USD"), Money(tip, "USD"), PaymentMethod.CASH, datetime.now(UTC))
    return paid_on_a_saved_ticket(qtbot, pos, ["Haircut", "Blowout"], cash)


def open_split(qtbot, pos: Pos) -> QDialog:
    pos.window.findChild(QTableWidget, "paymentsList").selectRow(0)
    click(qtbot, pos, "splitTipButton")
    enter_pin(pos, PIN)
    return visible(pos, "tipSplitDialog")


def shares(dialog: QDialog) -> list[tuple[str, str, str]]:
    table = dialog.findChild(QTableWidget, "tipSplitTable")
    return [tuple(table.item(r, c).text() for c in range(3)) for r in range(table.rowCount())]


def set_share(dialog: QDialog, row: int, text: str) -> None:
    dialog.findChild(QTableWidget, "tipSplitTable").setItem(row, 2, QTableWidgetItem(text))


def check_text(dialog: QDialog) -> str:
    return dialog.findChild(QLabel, "tipSplitDifferenceLabel").text()


def tip_splits_queued(pos: Pos) -> list[dict]:
    with pos.db.reading() as session:
        return [e.payload for e in Outbox(session).due(limit=50) if e.payload.get("path", "").startswith("/tip-splits/")]


def test_the_manager_splits_a_tip_among_providers_and_a_split_that_does_not_add_up_is_refused(
    qtbot, make_pos
) -> None:
    pos = make_pos(online=False, manager_pin_hash=hash_pin(PIN, iterations=1000))
    ticket_id = paid_with_a_tip(qtbot, pos)
    dialog = open_split(qtbot, pos)
    # $10.00 in proportion to $40 and $35: 5.333... and 4.666..., the odd cent to the largest remainder.
    assert shares(dialog) == [("Sam", "$5.33", "5.33"), ("Ana", "$4.67", "4.67")]
    assert check_text(dialog) == "The shares add up to the $10.00 tip."

    set_share(dialog, 0, "6.00")
    assert check_text(dialog) == "The shares add up to $10.67: $0.67 over the $10.00 tip"
    dialog.findChild(QPushButton, "saveTipSplitButton").click()
    assert dialog.isVisible() and check_text(dialog).startswith("Not saved: The shares add up to $10.67")
    set_share(dialog, 1, "3.00")
    assert check_text(dialog) == "The shares add up to $9.00: $1.00 short of the $10.00 tip"
    set_share(dialog, 1, "4")
    assert check_text(dialog) == "The shares add up to the $10.00 tip."
    dialog.findChild(QPushButton, "saveTipSplitButton").click()
    wait_idle(qtbot, pos.ctx)
    assert not dialog.isVisible()

    [payment] = pos.view.ticket.payments
    assert payment.tip_split == (("Sam", Money(600, "USD")), ("Ana", Money(400, "USD")))
    [sent] = tip_splits_queued(pos)
    assert sent == {
        "path": "/tip-splits/pay_cash",
        "body": {"ticket_id": ticket_id, "currency": "USD", "shares": {"Sam": 600, "Ana": 400}},
    }
    ctx = pos.ctx
    summary = ctx.backend.day_summary(ctx.today(), ctx.timezone, ctx.settings)
    assert {k: v.minor for k, v in summary.tips_by_provider.items()} == {"Sam": 600, "Ana": 400}

    again = open_split(qtbot, pos)  # the saved split is what the editor shows next time
    assert shares(again) == [("Sam", "$5.33", "6.00"), ("Ana", "$4.67", "4.00")]
    again.findChild(QPushButton, "resetTipSplitButton").click()
    assert [s[2] for s in shares(again)] == ["5.33", "4.67"]
    again.findChild(QPushButton, "saveTipSplitButton").click()
    wait_idle(qtbot, pos.ctx)
    assert pos.view.ticket.payments[0].tip_split is None
    assert tip_splits_queued(pos)[-1]["body"]["shares"] is None  # back to the default everywhere
    summary = ctx.backend.day_summary(ctx.today(), ctx.timezone, ctx.settings)
    assert {k: v.minor for k, v in summary.tips_by_provider.items()} == {"Sam": 533, "Ana": 467}


def test_there_is_nothing_to_split_without_a_tip(qtbot, make_pos) -> None:
    pos = make_pos(online=False, manager_pin_hash=hash_pin(PIN, iterations=1000))
    paid_with_a_tip(qtbot, pos, tip=0)
    pos.window.findChild(QTableWidget, "paymentsList").selectRow(0)
    assert not pos.window.findChild(QPushButton, "splitTipButton").isVisible()


def test_the_tip_split_needs_the_manager_pin(qtbot, make_pos) -> None:
    pos = make_pos(online=False, manager_pin_hash=hash_pin(PIN, iterations=1000))
    paid_with_a_tip(qtbot, pos)
    pos.window.findChild(QTableWidget, "paymentsList").selectRow(0)
    click(qtbot, pos, "splitTipButton")
    enter_pin(pos, "0000")
    assert visible(pos, "managerPinDialog").findChild(QLabel, "errorMessage").text() == "Wrong PIN"
    assert not [d for d in pos.window.findChildren(QDialog, "tipSplitDialog") if d.isVisible()]


def test_another_terminals_tip_split_and_tip_refund_are_kept_here(qtbot, make_pos) -> None:
    from dataclasses import replace

    from posdesk.core.events import Event, EventType
    from posdesk.sync.applying import apply_event

    pos = make_pos(online=False)
    ticket_id = paid_with_a_tip(qtbot, pos)
    made_at = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    split = {"payment_id": "pay_cash", "currency": "USD", "shares": {"Ana": 1000}}
    refund = {"payment_id": "pay_cash", "amount": 300, "refunded_total": 300, "refunded_tip_total": 300}
    with pos.db.session() as session:  # what Till 2's manager did, as the companion tells it
        apply_event(session, Event(1, EventType.TIP_SPLIT, made_at, ticket_id=ticket_id, data=split))
        apply_event(session, replace(Event(2, EventType.PAYMENT_REFUNDED, made_at, ticket_id=ticket_id), data=refund))
    pos.ctx.tickets_changed.emit({ticket_id})
    [payment] = pos.view.ticket.payments
    assert payment.tip_split == (("Ana", Money(1000, "USD")),)
    assert (payment.refunded_of_amount.minor, payment.refunded_of_tip.minor) == (0, 300)
    assert [r.at for r in payment.refunds] == [made_at]


def test_a_refund_heard_without_its_parts_is_corrected_when_another_terminal_tells_the_tip_part(
    qtbot, make_pos
) -> None:
    from posdesk.core.events import Event, EventType
    from posdesk.sync.applying import apply_event

    pos = make_pos(online=False)
    ticket_id = paid_with_a_tip(qtbot, pos)
    now = datetime.now(UTC)
    refund = {"payment_id": "pay_cash", "amount": 1000, "refunded_total": 1000}  # as the gateway reports it
    tip_part = {"payment_id": "pay_cash", "refunded_tip_total": 1000}  # Till 2 refunded the tip alone
    with pos.db.session() as session:
        apply_event(session, Event(1, EventType.PAYMENT_REFUNDED, now, ticket_id=ticket_id, data=refund))
        assert TicketRepository(session).get(ticket_id).payments[0].refunded_of_tip.minor == 0
        apply_event(session, Event(2, EventType.TIP_REFUNDED, now, ticket_id=ticket_id, data=tip_part))
    pos.ctx.tickets_changed.emit({ticket_id})
    [payment] = pos.view.ticket.payments
    assert (payment.refunded_of_amount.minor, payment.refunded_of_tip.minor) == (0, 1000)


def test_the_manager_adds_an_assistant_who_did_no_service_to_the_split(qtbot, make_pos) -> None:
    pos = make_pos(online=False, manager_pin_hash=hash_pin(PIN, iterations=1000))
    paid_with_a_tip(qtbot, pos)
    dialog = open_split(qtbot, pos)
    edit = dialog.findChild(QLineEdit, "tipSplitProviderEdit")
    add = dialog.findChild(QPushButton, "addTipSplitProviderButton")
    edit.setText("  sam ")
    add.click()
    assert check_text(dialog) == "sam is already in the split"
    edit.setText("Lee")
    add.click()
    assert shares(dialog)[-1] == ("Lee", "$0.00", "0.00")
    set_share(dialog, 0, "4.33")  # Sam gives Lee $1.00
    assert check_text(dialog) == "The shares add up to $9.00: $1.00 short of the $10.00 tip"
    set_share(dialog, 2, "1")
    dialog.findChild(QPushButton, "saveTipSplitButton").click()
    wait_idle(qtbot, pos.ctx)
    assert not dialog.isVisible()
    assert dict(pos.view.ticket.payments[0].tip_split) == {
        "Sam": Money(433, "USD"), "Ana": Money(467, "USD"), "Lee": Money(100, "USD")
    }
    ctx = pos.ctx
    summary = ctx.backend.day_summary(ctx.today(), ctx.timezone, ctx.settings)
    assert {k: v.minor for k, v in summary.tips_by_provider.items()} == {"Sam": 433, "Ana": 467, "Lee": 100}


def test_tips_by_provider_here_are_net_of_a_tip_refunded_in_part(qtbot, make_pos) -> None:
    pos = make_pos(online=False)
    cash = Payment(
        "pay_cash", Money(8100, "USD"), Money(1000, "USD"), PaymentMethod.CASH, datetime.now(UTC)
    ).with_refund(Money(300, "USD"), Money(300, "USD"), datetime.now(UTC))
    paid_on_a_saved_ticket(qtbot, pos, ["Haircut", "Blowout"], cash)
    ctx = pos.ctx
    summary = ctx.backend.day_summary(ctx.today(), ctx.timezone, ctx.settings)
    # $3.00 off Sam's $5.33 and Ana's $4.67: 159.9 and 140.1 cents, the odd cent from Sam.
    assert {k: v.minor for k, v in summary.tips_by_provider.items()} == {"Sam": 373, "Ana": 327}
