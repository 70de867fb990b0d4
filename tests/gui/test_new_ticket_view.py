"""The New Ticket view as a cashier uses it: services, catalog, clients, prepaid lines, saving."""

from __future__ import annotations

from posdesk.core.catalog import ItemKind
from posdesk.core.ticket import Coverage, TicketState
from posdesk.gui.qt import QCheckBox, QDialog, QLabel, QLineEdit, QListWidget, QPushButton, Qt, QTreeWidget
from posdesk.store import AppointmentRepository, TicketRepository
from tests.gui.conftest import ADA, BOB, GRACE, TRICKY, Pos, wait_idle


def services_row(pos: Pos, text: str):
    panel = pos.window.findChild(QListWidget, "servicesPanel")
    for row in range(panel.count()):
        if text in panel.item(row).text():
            return panel, panel.item(row)
    raise AssertionError(f"{text!r} not in the Services panel")


def catalog_row(pos: Pos, name: str):
    tree = pos.window.findChild(QTreeWidget, "catalogBrowser")
    for g in range(tree.topLevelItemCount()):
        group = tree.topLevelItem(g)
        for c in range(group.childCount()):
            if group.child(c).text(0) == name:
                return tree, group.child(c)
    raise AssertionError(f"{name!r} not in the catalog")


def add_from_catalog(qtbot, pos: Pos, name: str) -> None:
    tree, row = catalog_row(pos, name)
    tree.setCurrentItem(row)
    qtbot.mouseClick(pos.window.findChild(QPushButton, "addItemButton"), Qt.MouseButton.LeftButton)


def test_clicking_an_appointment_puts_it_on_the_ticket_with_its_client(qtbot, pos: Pos) -> None:
    panel, row = services_row(pos, "Bob Plain")
    assert "Blowout" in row.text() and "11:30" in row.text() and "Ana" in row.text()
    panel.scrollToItem(row)
    qtbot.mouseClick(panel.viewport(), Qt.MouseButton.LeftButton, pos=panel.visualItemRect(row).center())

    ticket = pos.view.ticket
    assert ticket.client_id == BOB.id
    assert pos.window.findChild(QLabel, "clientChip").text() == "Bob Plain"
    [line] = ticket.lines
    assert (line.item_id, line.staff, line.appointment_id) == ("svc_blowout", "Ana", "appt_bob")
    lines_view = pos.window.findChild(QLabel, "balanceDueLabel")
    assert lines_view.text() == "$37.80"  # 35.00 + 8% tax

    qtbot.mouseClick(pos.window.findChild(QPushButton, "saveTicketButton"), Qt.MouseButton.LeftButton)
    wait_idle(qtbot, pos.ctx)
    with pos.db.reading() as session:
        stored = TicketRepository(session).get(ticket.id)
        [appointment] = [
            a
            for a in AppointmentRepository(session).for_date(
                ticket.lines[0].start.date(), ticket.lines[0].start.tzinfo
            )
            if a.id == "appt_bob"
        ]
    assert stored is not None and stored.number == 1 and stored.client_id == BOB.id
    assert appointment.ticket_id == ticket.id
    assert pos.window.findChild(QLabel, "ticketStatusLabel").text() == "Open"


def test_a_line_of_every_kind(qtbot, pos: Pos) -> None:
    pos.view.set_client(BOB)
    for name in ("Haircut", "Morning yoga", "Shampoo", "Gold membership", "5 haircuts"):
        add_from_catalog(qtbot, pos, name)
    add_from_catalog(qtbot, pos, "Gift card")
    dialog = pos.window.findChild(QDialog, "giftCardDialog")
    assert dialog is not None and dialog.isVisible()
    dialog.findChild(QLineEdit, "giftAmountEdit").setText("0")
    dialog.findChild(QPushButton, "addGiftCardButton").click()
    assert dialog.isVisible() and "above zero" in dialog.findChild(QLabel, "errorMessage").text()
    dialog.findChild(QLineEdit, "giftAmountEdit").setText("50")
    dialog.findChild(QLineEdit, "giftRecipientEdit").setText("Mia")
    dialog.findChild(QPushButton, "addGiftCardButton").click()

    lines = pos.view.ticket.lines
    assert {line.kind for line in lines} == set(ItemKind)
    gift = next(line for line in lines if line.kind is ItemKind.GIFT_CARD)
    assert gift.unit_price.plain() == "50.00" and gift.note == "For Mia"
    table = pos.view.lines_view
    assert table.rowCount() == 6
    assert "Gift card" in table.item(5, 0).text() and "For Mia" in table.item(5, 0).text()
    # 40 + 25 + 18 taxed at 8% (83 -> 6.64 tax), 99 + 180 memberships/packages untaxed here, 50 gift card
    assert pos.view.balance_due_label.text() == "$418.64"


def test_quantity_discount_and_remove_change_the_totals(qtbot, pos: Pos) -> None:
    pos.view.set_client(BOB)
    add_from_catalog(qtbot, pos, "Shampoo")
    table = pos.view.lines_view
    table.cellWidget(0, 1).setValue(3)
    assert pos.view.balance_due_label.text() == "$58.32"  # 54.00 + 4.32
    discount = table.cellWidget(0, 2)
    discount.setText("10%")
    discount.editingFinished.emit()
    assert pos.view.balance_due_label.text() == "$52.49"  # 48.60 + 3.89
    discount.setText("abc")
    discount.editingFinished.emit()
    assert discount.property("invalid") is True
    assert pos.view.balance_due_label.text() == "$52.49"
    qtbot.mouseClick(table.cellWidget(0, 4), Qt.MouseButton.LeftButton)
    assert table.rowCount() == 0
    assert pos.view.balance_due_label.text() == "$0.00"


