"""The Settings dialog sends the store's settings to the companion and shows the ones it adopts."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from posdesk.gui.pin import hash_pin
from posdesk.gui.qt import QCheckBox, QLabel, QLineEdit, QPushButton
from posdesk.gui.settings_dialog import SettingsDialog
from posdesk.store import Outbox, SettingsRepository
from posdesk.sync.settings_reconciliation import OUTBOX_KIND
from tests.gui.conftest import wait_idle


def queued_pushes(db) -> list[dict]:
    with db.reading() as session:
        return [e.payload for e in Outbox(session).due(limit=50) if e.kind == OUTBOX_KIND]


def save_settings(pos, **fields: str) -> SettingsDialog:
    """The manager opens Settings, types each field (object name: text) and clicks Save; the dialog."""
    dialog = SettingsDialog(pos.ctx, pos.window)
    dialog.show()
    for object_name, text in fields.items():
        dialog.findChild(QLineEdit, object_name).setText(text)
    dialog.findChild(QPushButton, "saveSettingsButton").click()
    return dialog


def test_saving_queues_the_store_settings_for_the_companion_once(qtbot, make_pos) -> None:
    pos = make_pos(manager_pin_hash=hash_pin("4821", iterations=1000))
    woken: list[bool] = []
    pos.ctx.wake_sync = lambda: woken.append(True)
    dialog = save_settings(pos, surchargeEdit="3", tipPreset1Edit="10%", businessNameEdit="Rosa's Salon")
    wait_idle(qtbot, pos.ctx)
    assert not dialog.isVisible() and woken == [True]
    [push] = queued_pushes(pos.db)
    assert push["settings"]["surcharge_rate"] == "0.03"
    assert push["settings"]["business_name"] == "Rosa's Salon"
    assert push["settings"]["tip_presets"][0] == {"percent": "0.1"}

    # Saving the same settings again sends nothing new.
    save_settings(pos)
    wait_idle(qtbot, pos.ctx)
    assert len(queued_pushes(pos.db)) == 1


def test_page_languages_are_a_checklist_of_the_pages_languages(qtbot, make_pos) -> None:
    pos = make_pos()
    dialog = SettingsDialog(pos.ctx, pos.window)
    boxes = {code: dialog.findChild(QCheckBox, f"language_{code}CheckBox") for code in ("en", "es", "fr")}
    assert all(box is not None for box in boxes.values())  # only languages the page speaks can be chosen
    for box in boxes.values():
        box.setChecked(False)
    dialog.findChild(QPushButton, "saveSettingsButton").click()
    assert dialog.findChild(QLabel, "errorMessage").text() == "Choose at least one language for the payment page"
    assert queued_pushes(pos.db) == []
    boxes["es"].setChecked(True)
    boxes["fr"].setChecked(True)
    dialog.findChild(QPushButton, "saveSettingsButton").click()
    wait_idle(qtbot, pos.ctx)
    [push] = queued_pushes(pos.db)
    assert push["settings"]["languages"] == ["es", "fr"]


def test_settings_adopted_from_the_companion_fill_the_open_form(qtbot, make_pos) -> None:
    pos = make_pos()
    dialog = SettingsDialog(pos.ctx, pos.window)
    dialog.show()
    with pos.db.session() as session:
        repo = SettingsRepository(session)
        repo.save_terminal(replace(repo.terminal(), surcharge_rate=Decimal("0.04"), business_name="Rosa's"))
    pos.ctx.reload_settings()  # what the sync bridge does when the terminal adopts the store's settings
    assert dialog.findChild(QLineEdit, "surchargeEdit").text() == "4"
    assert dialog.findChild(QLineEdit, "businessNameEdit").text() == "Rosa's"


def test_the_store_brand_and_contact_details_go_to_the_companion(qtbot, make_pos, tmp_path) -> None:
    from tests.e2e.test_payment_page_states import tiny_png

    pos = make_pos()
    dialog = save_settings(
        pos, businessPhoneEdit="+1 212 555 0142", businessEmailEdit="hello@rosa.example", brandColorEdit="green"
    )
    assert dialog.findChild(QLabel, "errorMessage").text() == "The brand colour is written like #1a7f5a"
    dialog.findChild(QLineEdit, "brandColorEdit").setText("#2BB673")
    not_an_image = tmp_path / "logo.png"
    not_an_image.write_text("<svg onload=alert(1)>")
    dialog.set_logo_file(str(not_an_image))
    assert dialog.findChild(QLabel, "errorMessage").text() == "The logo must be a PNG, JPEG or WebP image"
    logo = tmp_path / "real.png"
    logo.write_bytes(tiny_png())
    dialog.set_logo_file(str(logo))
    assert dialog.findChild(QLabel, "logoStatusLabel").text().startswith("Logo set")
    dialog.findChild(QPushButton, "saveSettingsButton").click()
    wait_idle(qtbot, pos.ctx)
    [push] = queued_pushes(pos.db)
    sent = push["settings"]
    assert (sent["phone"], sent["email"], sent["brand_color"]) == ("+1 212 555 0142", "hello@rosa.example", "#2bb673")
    assert sent["logo"].startswith("data:image/png;base64,")


def test_demo_links_on_the_network_are_off_by_default_and_said_plainly(qtbot, make_pos) -> None:
    from posdesk.gui.demo_start import demo_host
    from posdesk.lan import lan_address

    pos = make_pos()
    dialog = SettingsDialog(pos.ctx, pos.window)
    box = dialog.findChild(QCheckBox, "demoLinksOnLanCheckBox")
    hint = dialog.findChild(QLabel, "demoLinksOnLanHint").text()
    assert not box.isChecked() and demo_host(pos.ctx.settings) == "127.0.0.1"
    assert "Demo mode only" in hint and "anyone on the same network" in hint
    box.setChecked(True)
    dialog.findChild(QPushButton, "saveSettingsButton").click()
    wait_idle(qtbot, pos.ctx)
    assert pos.ctx.settings.demo_links_on_lan
    assert demo_host(pos.ctx.settings) == lan_address()
    [push] = queued_pushes(pos.db)
    assert "demo_links_on_lan" not in push["settings"]  # the terminal's own choice, not the store's
