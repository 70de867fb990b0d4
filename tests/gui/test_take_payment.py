"""Finishing a sale at the counter: Take payment (cash with change, counter card, gift card), several
tenders on one ticket, the $0 close, every payment listed with its status and the tips apart, refunds
behind the manager PIN, and the day summary from this terminal's cache."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from posdesk.core.client import Client, GiftCardBalance, Holdings
from posdesk.core.money import Money
from posdesk.core.ticket import Payment, PaymentMethod, TicketState
from posdesk.gui.pin import hash_pin
from posdesk.gui.qt import QComboBox, QDialog, QLabel, QLineEdit, QPushButton, Qt, QTableWidget
from posdesk.store import ClientRepository, Outbox, TicketRepository
from tests.gui.conftest import ADA, BOB, GRACE, Pos, wait_idle
from tests.gui.test_new_ticket_view import add_from_catalog
from tests.gui.test_settings_dialog import enter_pin, visible

PIN = "4821"


def click(qtbot, pos: Pos, object_name: str) -> None:
    button = pos.window.findChild(QPushButton, object_name)
    assert button is not None and button.isVisible() and button.isEnabled(), object_name
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def take_payment(qtbot, pos: Pos, method: str, amount: str, **fields: str) -> QDialog:
    click(qtbot, pos, "takePaymentButton")
    wait_idle(qtbot, pos.ctx)  # unsaved edits are saved first
    qtbot.waitUntil(lambda: any(d.isVisible() for d in pos.window.findChildren(QDialog, "tenderDialog")))
    dialog = visible(pos, "tenderDialog")
    combo = dialog.findChild(QComboBox, "tenderMethodCombo")
    combo.setCurrentIndex(combo.findText(method))
    dialog.findChild(QLineEdit, "tenderAmountEdit").setText(amount)
    for object_name, text in fields.items():
        dialog.findChild(QLineEdit, object_name).setText(text)
    return dialog


def record(qtbot, pos: Pos, dialog: QDialog) -> None:
    qtbot.mouseClick(dialog.findChild(QPushButton, "recordTenderButton"), Qt.MouseButton.LeftButton)
    wait_idle(qtbot, pos.ctx)


def payments_rows(pos: Pos) -> list[list[str]]:
    table = pos.window.findChild(QTableWidget, "paymentsList")
    if table is None:  # made for the first payment shown: none yet
        return []
    return [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]


def label(pos: Pos, object_name: str) -> str:
    return pos.window.findChild(QLabel, object_name).text()


def test_cash_with_change_then_a_counter_card_settle_a_ticket_and_close_it(qtbot, pos: Pos) -> None:
    pos.view.set_client(BOB)
    add_from_catalog(qtbot, pos, "Haircut")  # 40.00 + 8% = 43.20
    add_from_catalog(qtbot, pos, "Shampoo")  # 18.00 + 8% = 19.44 -> 62.64

    dialog = take_payment(qtbot, pos, "Cash", "50")
    assert dialog.findChild(QLineEdit, "tenderAmountEdit").text() == "50"
    # Cash handed over below the balance: no change, the rest stays due.
    assert dialog.findChild(QLabel, "changeDueLabel").text() == "Change due: $0.00"
    record(qtbot, pos, dialog)
    assert not dialog.isVisible()
    assert pos.view.ticket.state is TicketState.PARTIALLY_PAID
    assert label(pos, "balanceDueLabel") == "$12.64"
    assert payments_rows(pos)[0][:2] == ["Cash", "$50.00"] and payments_rows(pos)[0][4] == "Paid"

    dialog = take_payment(qtbot, pos, "Card on the counter terminal", "20", tenderReferenceEdit="AUTH 7731")
    error = dialog.findChild(QLabel, "errorMessage")
    qtbot.mouseClick(dialog.findChild(QPushButton, "recordTenderButton"), Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and "At most the balance due, $12.64" in error.text()
    dialog.findChild(QLineEdit, "tenderAmountEdit").setText("12.64")
    record(qtbot, pos, dialog)

    ticket = pos.view.ticket
    assert ticket.state is TicketState.PAID and pos.view.read_only
    assert label(pos, "ticketStatusLabel").startswith("Paid")
    assert [row[0] for row in payments_rows(pos)] == ["Cash", "Card (counter terminal) · AUTH 7731"]
    assert not pos.window.findChild(QPushButton, "takePaymentButton").isEnabled()
    with pos.db.reading() as session:
        stored = TicketRepository(session).get(ticket.id)
        queued = [e.payload["path"] for e in Outbox(session).due(limit=50) if e.kind == "api.post"]
    assert stored is not None and stored.state is TicketState.PAID
    assert [p.method for p in stored.payments] == [PaymentMethod.CASH, PaymentMethod.CARD]
    assert queued == ["/tenders", "/tenders"]  # every tender goes to the companion through the outbox


def test_the_card_surcharge_is_on_card_tenders_only_never_on_cash(qtbot, make_pos) -> None:
    pos = make_pos(surcharge_rate=Decimal("0.03"))
    pos.view.set_client(BOB)
    add_from_catalog(qtbot, pos, "Shampoo")  # 19.44
    wait_idle(qtbot, pos.ctx)
    assert label(pos, "balanceDueLabel") == "$19.44"  # no surcharge before a card is used

    dialog = take_payment(qtbot, pos, "Cash", "10")
    assert dialog.findChild(QLabel, "tenderSurchargeLabel").text() == ""
    record(qtbot, pos, dialog)
    assert payments_rows(pos)[0][1] == "$10.00" and label(pos, "balanceDueLabel") == "$9.44"

    dialog = take_payment(qtbot, pos, "Card on the counter terminal", "9.44")
    surcharge = dialog.findChild(QLabel, "tenderSurchargeLabel").text()
    assert surcharge == "Card surcharge (3%): $0.28 · Charge on the terminal: $9.72"
    combo = dialog.findChild(QComboBox, "tenderMethodCombo")
    combo.setCurrentIndex(combo.findText("Cash"))
    assert dialog.findChild(QLabel, "tenderSurchargeLabel").text() == ""  # cash: none
    combo.setCurrentIndex(combo.findText("Card on the counter terminal"))
    record(qtbot, pos, dialog)
    assert pos.view.ticket.state is TicketState.PAID
    assert [row[1] for row in payments_rows(pos)] == ["$10.00", "$9.72"]  # recorded with its surcharge
    assert label(pos, "surchargeValue") == "$0.28"
    with pos.db.reading() as session:
        bodies = [
            e.payload["body"] for e in Outbox(session).due(limit=50) if e.payload.get("path") == "/tenders"
        ]
    assert [b["amount"] for b in bodies] == [1000, 972]


def test_another_terminals_card_tender_counts_without_its_surcharge(qtbot, make_pos) -> None:
    from posdesk.core.events import Event, EventType
    from posdesk.sync.applying import apply_event

    pos = make_pos(surcharge_rate=Decimal("0.03"))
    pos.view.set_client(BOB)
    add_from_catalog(qtbot, pos, "Shampoo")  # 19.44
    pos.view.save()
    wait_idle(qtbot, pos.ctx)
    card = {"id": "t_card", "amount": 1957, "currency": "USD", "method": "card",
            "received_at": datetime.now(UTC).isoformat()}  # fmt: skip
    with pos.db.session() as session:  # $19.00 toward the balance + $0.57 surcharge, from Till 2
        event = Event(1, EventType.TENDER_RECORDED, datetime.now(UTC), ticket_id=pos.view.ticket.id)
        apply_event(session, replace(event, data={"payment": card}))
    pos.ctx.tickets_changed.emit({pos.view.ticket.id})
    assert pos.view.ticket.state is TicketState.PARTIALLY_PAID
    assert label(pos, "balanceDueLabel") == "$0.44" and label(pos, "surchargeValue") == "$0.57"


def test_cash_above_the_balance_gives_change_and_closes(qtbot, pos: Pos) -> None:
    pos.view.set_client(BOB)
    add_from_catalog(qtbot, pos, "Shampoo")  # 19.44
    dialog = take_payment(qtbot, pos, "Cash", "20")
    assert dialog.findChild(QLabel, "changeDueLabel").text() == "Change due: $0.56"
    record(qtbot, pos, dialog)
    assert pos.view.ticket.state is TicketState.PAID
    assert payments_rows(pos)[0][1] == "$19.44"  # the change went back: it was never the store's
    assert "change due $0.56" in pos.window.statusBar().currentMessage()


def gift_card_gc100_holds(pos: Pos, minor: int) -> None:
    """Gift card GC-100 (bought by Grace) has ``minor`` cents left in this terminal's records."""
    with pos.db.session() as session:
        ClientRepository(session).set_holdings(
            GRACE.id, Holdings(gift_cards=(GiftCardBalance("GC-100", Money(minor, "USD")),))
        )


