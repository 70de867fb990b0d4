"""``posdesk --companion-url URL`` on a terminal not paired yet: it says so, and pairing in Settings
puts it online at once (no restart), after which its invoices upload."""

from __future__ import annotations

from pathlib import Path

from posdesk.gui.pin import hash_pin
from posdesk.gui.qt import QLabel, QLineEdit, QPushButton
from tests.e2e.terminals import (
    PIN,
    WAIT_MS,
    Store,
    build_ticket_for_bob,
    enter_pin,
    pending_uploads,
    send_via_link,
    status_text,
    visible,
)
from tests.fakes.keyring import MemoryKeyring
from tests.gui.conftest import set_up_terminal


def test_an_unpaired_terminal_says_so_and_pairing_in_settings_puts_it_online(
    qtbot, tmp_path: Path, store: Store, memory_keyring: MemoryKeyring, start_terminal
) -> None:
    data_dir = tmp_path / "till"
    set_up_terminal(data_dir, companion_url=store.url, manager_pin_hash=hash_pin(PIN, iterations=1000))
    pos = start_terminal(data_dir, store.url)
    indicator = pos.window.findChild(QLabel, "connectionIndicator")
    assert indicator.text() == "● Not paired: pair this terminal in Manage › Settings"

    pos.window.open_settings()
    enter_pin(qtbot, pos.window)
    settings = visible(pos.window, "settingsDialog")
    assert settings.findChild(QLineEdit, "companionUrlEdit").text() == store.url
    settings.findChild(QLineEdit, "pairingCodeEdit").setText(store.pairing_code())
    settings.findChild(QPushButton, "pairButton").click()
    notice = settings.findChild(QLabel, "keyringNotice")
    qtbot.waitUntil(lambda: notice.text().startswith("Paired."), timeout=WAIT_MS)
    assert memory_keyring.passwords[("posdesk", store.url)]

    qtbot.waitUntil(lambda: indicator.text() == "● Online", timeout=WAIT_MS)
    settings.reject()
    build_ticket_for_bob(qtbot, pos)
    send_via_link(qtbot, pos)
    qtbot.waitUntil(lambda: status_text(pos) == "Invoice sent · awaiting payment", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: pending_uploads(pos) == 0, timeout=WAIT_MS)