def test_package_and_membership_cover_lines_at_zero_with_their_label(qtbot, pos: Pos) -> None:
    panel, row = services_row(pos, "Ada Lovelace")
    qtbot.mouseClick(panel.viewport(), Qt.MouseButton.LeftButton, pos=panel.visualItemRect(row).center())
    [line] = pos.view.ticket.lines
    assert line.prepaid is Coverage.PACKAGE
    amount = pos.view.lines_view.item(0, 3).text()
    assert amount.splitlines() == ["$0.00", "In package"]
    assert "In package" in pos.view.lines_view.item(0, 0).text()
    assert pos.view.balance_due_label.text() == "$0.00"
    assert pos.view.total_values["prepaid"].text() == "−$40.00"

    # Ada holds two sessions: a third haircut is paid.
    add_from_catalog(qtbot, pos, "Haircut")
    add_from_catalog(qtbot, pos, "Haircut")
    assert [line.prepaid for line in pos.view.ticket.lines] == [Coverage.PACKAGE, Coverage.PACKAGE, None]
    assert pos.view.balance_due_label.text() == "$43.20"

    pos.view.new_ticket()
    pos.view.set_client(GRACE)
    add_from_catalog(qtbot, pos, "Blowout")
    assert pos.view.lines_view.item(0, 3).text().splitlines() == ["$0.00", "In membership"]
    pos.view.set_walk_in()  # coverage belongs to the client: a walk-in pays
    assert pos.view.ticket.lines[0].prepaid is None
    assert pos.view.balance_due_label.text() == "$37.80"


def test_client_search_as_you_type_and_names_shown_as_plain_text(qtbot, pos: Pos) -> None:
    search = pos.window.findChild(QLineEdit, "clientSearchEdit")
    qtbot.keyClicks(search, "<b>")
    results = pos.window.findChild(QListWidget, "clientResultsList")
    assert results.isVisible() and results.count() == 1
    assert results.item(0).text().startswith("<b>x</b> Tags")
    qtbot.keyClick(search, Qt.Key.Key_Return)
    chip = pos.window.findChild(QLabel, "clientChip")
    assert chip.textFormat() == Qt.TextFormat.PlainText
    assert chip.text() == "<b>x</b> Tags"
    assert pos.view.ticket.client_id == TRICKY.id

    pos.view.new_ticket()
    qtbot.keyClicks(search, "+1 555 010 000")  # the start of a phone number
    assert results.count() >= 2
    qtbot.keyClicks(search, "1")
    assert results.count() == 1 and "Ada Lovelace" in results.item(0).text()


def test_create_a_client_with_validation_and_consent(qtbot, pos: Pos) -> None:
    qtbot.keyClicks(pos.window.findChild(QLineEdit, "clientSearchEdit"), "Nina Simone")
    pos.window.findChild(QPushButton, "newClientButton").click()
    form = pos.window.findChild(QDialog, "clientFormDialog")
    assert form.findChild(QLineEdit, "firstNameEdit").text() == "Nina"
    assert form.findChild(QLineEdit, "lastNameEdit").text() == "Simone"
    form.findChild(QLineEdit, "emailEdit").setText("nina@")
    form.findChild(QPushButton, "saveClientButton").click()
    assert form.findChild(QLabel, "errorMessage").text() == "Email address is not valid"
    assert form.findChild(QLineEdit, "emailEdit").property("invalid") is True
    form.findChild(QLineEdit, "emailEdit").setText("nina@example.com")
    form.findChild(QCheckBox, "smsConsentCheckBox").setChecked(True)
    form.findChild(QPushButton, "saveClientButton").click()
    assert form.findChild(QLabel, "errorMessage").text() == "SMS consent needs a phone number"
    form.findChild(QLineEdit, "phoneEdit").setText("+1 555 010 0099")
    form.findChild(QPushButton, "saveClientButton").click()
    wait_idle(qtbot, pos.ctx)
    assert pos.view.client is not None and pos.view.client.display_name == "Nina Simone"
    assert pos.view.client.can_receive_sms
    assert [c.id for c in pos.ctx.backend.search_clients("nina")] == [pos.view.client.id]


def test_tickets_list_finds_saved_tickets_and_reopens_them(qtbot, pos: Pos) -> None:
    pos.view.set_client(ADA)
    add_from_catalog(qtbot, pos, "Shampoo")
    pos.view.save()
    wait_idle(qtbot, pos.ctx)
    first = pos.view.ticket.id
    pos.window.new_ticket()
    pos.view.set_walk_in()
    add_from_catalog(qtbot, pos, "Morning yoga")
    pos.view.save()
    wait_idle(qtbot, pos.ctx)

    panel = pos.window.tickets_panel
    pos.window.tabs.setCurrentWidget(panel)
    table = panel.table
    assert table.objectName() == "ticketsList" and table.rowCount() == 2
    panel.search.setText("ada")
    assert table.rowCount() == 1 and table.item(0, 1).text() == "Ada Lovelace"
    panel.search.setText("2")
    assert table.rowCount() == 1 and table.item(0, 1).text() == "Walk-in"
    panel.search.setText("")
    panel.state_filter.setCurrentIndex(3)  # Closed
    assert table.rowCount() == 0
    panel.state_filter.setCurrentIndex(1)  # Open
    assert table.rowCount() == 2
    panel.search.setText("Ada L")
    panel.table.itemDoubleClicked.emit(table.item(0, 0))
    assert pos.view.ticket.id == first and pos.window.tabs.currentWidget() is pos.view
    assert pos.view.ticket.state is TicketState.OPEN and pos.view.client == ADA