def test_a_gift_card_sold_here_pays_up_to_its_balance(qtbot, pos: Pos) -> None:
    gift_card_gc100_holds(pos, 1000)
    pos.view.set_client(BOB)
    add_from_catalog(qtbot, pos, "Shampoo")  # 19.44
    dialog = take_payment(qtbot, pos, "Gift card", "19.44", giftCardCodeEdit="gc-100")
    qtbot.mouseClick(dialog.findChild(QPushButton, "recordTenderButton"), Qt.MouseButton.LeftButton)
    assert "This gift card has $10.00 left" in dialog.findChild(QLabel, "errorMessage").text()
    dialog.findChild(QLineEdit, "giftCardCodeEdit").setText("NOPE")
    dialog.findChild(QLineEdit, "tenderAmountEdit").setText("5")
    qtbot.mouseClick(dialog.findChild(QPushButton, "recordTenderButton"), Qt.MouseButton.LeftButton)
    assert "No gift card with this code" in dialog.findChild(QLabel, "errorMessage").text()
    dialog.findChild(QLineEdit, "giftCardCodeEdit").setText("GC-100")
    record(qtbot, pos, dialog)
    assert pos.view.ticket.state is TicketState.PARTIALLY_PAID
    assert pos.ctx.backend.gift_card_balance("GC-100") == Money(500, "USD")


