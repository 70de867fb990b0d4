"""Settings behind the manager PIN; the terminal credential and a missing keyring."""

from __future__ import annotations

from decimal import Decimal

import pytest
from keyring.backends import fail

from posdesk.gui.credentials import CredentialVault, NoKeyringAvailable
from posdesk.gui.pin import ITERATIONS, hash_pin, verify_pin
from posdesk.gui.qt import QCheckBox, QDialog, QLabel, QLineEdit, QPushButton, QWidget
from posdesk.gui.settings_dialog import NO_KEYRING, SettingsDialog, mask_secret
from posdesk.store import SettingsRepository
from tests.fakes.keyring import MemoryKeyring
from tests.gui.conftest import Pos, wait_idle
from tests.gui.test_new_ticket_view import add_from_catalog


def visible(pos: Pos, name: str) -> QDialog:
    [dialog] = [d for d in pos.window.findChildren(QDialog, name) if d.isVisible()]
    return dialog


def enter_pin(pos: Pos, pin: str, confirm: str | None = None) -> QDialog:
    gate = visible(pos, "managerPinDialog")
    gate.findChild(QLineEdit, "pinEdit").setText(pin)
    if confirm is not None:
        gate.findChild(QLineEdit, "pinConfirmEdit").setText(confirm)
    gate.findChild(QPushButton, "pinOkButton").click()
    return gate


def test_the_pin_is_set_on_first_use_then_guards_the_settings(qtbot, make_pos) -> None:
    pos = make_pos(feature=False)
    pos.window.open_settings()
    gate = enter_pin(pos, "12", "12")
    assert gate.findChild(QLabel, "errorMessage").text() == "The PIN needs at least 4 digits"
    gate = enter_pin(pos, "4821", "4812")
    assert gate.findChild(QLabel, "errorMessage").text() == "The two PINs differ"
    enter_pin(pos, "4821", "4821")
    settings = visible(pos, "settingsDialog")
    settings.reject()
    stored = pos.ctx.backend.settings().manager_pin_hash
    assert stored.startswith("pbkdf2_sha256$") and "4821" not in stored

    pos.window.open_settings()
    gate = enter_pin(pos, "0000")
    assert gate.isVisible() and gate.findChild(QLabel, "errorMessage").text() == "Wrong PIN"
    assert not [d for d in pos.window.findChildren(QDialog, "settingsDialog") if d.isVisible()]
    assert gate.findChild(QLineEdit, "pinConfirmEdit").isHidden()
    enter_pin(pos, "4821")
    assert visible(pos, "settingsDialog")


def test_enabling_the_payment_link_makes_send_invoice_appear(qtbot, make_pos) -> None:
    pos = make_pos(feature=False, manager_pin_hash=hash_pin("4821", iterations=1000))
    pos.view.set_walk_in()
    add_from_catalog(qtbot, pos, "Shampoo")
    assert pos.window.findChild(QPushButton, "sendInvoiceButton") is None
    pos.window.open_settings()
    enter_pin(pos, "4821")
    dialog = visible(pos, "settingsDialog")
    box = dialog.findChild(QCheckBox, "enableOnlinePaymentLinkCheckBox")
    assert box.text() == "Enable POS Ticket Online Payment Link" and not box.isChecked()
    box.setChecked(True)
    dialog.findChild(QLineEdit, "tipPreset1Edit").setText("12%")
    dialog.findChild(QLineEdit, "tipPreset2Edit").setText("5.00")
    dialog.findChild(QLineEdit, "surchargeEdit").setText("3")
    dialog.findChild(QLineEdit, "businessNameEdit").setText("Studio <Nine>")
    dialog.findChild(QPushButton, "saveSettingsButton").click()
    wait_idle(qtbot, pos.ctx)
    assert not dialog.isVisible()
    saved = pos.ctx.backend.settings()
    assert saved.online_payment_link_enabled and saved.business_name == "Studio <Nine>"
    assert [p.label() for p in saved.tip_policy.presets][:2] == ["12%", "$5.00"]
    button = pos.window.findChild(QPushButton, "sendInvoiceButton")
    assert button is not None
    qtbot.waitUntil(button.isVisible)
    assert button.toolTip() == "Add a client to send an invoice"  # still a walk-in
    # The card surcharge is charged per card tender (docs/pricing.md): saved as 3%, and not on the ticket's
    # totals until a card payment carries it (a client paying cash owes none).
    assert saved.surcharge_rate == Decimal("0.03")
    assert not pos.view.total_values["surcharge"].isVisible()


