"""The Settings dialog sends the store's settings to the companion and shows the ones it adopts."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from posdesk.gui.pin import hash_pin
from posdesk.gui.qt import QLabel, QLineEdit, QPushButton
from posdesk.gui.settings_dialog import SettingsDialog
from posdesk.store import Outbox, SettingsRepository
from posdesk.sync.store_settings import OUTBOX_KIND
from tests.gui.conftest import wait_idle


def queued_pushes(db) -> list[dict]:
    with db.reading() as session:
        return [e.payload for e in Outbox(session).due(limit=50) if e.kind == OUTBOX_KIND]


def test_saving_queues_the_store_settings_for_the_companion_once(qtbot, make_pos) -> None:
    pos = make_pos(manager_pin_hash=hash_pin("4821", iterations=1000))
    woken: list[bool] = []
    pos.ctx.wake_sync = lambda: woken.append(True)
    dialog = SettingsDialog(pos.ctx, pos.window)
    dialog.show()
    dialog.findChild(QLineEdit, "surchargeEdit").setText("3")
    dialog.findChild(QLineEdit, "tipPreset1Edit").setText("10%")
    dialog.findChild(QLineEdit, "businessNameEdit").setText("Rosa's Salon")
    dialog.findChild(QPushButton, "saveSettingsButton").click()
    wait_idle(qtbot, pos.ctx)
    assert not dialog.isVisible() and woken == [True]
    [push] = queued_pushes(pos.db)
    assert push["settings"]["surcharge_rate"] == "0.03"
    assert push["settings"]["business_name"] == "Rosa's Salon"
    assert push["settings"]["tip_presets"][0] == {"percent": "0.1"}

    # Saving the same settings again sends nothing new.
    again = SettingsDialog(pos.ctx, pos.window)
    again.show()
    again.findChild(QPushButton, "saveSettingsButton").click()
    wait_idle(qtbot, pos.ctx)
    assert len(queued_pushes(pos.db)) == 1


def test_a_language_the_payment_page_lacks_is_refused_in_place(qtbot, make_pos) -> None:
    pos = make_pos()
    dialog = SettingsDialog(pos.ctx, pos.window)
    dialog.findChild(QLineEdit, "languagesEdit").setText("en, de")
    dialog.findChild(QPushButton, "saveSettingsButton").click()
    assert dialog.findChild(QLabel, "errorMessage").text() == "The payment page speaks en, es, fr; not de"
    assert queued_pushes(pos.db) == []


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