def test_a_fully_prepaid_ticket_closes_with_one_click(qtbot, pos: Pos) -> None:
    pos.view.set_client(ADA)  # two haircuts left in her package
    add_from_catalog(qtbot, pos, "Haircut")
    assert label(pos, "balanceDueLabel") == "$0.00"
    assert not pos.window.findChild(QPushButton, "takePaymentButton").isEnabled()
    click(qtbot, pos, "closeTicketButton")
    wait_idle(qtbot, pos.ctx)
    wait_idle(qtbot, pos.ctx)
    assert pos.view.ticket.state is TicketState.PAID
    assert not pos.window.findChild(QPushButton, "closeTicketButton").isVisible()


def test_a_ticket_with_a_balance_due_offers_no_close_button(qtbot, pos: Pos) -> None:
    pos.view.set_client(BOB)
    add_from_catalog(qtbot, pos, "Shampoo")  # 19.44 due
    close = pos.window.findChild(QPushButton, "closeTicketButton")
    assert not close.isVisible() and pos.window.findChild(QPushButton, "takePaymentButton").isEnabled()
    record(qtbot, pos, take_payment(qtbot, pos, "Cash", "10.00"))
    assert label(pos, "balanceDueLabel") == "$9.44"
    assert pos.view.ticket.state is TicketState.PARTIALLY_PAID and not close.isVisible()