def test_bad_settings_are_refused_with_a_message(qtbot, make_pos) -> None:
    pos = make_pos(manager_pin_hash=hash_pin("4821", iterations=1000))
    dialog = SettingsDialog(pos.ctx, pos.window)
    dialog.findChild(QLineEdit, "surchargeEdit").setText("abc")
    dialog.findChild(QPushButton, "saveSettingsButton").click()
    assert dialog.findChild(QLabel, "errorMessage").text() == "The surcharge is a percent such as 3"
    dialog.findChild(QLineEdit, "surchargeEdit").setText("0")
    dialog.findChild(QLineEdit, "tipPreset3Edit").setText("lots")
    dialog.findChild(QPushButton, "saveSettingsButton").click()
    assert "is not a tip such as 18% or 5.00" in dialog.findChild(QLabel, "errorMessage").text()


def test_gateway_secrets_are_masked_never_stored(qtbot, make_pos) -> None:
    pos = make_pos()
    dialog = SettingsDialog(pos.ctx, pos.window)
    secret = dialog.findChild(QLineEdit, "stripe_secret_keyEdit")
    assert secret.echoMode() == QLineEdit.EchoMode.Password
    assert mask_secret("sk_live_51abcdefgh1234") == "sk_live_…1234"
    with pos.db.reading() as session:
        assert SettingsRepository(session).get("gateway") is None


def test_without_a_keyring_the_dialog_says_so_and_keeps_the_credential_for_this_session(
    qtbot, make_pos, use_keyring
) -> None:
    use_keyring(fail.Keyring())
    vault = CredentialVault()
    with pytest.raises(NoKeyringAvailable):
        vault.save("http://companion", "cred-123")
    vault.keep_for_session("http://companion", "cred-123")
    assert vault.load("http://companion") == "cred-123" and vault.is_session_only("http://companion")

    pos = make_pos()
    dialog = SettingsDialog(pos.ctx, pos.window)
    dialog.show()
    assert dialog.findChild(QLabel, "offlineNotice").text() == NO_KEYRING

    class Paired:
        store_id, terminal_id, credential = "s1", "t1", "cred-456"

    dialog._on_paired(Paired())
    keep = dialog.findChild(QPushButton, "keepForSessionButton")
    assert keep.isVisible()
    keep.click()
    assert pos.ctx.vault.load(pos.ctx.connection.url) == "cred-456"
    assert "session only" in dialog.findChild(QLabel, "offlineNotice").text()


def test_with_a_keyring_the_credential_goes_there(qtbot, make_pos, use_keyring) -> None:
    backend = use_keyring(MemoryKeyring())
    pos = make_pos()
    dialog = SettingsDialog(pos.ctx, pos.window)

    class Paired:
        store_id, terminal_id, credential = "s1", "t1", "cred-789"

    dialog._on_paired(Paired())
    assert backend.passwords == {("posdesk", pos.ctx.connection.url): "cred-789"}
    assert not dialog.findChild(QPushButton, "keepForSessionButton").isVisibleTo(dialog)


def test_pin_hashes_are_salted_slow_and_checked() -> None:
    first, second = hash_pin("4821"), hash_pin("4821")
    assert first != second  # salted
    assert int(first.split("$")[1]) >= 200_000 == 200_000 <= ITERATIONS
    assert verify_pin("4821", first) and not verify_pin("4822", first)
    assert not verify_pin("4821", "garbage") and not verify_pin("4821", "")


def test_every_control_named_in_the_spec_has_an_accessible_name(qtbot, pos: Pos) -> None:
    add_from_catalog(qtbot, pos, "Shampoo")
    names = [
        "newTicketView",
        "clientSearchEdit",
        "walkInButton",
        "servicesPanel",
        "catalogBrowser",
        "ticketLinesView",
        "balanceDueLabel",
        "ticketStatusLabel",
        "saveTicketButton",
        "sendInvoiceButton",
        "ticketsList",
    ]
    pos.window.tabs.setCurrentWidget(pos.window.tickets_panel)  # the list is made when its tab is first shown
    for name in names:
        widget = pos.window.findChild(QWidget, name)
        assert widget is not None, name
        assert widget.accessibleName(), name
