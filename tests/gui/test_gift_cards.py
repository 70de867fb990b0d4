"""Gift cards sold on a ticket become usable once the ticket is paid: the code (shown on the line) is
checked in the tender dialog against what is left, each use lowers it, and an unknown, empty or used-up
code is refused in the dialog. Offline, the terminal's own records are used, and the dialog says so."""

from __future__ import annotations

from posdesk.core.catalog import ItemKind
from posdesk.core.gift_cards import codes_of
from posdesk.core.money import Money
from posdesk.core.ticket import TicketState
from posdesk.gui.pin import hash_pin
from posdesk.gui.qt import QDialog, QLabel, QLineEdit, QPushButton, Qt, QTableWidget
from posdesk.store import Outbox
from tests.gui.conftest import BOB, Pos, wait_idle
from tests.gui.test_new_ticket_view import add_from_catalog
from tests.gui.test_settings_dialog import visible
from tests.gui.test_take_payment import PIN, record, refund_first_payment, take_payment

OFFLINE = "this terminal's records: the companion cannot be reached"


def sell_gift_card(qtbot, pos: Pos, amount: str = "50") -> str:
    """Bob buys a gift card for Mia and pays cash; the card's code."""
    pos.view.set_client(BOB)
    add_from_catalog(qtbot, pos, "Gift card")
    dialog = visible(pos, "giftCardDialog")
    dialog.findChild(QLineEdit, "giftAmountEdit").setText(amount)
    dialog.findChild(QLineEdit, "giftRecipientEdit").setText("Mia")
    dialog.findChild(QPushButton, "addGiftCardButton").click()
    [line] = [line for line in pos.view.ticket.lines if line.kind is ItemKind.GIFT_CARD]
    [code] = codes_of(line)
    assert code in pos.window.findChild(QTableWidget, "ticketLinesView").item(0, 0).text()
    record(qtbot, pos, take_payment(qtbot, pos, "Cash", amount))
    assert pos.view.ticket.state is TicketState.PAID
    return code


def new_ticket_for(qtbot, pos: Pos, item: str = "Shampoo") -> None:
    pos.window.new_ticket()  # POS > New Ticket
    wait_idle(qtbot, pos.ctx)
    pos.view.set_client(BOB)
    add_from_catalog(qtbot, pos, item)


def type_code(qtbot, dialog: QDialog, code: str) -> str:
    edit = dialog.findChild(QLineEdit, "giftCardCodeEdit")
    edit.setText(code)
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    label = dialog.findChild(QLabel, "giftCardBalanceLabel")
    qtbot.waitUntil(lambda: label.text() and label.text() != "Checking the gift card…", timeout=10_000)
    return label.text()


def error(dialog: QDialog) -> str:
    return dialog.findChild(QLabel, "errorMessage").text()