def test_online_payments_and_tips_are_listed_and_tips_shown_apart(qtbot, pos: Pos) -> None:
    paid_online_by_card(qtbot, pos)
    rows = payments_rows(pos)
    assert rows[0][0] == "Online card visa ···4242" and rows[0][1:3] == ["$20.00", "$6.48"]
    assert label(pos, "tipsValue") == "$6.48" and label(pos, "paidValue") == "−$20.00"
    assert label(pos, "balanceDueLabel") == "$23.20"


def test_a_counter_refund_needs_the_manager_pin_and_shows_on_the_ticket(qtbot, make_pos) -> None:
    pos = make_pos(manager_pin_hash=hash_pin(PIN, iterations=1000))
    pos.view.set_client(BOB)
    add_from_catalog(qtbot, pos, "Shampoo")
    record(qtbot, pos, take_payment(qtbot, pos, "Cash", "19.44"))
    table = pos.window.findChild(QTableWidget, "paymentsList")
    assert not pos.window.findChild(QPushButton, "refundButton").isEnabled()  # nothing selected
    table.selectRow(0)
    click(qtbot, pos, "refundButton")
    enter_pin(pos, "0000")
    assert visible(pos, "managerPinDialog").findChild(QLabel, "errorMessage").text() == "Wrong PIN"
    enter_pin(pos, PIN)
    dialog = visible(pos, "refundDialog")
    amount = dialog.findChild(QLineEdit, "refundAmountEdit")
    assert amount.text() == "19.44"  # what is left refundable
    amount.setText("25")
    dialog.findChild(QPushButton, "confirmRefundButton").click()
    assert "at most $19.44" in dialog.findChild(QLabel, "errorMessage").text()
    amount.setText("5")
    dialog.findChild(QPushButton, "confirmRefundButton").click()
    wait_idle(qtbot, pos.ctx)
    assert not dialog.isVisible()
    assert payments_rows(pos)[0][4] == "Partly refunded ($5.00)"
    with pos.db.reading() as session:
        paths = [e.payload["path"] for e in Outbox(session).due(limit=50) if e.kind == "api.post"]
    assert paths[-1].endswith("/refund")
    assert not any(path == "/messages" for path in paths)  # Bob has not agreed to emails: no receipt


def test_the_tip_is_refunded_separately_from_the_amount(qtbot, make_pos) -> None:
    pos = make_pos(online=False, manager_pin_hash=hash_pin(PIN, iterations=1000))
    ticket_id = paid_online_by_card(qtbot, pos)
    pos.window.findChild(QTableWidget, "paymentsList").selectRow(0)
    click(qtbot, pos, "refundButton")
    enter_pin(pos, PIN)
    dialog = visible(pos, "refundDialog")
    amount, tip = (dialog.findChild(QLineEdit, n) for n in ("refundAmountEdit", "refundTipEdit"))
    assert (amount.text(), tip.text()) == ("20.00", "6.48")  # each defaults to what is left of it
    tip.setText("7")
    dialog.findChild(QPushButton, "confirmRefundButton").click()
    assert "tip refund is at most $6.48" in dialog.findChild(QLabel, "errorMessage").text()
    amount.setText("0")  # the tip alone: the service is not refunded
    tip.setText("6.48")
    dialog.findChild(QPushButton, "confirmRefundButton").click()
    wait_idle(qtbot, pos.ctx)
    assert not dialog.isVisible()
    with pos.db.reading() as session:
        [queued] = [
            e.payload
            for e in Outbox(session).due(limit=50)
            if e.kind == "api.post" and e.payload["path"].endswith("/refund")
        ]
    assert queued["body"] == {"amount": 648, "refunded_before": 0}
    with pos.db.reading() as session:
        [note] = [e.payload for e in Outbox(session).due(limit=50) if e.payload.get("path", "").startswith("/tips/")]
    assert note == {"path": "/tips/pay_1/refunded", "body": {"ticket_id": ticket_id, "refunded_tip_total": 648}}


