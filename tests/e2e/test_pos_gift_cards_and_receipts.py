"""With a real companion: a gift card sold on Till 1 is checked and used on Till 2 against the store's
balance (and Till 1 hears the new balance); a refund at the counter emails the client a refund receipt
through the Communicator's email path to a real SMTP server, only when the client agreed to emails."""

from __future__ import annotations

from pathlib import Path

import pytest

from posdesk.core.catalog import ItemKind
from posdesk.core.gift_cards import codes_of
from posdesk.core.money import Money
from posdesk.core.ticket import TicketState
from posdesk.gui.app import PosApp
from posdesk.gui.qt import QComboBox, QDialog, QLabel, QLineEdit, QPushButton, Qt, QTableWidget
from posdesk.store import ClientRepository, Database, Outbox
from tests.companion.test_messages import communicator_companion
from tests.e2e.terminals import (
    WAIT_MS,
    Store,
    add_from_catalog,
    enter_pin,
    prepare_terminal,
    visible,
    with_pin,
)
from tests.fakes.keyring import MemoryKeyring
from tests.gui.conftest import BOB
from tests.plugins.smtp import SmtpTestServer


def take_payment(qtbot, window, method: str, amount: str) -> QDialog:
    qtbot.mouseClick(window.findChild(QPushButton, "takePaymentButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(d.isVisible() for d in window.findChildren(QDialog, "tenderDialog")), timeout=WAIT_MS)
    dialog = visible(window, "tenderDialog")
    combo = dialog.findChild(QComboBox, "tenderMethodCombo")
    combo.setCurrentIndex(combo.findText(method))
    dialog.findChild(QLineEdit, "tenderAmountEdit").setText(amount)
    return dialog


def record(qtbot, dialog: QDialog) -> None:
    qtbot.mouseClick(dialog.findChild(QPushButton, "recordTenderButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)


def pending(till) -> int:
    with till.ctx.backend.db.reading() as session:
        return Outbox(session).pending_count()


def for_bob(qtbot, till, item: str) -> None:
    till.window.new_ticket()
    till.window.ticket_view.set_client(BOB)
    add_from_catalog(qtbot, till, item)


def look_up_gift_card(qtbot, dialog: QDialog, code: str) -> QLabel:
    """The cashier types the gift card's code in the tender dialog and presses Enter; the balance label."""
    edit, label = dialog.findChild(QLineEdit, "giftCardCodeEdit"), dialog.findChild(QLabel, "giftCardBalanceLabel")
    edit.setText(code)
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    return label


def sell_a_shampoo_in_cash_and_refund_5(qtbot, till) -> None:
    """Bob's $19.44 shampoo paid in cash, then $5.00 of it refunded by the manager."""
    window = till.window
    for_bob(qtbot, till, "Shampoo")
    record(qtbot, take_payment(qtbot, window, "Cash", "19.44"))
    window.findChild(QTableWidget, "paymentsList").selectRow(0)
    qtbot.mouseClick(window.findChild(QPushButton, "refundButton"), Qt.MouseButton.LeftButton)
    enter_pin(qtbot, window)
    refund = visible(window, "refundDialog")
    refund.findChild(QLineEdit, "refundAmountEdit").setText("5")
    refund.findChild(QPushButton, "confirmRefundButton").click()
    qtbot.waitUntil(lambda: not refund.isVisible(), timeout=WAIT_MS)


def sell_gift_card_for_mia(qtbot, till1: PosApp) -> str:
    """Till 1 sells Bob a $50.00 gift card for Mia, paid in cash; returns the card's code."""
    for_bob(qtbot, till1, "Gift card")
    gift = visible(till1.window, "giftCardDialog")
    gift.findChild(QLineEdit, "giftAmountEdit").setText("50")
    gift.findChild(QLineEdit, "giftRecipientEdit").setText("Mia")
    gift.findChild(QPushButton, "addGiftCardButton").click()
    [line] = [line for line in till1.window.ticket_view.ticket.lines if line.kind is ItemKind.GIFT_CARD]
    [code] = codes_of(line)
    record(qtbot, take_payment(qtbot, till1.window, "Cash", "50"))
    return code


def test_a_gift_card_sold_on_one_terminal_is_used_on_another_against_the_stores_balance(
    qtbot, online_tills
) -> None:
    till1, till2 = online_tills("till1", "till2")

    # Till 1 sells Bob a $50.00 gift card for Mia, paid in cash.
    code = sell_gift_card_for_mia(qtbot, till1)
    assert till1.window.ticket_view.ticket.state is TicketState.PAID
    # Paid here at once; the store's records know the card once the sale's upload is done.
    qtbot.waitUntil(lambda: pending(till1) == 0, timeout=WAIT_MS)

    # Till 2 checks the code: the store's records know it. It pays $19.44 of a shampoo.
    for_bob(qtbot, till2, "Shampoo")
    dialog = take_payment(qtbot, till2.window, "Gift card", "19.44")
    label = look_up_gift_card(qtbot, dialog, code)
    qtbot.waitUntil(lambda: label.text() == f"{code}: $50.00 left (the store's records)", timeout=WAIT_MS)
    record(qtbot, dialog)
    qtbot.waitUntil(lambda: till2.window.ticket_view.ticket.state is TicketState.PAID, timeout=WAIT_MS)

    # The companion's balance is lower, and Till 1 hears it: its own check says $30.56 too.
    left = Money(3056, "USD")
    qtbot.waitUntil(lambda: till1.ctx.backend.gift_card_balance(code) == left, timeout=WAIT_MS)
    for_bob(qtbot, till1, "5 haircuts")
    dialog = take_payment(qtbot, till1.window, "Gift card", "180")
    label = look_up_gift_card(qtbot, dialog, code)
    qtbot.waitUntil(lambda: "$30.56 left (the store's records)" in label.text(), timeout=WAIT_MS)
    qtbot.mouseClick(dialog.findChild(QPushButton, "recordTenderButton"), Qt.MouseButton.LeftButton)
    assert dialog.findChild(QLabel, "errorMessage").text() == "This gift card has $30.56 left"


def test_a_counter_refund_emails_a_receipt_through_smtp_only_to_a_client_who_agreed(
    qtbot, tmp_path: Path, smtp_server: SmtpTestServer, monkeypatch: pytest.MonkeyPatch,
    memory_keyring: MemoryKeyring, start_terminal,
) -> None:  # fmt: skip
    with communicator_companion(tmp_path / "companion.db", smtp_server, monkeypatch) as comm:
        prepare_terminal(tmp_path / "till", comm.url, comm.terminal.credential)
        with_pin(tmp_path / "till")
        db = Database.open(tmp_path / "till" / "posdesk.db")
        try:
            with db.session() as session:  # Bob agreed to emails at the desk
                ClientRepository(session).update_consent(BOB.id, email=True)
        finally:
            db.close()
        till = start_terminal(tmp_path / "till", comm.url)
        qtbot.waitUntil(lambda: till.ctx.connection.online, timeout=WAIT_MS)

        sell_a_shampoo_in_cash_and_refund_5(qtbot, till)

        [mail] = smtp_server.wait_for(1, timeout=30)
        assert mail.rcpt_tos == ("bob@example.com",)
        assert mail.subject == "Your refund from Test Salon: $5.00"
        body = mail.body()
        assert "Test Salon has refunded $5.00 of your payment (Cash, $19.44)" in body
        assert "handed back at the counter" in body and "refund receipt" in body

        # Without consent: no receipt reaches the server.
        with till.ctx.backend.db.session() as session:
            ClientRepository(session).update_consent(BOB.id, email=False)
        sell_a_shampoo_in_cash_and_refund_5(qtbot, till)
        qtbot.waitUntil(lambda: pending(till) == 0, timeout=WAIT_MS)  # the tender and its refund went up
        qtbot.wait(1000)
        assert len(smtp_server.messages) == 1
        till.stop()


def test_two_terminals_spending_one_gift_card_at_the_same_moment_cannot_both_take_it(
    qtbot, store: Store, online_tills, monkeypatch
) -> None:
    """Both tills see $50.00 on the card; Till 2 takes $19.44, then Till 1 (not yet told) asks for $50.00:
    the companion refuses it, Till 1's dialog says what is left and records nothing."""
    from posdesk.store.gift_cards import GiftCardRepository

    till1, till2 = online_tills("till1", "till2")
    code = sell_gift_card_for_mia(qtbot, till1)
    qtbot.waitUntil(lambda: pending(till1) == 0, timeout=WAIT_MS)  # the card is at the companion

    fifty = Money(5000, "USD")
    for_bob(qtbot, till2, "Shampoo")
    at_till2 = take_payment(qtbot, till2.window, "Gift card", "19.44")
    label = look_up_gift_card(qtbot, at_till2, code)
    qtbot.waitUntil(lambda: label.text() == f"{code}: $50.00 left (the store's records)", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: till2.ctx.backend.gift_card_balance(code) == fifty, timeout=WAIT_MS)
    for_bob(qtbot, till1, "5 haircuts")
    at_till1 = take_payment(qtbot, till1.window, "Gift card", "50")
    label = look_up_gift_card(qtbot, at_till1, code)
    qtbot.waitUntil(lambda: label.text() == f"{code}: $50.00 left (the store's records)", timeout=WAIT_MS)
    # "At the same moment": neither till hears the other's use before it records its own.
    monkeypatch.setattr(GiftCardRepository, "set_from_companion", lambda self, data: self.get(str(data["code"])))
    record(qtbot, at_till2)
    qtbot.waitUntil(lambda: till2.window.ticket_view.ticket.state is TicketState.PAID, timeout=WAIT_MS)
    assert till1.ctx.backend.gift_card_balance(code) == fifty  # Till 1 still believes $50.00

    qtbot.mouseClick(at_till1.findChild(QPushButton, "recordTenderButton"), Qt.MouseButton.LeftButton)
    error = at_till1.findChild(QLabel, "errorMessage")
    qtbot.waitUntil(lambda: error.text() != "", timeout=WAIT_MS)
    assert error.text() == "This gift card has only $30.56 left"
    assert at_till1.findChild(QPushButton, "recordTenderButton").isEnabled()  # the cashier can try another way
    assert at_till1.outcome is None and not till1.window.ticket_view.ticket.payments
    assert till1.ctx.backend.gift_card_balance(code) == fifty  # nothing taken here either
    with till1.ctx.backend.db.reading() as session:
        assert not [e for e in Outbox(session).due(limit=50) if "/uses" in str(e.payload.get("path"))]
    import httpx

    credential = till1.ctx.vault.load(store.url)
    card = httpx.get(f"{store.url}/api/v1/gift-cards/{code}", headers={"Authorization": f"Bearer {credential}"})
    assert card.json()["balance"] == 3056


def test_a_gift_card_use_whose_answer_is_lost_is_taken_once(
    qtbot, store: Store, online_tills, monkeypatch
) -> None:
    """The companion takes the use but its answer never reaches the till: the till records the tender
    on its own records and sends the same use later; the card is lowered once."""
    import httpx

    from posdesk.sync.client import BlockingCompanion, CompanionUnavailable

    [till] = online_tills("till1")
    code = sell_gift_card_for_mia(qtbot, till)
    qtbot.waitUntil(lambda: pending(till) == 0, timeout=WAIT_MS)

    post = BlockingCompanion.post

    def answer_lost(self: BlockingCompanion, path: str, payload: dict | None = None, **kw: object) -> dict:
        post(self, path, payload, **kw)  # type: ignore[arg-type]
        if path.endswith("/uses"):
            raise CompanionUnavailable("ReadTimeout")
        return {}

    monkeypatch.setattr(BlockingCompanion, "post", answer_lost)
    for_bob(qtbot, till, "Shampoo")
    dialog = take_payment(qtbot, till.window, "Gift card", "19.44")
    dialog.findChild(QLineEdit, "giftCardCodeEdit").setText(code)
    record(qtbot, dialog)
    qtbot.waitUntil(lambda: till.window.ticket_view.ticket.state is TicketState.PAID, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: pending(till) == 0, timeout=WAIT_MS)  # the outbox sent the use again
    credential = till.ctx.vault.load(store.url)
    card = httpx.get(f"{store.url}/api/v1/gift-cards/{code}", headers={"Authorization": f"Bearer {credential}"})
    assert card.json()["balance"] == 3056