def test_a_gift_card_sold_on_a_paid_ticket_pays_another_ticket_until_it_is_used_up(qtbot, make_pos) -> None:
    pos = make_pos(online=False)
    code = sell_gift_card(qtbot, pos)
    with pos.db.reading() as session:
        issued = [e.payload for e in Outbox(session).due(limit=50) if e.payload.get("path") == "/gift-cards"]
    assert [body["body"]["code"] for body in issued] == [code]
    assert issued[0]["body"]["amount"] == 5000

    new_ticket_for(qtbot, pos)  # $19.44
    dialog = take_payment(qtbot, pos, "Gift card", "19.44")
    assert type_code(qtbot, dialog, "") == "Enter the gift card's code"
    qtbot.mouseClick(dialog.findChild(QPushButton, "recordTenderButton"), Qt.MouseButton.LeftButton)
    assert error(dialog) == "Enter the gift card's code"
    assert type_code(qtbot, dialog, "GC-NOPE-NOPE-NOPE") == f"No gift card with this code was sold here ({OFFLINE})"
    qtbot.mouseClick(dialog.findChild(QPushButton, "recordTenderButton"), Qt.MouseButton.LeftButton)
    assert error(dialog) == "No gift card with this code was sold here"
    typed = code.lower().replace("-", " ")  # as a cashier may type it from the card
    assert type_code(qtbot, dialog, typed) == f"{code}: $50.00 left ({OFFLINE})"
    record(qtbot, pos, dialog)
    assert pos.view.ticket.state is TicketState.PAID
    assert pos.ctx.backend.gift_card_balance(code) == Money(3056, "USD")
    with pos.db.reading() as session:
        uses = [e.payload for e in Outbox(session).due(limit=50) if e.payload.get("path", "").endswith("/uses")]
    assert [(u["path"], u["body"]["amount"]) for u in uses] == [(f"/gift-cards/{code}/uses", 1944)]

    new_ticket_for(qtbot, pos, "5 haircuts")  # $180.00: more than is left on the card
    dialog = take_payment(qtbot, pos, "Gift card", "180")
    assert type_code(qtbot, dialog, code) == f"{code}: $30.56 left ({OFFLINE}). It cannot pay $180.00"
    qtbot.mouseClick(dialog.findChild(QPushButton, "recordTenderButton"), Qt.MouseButton.LeftButton)
    assert error(dialog) == "This gift card has $30.56 left"
    dialog.findChild(QLineEdit, "tenderAmountEdit").setText("30.56")
    record(qtbot, pos, dialog)
    assert pos.ctx.backend.gift_card_balance(code) == Money(0, "USD")

    dialog = take_payment(qtbot, pos, "Gift card", "10")
    assert type_code(qtbot, dialog, code) == f"{code} is used up: nothing is left on it ({OFFLINE})"
    qtbot.mouseClick(dialog.findChild(QPushButton, "recordTenderButton"), Qt.MouseButton.LeftButton)
    assert error(dialog) == "This gift card is used up: nothing is left on it"


def test_a_refund_of_a_payment_made_with_a_gift_card_puts_the_value_back_onto_it(qtbot, make_pos) -> None:
    pos = make_pos(online=False, manager_pin_hash=hash_pin(PIN, iterations=1000))
    code = sell_gift_card(qtbot, pos)
    new_ticket_for(qtbot, pos)  # $19.44
    dialog = take_payment(qtbot, pos, "Gift card", "19.44")
    type_code(qtbot, dialog, code)
    record(qtbot, pos, dialog)
    assert pos.ctx.backend.gift_card_balance(code) == Money(3056, "USD")
    refund = refund_first_payment(qtbot, pos, "5")
    wait_idle(qtbot, pos.ctx)
    assert not refund.isVisible()
    assert pos.ctx.backend.gift_card_balance(code) == Money(3556, "USD")
    with pos.db.reading() as session:
        uses = [e.payload["body"]["amount"] for e in Outbox(session).due(limit=50) if e.payload.get("path", "").endswith("/uses")]
    assert uses == [1944, -500]


def test_the_companions_balance_is_taken_unless_a_use_here_has_not_reached_it_yet(qtbot, make_pos) -> None:
    from datetime import UTC, datetime

    from posdesk.core.events import Event, EventType
    from posdesk.sync.applying import apply_event

    pos = make_pos(online=False)
    code = sell_gift_card(qtbot, pos)
    new_ticket_for(qtbot, pos)
    dialog = take_payment(qtbot, pos, "Gift card", "19.44")
    type_code(qtbot, dialog, code)
    record(qtbot, pos, dialog)  # $30.56 left here; the use waits in the outbox

    def told(balance: int, event_id: int) -> Money | None:
        data = {"code": code, "amount": 5000, "balance": balance, "currency": "USD", "ticket_id": "", "client_id": None}
        with pos.db.session() as session:
            apply_event(session, Event(event_id, EventType.GIFT_CARD_CHANGED, datetime.now(UTC), data=data))
        return pos.ctx.backend.gift_card_balance(code)

    assert told(5000, 1) == Money(3056, "USD")  # the issue, heard before this counter's use went up
    with pos.db.session() as session:
        for entry in Outbox(session).due(limit=50):
            Outbox(session).mark_done(entry.id)
    assert told(3556, 2) == Money(3556, "USD")  # a refund onto the card made at another terminal