def paid_on_a_saved_ticket(qtbot, pos: Pos, items: list[str], payment: Payment, balance_due: int = 0) -> str:
    """Bob's ticket with ``items`` from the catalog, saved, then ``payment`` recorded on it as the sync
    records one (``balance_due`` left, in cents); the ticket's id."""
    pos.view.set_client(BOB)
    for item in items:
        add_from_catalog(qtbot, pos, item)
    pos.view.save()
    wait_idle(qtbot, pos.ctx)
    with pos.db.session() as session:
        tickets = TicketRepository(session)
        ticket = tickets.get(pos.view.ticket.id)
        base = ticket.revision
        ticket.record_payment(payment, Money(balance_due, "USD"))
        tickets.save(ticket, base_revision=base)
    pos.ctx.tickets_changed.emit({ticket.id})
    return ticket.id


def paid_online_by_card(qtbot, pos: Pos) -> str:
    """Bob's $43.20 haircut, $20.00 of it paid online by card with a $6.48 tip; the ticket's id."""
    paid = Payment("pay_1", Money(2000, "USD"), Money(648, "USD"), PaymentMethod.ONLINE_CARD,
                   datetime.now(UTC), card_brand="visa", card_last4="4242")  # fmt: skip
    return paid_on_a_saved_ticket(qtbot, pos, ["Haircut"], paid, balance_due=2320)


def cash_with_tip(qtbot, pos: Pos, received_at: datetime) -> str:
    """Bob's $43.20 haircut paid in cash with a $6.48 tip, at ``received_at``; the ticket's id."""
    cash = Payment("pay_cash", Money(4320, "USD"), Money(648, "USD"), PaymentMethod.CASH, received_at)
    return paid_on_a_saved_ticket(qtbot, pos, ["Haircut"], cash)


def open_refund(qtbot, pos: Pos) -> tuple[QDialog, QLineEdit, QLineEdit]:
    pos.window.findChild(QTableWidget, "paymentsList").selectRow(0)
    click(qtbot, pos, "refundButton")
    enter_pin(pos, PIN)
    dialog = visible(pos, "refundDialog")
    return dialog, dialog.findChild(QLineEdit, "refundAmountEdit"), dialog.findChild(QLineEdit, "refundTipEdit")


def refund_first_payment(qtbot, pos: Pos, amount: str) -> QDialog:
    """The manager refunds ``amount`` of the first payment listed (behind the PIN); the refund dialog."""
    dialog, amount_edit, _tip = open_refund(qtbot, pos)
    amount_edit.setText(amount)
    dialog.findChild(QPushButton, "confirmRefundButton").click()
    return dialog


def test_after_a_tip_only_refund_the_next_refund_offers_the_whole_amount_and_no_tip(qtbot, make_pos) -> None:
    pos = make_pos(online=False, manager_pin_hash=hash_pin(PIN, iterations=1000))
    cash_with_tip(qtbot, pos, datetime.now(UTC))
    dialog, amount, tip = open_refund(qtbot, pos)
    assert (amount.text(), tip.text()) == ("43.20", "6.48")
    amount.setText("0")
    dialog.findChild(QPushButton, "confirmRefundButton").click()  # the tip alone
    wait_idle(qtbot, pos.ctx)
    assert not dialog.isVisible()
    [payment] = pos.view.ticket.payments
    assert (payment.refunded_of_amount.minor, payment.refunded_of_tip.minor) == (0, 648)

    dialog, amount, tip = open_refund(qtbot, pos)
    assert (amount.text(), tip.text()) == ("43.20", "0.00")  # not $36.72 of the amount and $6.48 of tip
    tip.setText("1")
    dialog.findChild(QPushButton, "confirmRefundButton").click()
    assert "tip refund is at most $0.00" in dialog.findChild(QLabel, "errorMessage").text()
    tip.setText("0")
    amount.setText("10")
    dialog.findChild(QPushButton, "confirmRefundButton").click()
    wait_idle(qtbot, pos.ctx)
    with pos.db.reading() as session:
        bodies = [e.payload["body"] for e in Outbox(session).due(limit=50) if e.payload.get("path", "").endswith("/refund")]
    assert bodies == [{"refunded_total": 648, "refunded_tip_total": 648}, {"refunded_total": 1648, "refunded_tip_total": 648}]


