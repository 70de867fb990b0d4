"""Counter tenders and invoice links under one set of money rules, with a real companion (uvicorn on
loopback), two whole POS terminals and the client's phone (Chromium), in a store with a 3% card
surcharge:

- Till 1 sends a link, takes $20.00 cash at the counter, and the re-issued link asks for the rest with
  the surcharge on the card part only ($23.20 + $0.70); the client pays it on the page; the ticket
  closes on both tills, and every figure agrees to the cent.
- Till 2 takes cash on a ticket Till 1 invoiced (it has no link for it): the companion counts it
  toward that invoice, and the link Till 1 sent asks for the rest at once.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from posdesk.companion.models import Store as StoreRow
from posdesk.core.ticket import PaymentMethod, TicketState
from posdesk.gui.app import PosApp
from posdesk.gui.qt import QComboBox, QDialog, QLabel, QLineEdit, QPushButton, Qt, QTableWidget
from posdesk.store import Database, Outbox, SettingsRepository
from tests.e2e.terminals import WAIT_MS, Store, build_ticket_for_bob, send_via_link, status_text, visible

RATE = Decimal("0.03")


def with_surcharge(data_dir: Path) -> None:
    db = Database.open(data_dir / "posdesk.db")
    try:
        with db.session() as session:
            settings = SettingsRepository(session)
            settings.save_terminal(replace(settings.terminal(), surcharge_rate=RATE))
    finally:
        db.close()


@pytest.fixture
def two_tills(qtbot, store: Store, online_tills) -> tuple[PosApp, PosApp]:
    """Till 1 and Till 2 online, with the 3% card surcharge the companion now holds for the store."""
    till1, till2 = online_tills("till1", "till2", also=with_surcharge)

    def store_surcharge() -> bool:
        with store.app.state.db.read() as session:
            row = session.get(StoreRow, store.store_id)
            return row is not None and row.settings.get("surcharge_rate") == str(RATE)

    qtbot.waitUntil(store_surcharge, timeout=WAIT_MS)  # the store's 3% surcharge at the companion
    return till1, till2


def take_cash(qtbot, till: PosApp, amount: str, *, expect_due: str) -> None:
    window = till.window
    qtbot.mouseClick(window.findChild(QPushButton, "takePaymentButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(d.isVisible() for d in window.findChildren(QDialog, "tenderDialog")))
    tender = visible(window, "tenderDialog")
    assert tender.findChild(QLineEdit, "tenderAmountEdit").text() == expect_due
    combo = tender.findChild(QComboBox, "tenderMethodCombo")
    combo.setCurrentIndex(combo.findText("Cash"))
    tender.findChild(QLineEdit, "tenderAmountEdit").setText(amount)
    qtbot.mouseClick(tender.findChild(QPushButton, "recordTenderButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tender.isVisible(), timeout=WAIT_MS)


def pay_without_tip(page) -> str:
    """The client on the link: no tip, the Simulator's test card, Pay; the confirmation's amount."""
    page.get_by_text("No tip", exact=True).click()
    page.fill("#sim_number", "4242424242424242")
    page.fill("#sim_exp", "12 / 34")
    page.fill("#sim_cvc", "123")
    page.get_by_test_id("pay-button").click()
    page.get_by_test_id("confirmation").wait_for(timeout=WAIT_MS)
    return page.get_by_test_id("paid-amount").inner_text()


def test_cash_on_till_1_then_the_rest_by_the_reissued_link_with_the_surcharge_on_the_card_part_only(
    qtbot, two_tills: tuple[PosApp, PosApp], phone_page
) -> None:
    till1, till2 = two_tills
    window, view = till1.window, till1.window.ticket_view

    build_ticket_for_bob(qtbot, till1)  # $40.00 + 8% tax = $43.20; no surcharge until a card pays
    link, dialog = send_via_link(qtbot, till1)
    assert dialog.findChild(QLabel, "linkSurchargeLabel").text() == (
        "Paid by card through the link: $43.20 + card surcharge (3%) $1.30 = $44.50"
    )
    dialog.findChild(QPushButton, "closeButton").click()
    qtbot.waitUntil(lambda: status_text(till1) == "Invoice sent · awaiting payment", timeout=WAIT_MS)
    phone_page.goto(link)
    assert phone_page.get_by_test_id("balance-due").text_content().strip().endswith("$43.20")  # the POS's Balance due
    assert phone_page.get_by_test_id("due-surcharge").text_content().strip().endswith("$1.30")
    assert phone_page.locator("#hero-amount").inner_text() == "$44.50"

    # $20.00 cash at the counter: the link is re-issued for the rest.
    take_cash(qtbot, till1, "20", expect_due="43.20")
    qtbot.waitUntil(lambda: len(view.ticket.payments) == 1, timeout=WAIT_MS)
    assert window.findChild(QLabel, "balanceDueLabel").text() == "$23.20"
    assert not view.ticket.is_closed, view.ticket.state
    ticket_id = view.ticket.id

    def link_asks() -> str:
        phone_page.goto(link)
        return phone_page.locator("#hero-amount").inner_text()

    qtbot.waitUntil(lambda: link_asks() == "$23.90", timeout=WAIT_MS)  # once the outbox delivered the cash

    def delivered() -> bool:
        with till1.db.reading() as session:
            return Outbox(session).pending_count() == 0

    # The re-issued version follows the cash in the outbox: a page opened before it lands asks the
    # client to pay again ("This invoice was updated").
    qtbot.waitUntil(delivered, timeout=WAIT_MS)
    assert link_asks() == "$23.90"
    assert phone_page.get_by_test_id("balance-due").text_content().strip().endswith("$23.20")
    assert phone_page.get_by_test_id("due-surcharge").text_content().strip().endswith("$0.70")  # 3% of $23.20 only
    assert pay_without_tip(phone_page) == "$23.90"

    # Both tills close the ticket; each shows the same payments, surcharge and total.
    for till in (till1, till2):
        qtbot.waitUntil(
            lambda till=till: till.ctx.backend.load_ticket(ticket_id).state is TicketState.PAID, timeout=WAIT_MS
        )
        stored = till.ctx.backend.load_ticket(ticket_id)
        assert sorted((p.method, p.amount.minor) for p in stored.payments) == [
            (PaymentMethod.CASH, 2000), (PaymentMethod.ONLINE_CARD, 2390),
        ]  # fmt: skip
    qtbot.waitUntil(lambda: status_text(till1).endswith("closed"), timeout=WAIT_MS)
    assert window.findChild(QLabel, "balanceDueLabel").text() == "$0.00"
    totals = view.priced
    assert (totals.surcharge.minor, totals.total.minor, totals.paid.minor) == (70, 4390, 4390)
    payments = window.findChild(QTableWidget, "paymentsList")
    assert payments.rowCount() == 2
    till2.window.open_ticket(ticket_id)
    there = till2.window.ticket_view.priced
    assert (there.surcharge.minor, there.total.minor, there.balance_due.minor) == (70, 4390, 0)
    phone_page.goto(link)
    assert phone_page.get_by_test_id("pay-button").count() == 0  # nothing more to pay


def test_till_2_takes_cash_on_a_ticket_till_1_invoiced_and_the_link_asks_for_the_rest(
    qtbot, two_tills: tuple[PosApp, PosApp], phone_page
) -> None:
    till1, till2 = two_tills
    build_ticket_for_bob(qtbot, till1)
    link, dialog = send_via_link(qtbot, till1)
    dialog.findChild(QPushButton, "closeButton").click()
    ticket_id = till1.window.ticket_view.ticket.id

    def held_on_till_2() -> bool:
        try:
            return till2.ctx.backend.load_ticket(ticket_id) is not None
        except KeyError:
            return False

    qtbot.waitUntil(held_on_till_2, timeout=WAIT_MS)  # from the companion's invoice.updated event

    till2.window.open_ticket(ticket_id)
    button = till2.window.findChild(QPushButton, "takePaymentButton")
    assert button.isEnabled(), button.toolTip()
    take_cash(qtbot, till2, "10", expect_due="43.20")
    assert till2.window.findChild(QLabel, "balanceDueLabel").text() == "$33.20"

    qtbot.waitUntil(
        lambda: len(till1.ctx.backend.load_ticket(ticket_id).payments) == 1, timeout=WAIT_MS
    )  # Till 1 hears of it
    assert not till1.ctx.backend.load_ticket(ticket_id).is_closed

    def link_asks() -> str:
        phone_page.goto(link)
        return phone_page.locator("#hero-amount").inner_text()

    qtbot.waitUntil(lambda: link_asks() == "$34.20", timeout=WAIT_MS)  # the rest, $33.20, and 3% of it ($0.996)
    assert pay_without_tip(phone_page) == "$34.20"
    for till in (till1, till2):
        qtbot.waitUntil(
            lambda till=till: till.ctx.backend.load_ticket(ticket_id).state is TicketState.PAID, timeout=WAIT_MS
        )
