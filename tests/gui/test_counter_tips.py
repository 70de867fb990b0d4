"""A tip taken at the counter: entered in the tender dialog apart from the amount, refused like the pay
page refuses one (negative, above the store's cap), listed apart on the ticket, sent with the tender to
the companion, and shared among the ticket's providers in the day summary like an online tip."""

from __future__ import annotations

from posdesk.core.money import Money
from posdesk.gui.qt import QLabel, QLineEdit, QPushButton
from posdesk.store import Outbox
from tests.gui.conftest import BOB, Pos
from tests.gui.test_new_ticket_view import add_from_catalog
from tests.gui.test_take_payment import gift_card_gc100_holds, label, payments_rows, record, take_payment


def haircut_and_blowout(qtbot, pos: Pos) -> None:
    """Bob's haircut by Sam ($40) and blowout by Ana ($35): $81.00 with tax."""
    pos.view.set_client(BOB)
    add_from_catalog(qtbot, pos, "Haircut")
    add_from_catalog(qtbot, pos, "Blowout")


def tenders_queued(pos: Pos) -> list[dict]:
    with pos.db.reading() as session:
        return [
            e.payload["body"] for e in Outbox(session).due(limit=50) if e.payload.get("path") == "/tenders"
        ]


def test_a_card_tip_at_the_counter_is_listed_apart_sent_with_the_tender_and_split_among_providers(
    qtbot, pos: Pos
) -> None:
    haircut_and_blowout(qtbot, pos)
    dialog = take_payment(qtbot, pos, "Card on the counter terminal", "81.00", tenderTipEdit="10.00")
    tip_edit = dialog.findChild(QLineEdit, "tenderTipEdit")
    assert tip_edit.isVisible() and tip_edit.accessibleName() == "Tip"
    assert dialog.findChild(QLabel, "tenderSurchargeLabel").text().endswith("Charge on the terminal: $91.00")
    record(qtbot, pos, dialog)
    assert not dialog.isVisible()
    [row] = payments_rows(pos)
    assert row[1:3] == ["$81.00", "$10.00"]  # the amount, then the tip apart
    assert label(pos, "tipsValue") == "$10.00" and label(pos, "balanceDueLabel") == "$0.00"
    [sent] = tenders_queued(pos)
    assert (sent["method"], sent["amount"], sent["tip"]) == ("card", 8100, 1000)
    ctx = pos.ctx
    summary = ctx.backend.day_summary(ctx.today(), ctx.timezone, ctx.settings)
    assert summary.tips.minor == 1000
    # In proportion to $40 and $35, the odd cent to the largest remainder (as an online tip).
    assert {k: v.minor for k, v in summary.tips_by_provider.items()} == {"Sam": 533, "Ana": 467}
    assert pos.window.findChild(QPushButton, "splitTipButton").isVisible()  # the manager's editor applies


def test_a_cash_tip_comes_out_of_what_was_handed_over(qtbot, pos: Pos) -> None:
    haircut_and_blowout(qtbot, pos)
    dialog = take_payment(qtbot, pos, "Cash", "100", tenderTipEdit="5")
    assert (
        dialog.findChild(QLabel, "changeDueLabel").text() == "Toward the balance: $81.00 · Change due: $14.00"
    )
    record(qtbot, pos, dialog)
    assert payments_rows(pos)[0][:3] == ["Cash", "$81.00", "$5.00"]
    assert tenders_queued(pos)[0]["tip"] == 500


def test_a_negative_tip_or_one_above_the_store_cap_is_refused(qtbot, pos: Pos) -> None:
    haircut_and_blowout(qtbot, pos)
    dialog = take_payment(qtbot, pos, "Card on the counter terminal", "81.00", tenderTipEdit="-1")
    error = dialog.findChild(QLabel, "errorMessage")
    dialog.findChild(QPushButton, "recordTenderButton").click()
    assert error.text() == "A tip cannot be negative"
    dialog.findChild(QLineEdit, "tenderTipEdit").setText("75.01")  # the cap: 100% of the $75 services
    dialog.findChild(QPushButton, "recordTenderButton").click()
    assert error.text() == "A tip can be at most $75.00"
    assert dialog.isVisible() and not pos.view.ticket.payments and not tenders_queued(pos)
    dialog.findChild(QLineEdit, "tenderTipEdit").setText("75")
    record(qtbot, pos, dialog)
    assert payments_rows(pos)[0][2] == "$75.00"


def test_a_gift_card_pays_the_tip_too_within_its_balance(qtbot, pos: Pos) -> None:
    gift_card_gc100_holds(pos, 5000)
    pos.view.set_client(BOB)
    add_from_catalog(qtbot, pos, "Haircut")  # 43.20
    dialog = take_payment(qtbot, pos, "Gift card", "43.20", giftCardCodeEdit="GC-100", tenderTipEdit="7")
    dialog.findChild(QPushButton, "recordTenderButton").click()
    assert dialog.findChild(QLabel, "errorMessage").text() == "This gift card has $50.00 left"
    dialog.findChild(QLineEdit, "tenderTipEdit").setText("6")
    record(qtbot, pos, dialog)
    assert payments_rows(pos)[0][1:3] == ["$43.20", "$6.00"]
    assert pos.ctx.backend.gift_card_balance("GC-100") == Money(80, "USD")