def test_the_day_summary_counts_a_refund_on_the_day_it_was_made(qtbot, make_pos) -> None:
    pos = make_pos(online=False, manager_pin_hash=hash_pin(PIN, iterations=1000))
    yesterday = datetime.now(UTC) - timedelta(days=1)
    cash_with_tip(qtbot, pos, yesterday)  # paid on day 1
    refund_first_payment(qtbot, pos, "5")  # refunded on day 2 (today)
    wait_idle(qtbot, pos.ctx)
    ctx = pos.ctx
    day_1 = ctx.backend.day_summary(yesterday.astimezone(ctx.timezone).date(), ctx.timezone, ctx.settings)
    day_2 = ctx.backend.day_summary(ctx.today(), ctx.timezone, ctx.settings)
    assert (day_1.tender("cash").minor, day_1.refunds.minor) == (4320, 0)
    assert (day_2.tender("cash").minor, day_2.refunds.minor) == (0, 1148)  # $5.00 and the $6.48 tip


def test_a_client_who_agreed_to_emails_gets_a_refund_receipt_by_email(qtbot, make_pos) -> None:
    pos = make_pos(manager_pin_hash=hash_pin(PIN, iterations=1000))
    with pos.db.session() as session:
        client = ClientRepository(session).create(
            Client("c_eve", "Eve", "Mail", email="eve@example.com", email_consent=True)
        )
    pos.view.set_client(client)
    add_from_catalog(qtbot, pos, "Shampoo")
    record(qtbot, pos, take_payment(qtbot, pos, "Cash", "19.44"))
    dialog = refund_first_payment(qtbot, pos, "5")
    wait_idle(qtbot, pos.ctx)
    assert not dialog.isVisible()
    with pos.db.reading() as session:
        [sent] = [
            e.payload["body"] for e in Outbox(session).due(limit=50) if e.payload.get("path") == "/messages"
        ]
    assert sent["channel"] == "email" and sent["client"]["email"] == "eve@example.com"
    assert sent["subject"].endswith(": $5.00") and "refunded $5.00 of your payment (Cash" in sent["text"]
    assert "handed back at the counter" in sent["text"]


def test_the_day_summary_from_this_terminal_shows_tenders_and_exports_csv(
    qtbot, make_pos, tmp_path: Path
) -> None:
    pos = make_pos(online=False, manager_pin_hash=hash_pin(PIN, iterations=1000))
    pos.view.set_client(BOB)
    add_from_catalog(qtbot, pos, "Shampoo")
    record(qtbot, pos, take_payment(qtbot, pos, "Cash", "10"))
    record(qtbot, pos, take_payment(qtbot, pos, "Card on the counter terminal", "9.44"))
    pos.window.open_day_summary()
    enter_pin(pos, PIN)
    dialog = visible(pos, "daySummaryDialog")
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=10_000)
    assert "this terminal only" in dialog.findChild(QLabel, "daySummarySourceLabel").text()
    assert dialog.figure("Takings", "Cash") == "$10.00"
    assert dialog.figure("Takings", "Counter card") == "$9.44"
    assert dialog.figure("Takings", "Total") == "$19.44"
    rows = list(csv.reader(dialog.export_csv(tmp_path / "day.csv").read_text(encoding="utf-8").splitlines()))
    assert rows[0][2] == "this terminal only" and ["Takings", "Cash", "$10.00"] in rows
