"""Started the way ``posdesk`` starts (window first, connecting on a thread after show), the POS is
usable at once, from the local cache, and then connects as before.

``run`` shows the window before SQLAlchemy, keyring and the sync client are loaded (they load on the
start-up thread): the cashier can search clients, build a ticket, save and send meanwhile.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from posdesk.gui.app import PosApp, open_pos
from posdesk.gui.qt import QLabel, QPushButton, Qt, QTreeWidget
from posdesk.sync import pair
from tests.e2e.terminals import (  # noqa: F401 - fixtures among them
    WAIT_MS,
    Store,
    build_ticket_for_bob,
    pending_uploads,
    prepare_terminal,
    send_via_link,
    status_text,
    store,
)
from tests.fakes.keyring import MemoryKeyring
from tests.gui.conftest import set_up_terminal

UNREACHABLE = "http://127.0.0.1:9"


def start_like_run(qtbot, data_dir: Path, url: str) -> PosApp:
    """What ``posdesk.gui.app.run`` does before its event loop: data read after show, connect after."""
    pos = open_pos(companion_url=url, data_dir=data_dir, load_later=True)
    qtbot.addWidget(pos.window)
    pos.window.show()
    pos.connect_after_show()
    qtbot.waitUntil(lambda: pos.window.ticket_view.loaded, timeout=WAIT_MS)
    return pos


def test_a_paired_terminal_is_usable_at_once_then_goes_online_and_uploads(
    qtbot,
    tmp_path: Path,
    store: Store,  # noqa: F811
    memory_keyring: MemoryKeyring,
) -> None:
    credential = pair(store.url, store.pairing_code(), "Front desk").credential
    prepare_terminal(tmp_path / "till", store.url, credential)
    pos = start_like_run(qtbot, tmp_path / "till", store.url)
    try:
        build_ticket_for_bob(qtbot, pos)  # client search and catalog, from the cache
        link, _dialog = send_via_link(qtbot, pos)
        assert link.startswith(store.url + "/pay/")
        qtbot.waitUntil(lambda: pos.ctx.connection.online, timeout=WAIT_MS)
        assert pos.window.findChild(QLabel, "connectionIndicator").text() == "● Online"
        qtbot.waitUntil(lambda: status_text(pos) == "Invoice sent · awaiting payment", timeout=WAIT_MS)
        qtbot.waitUntil(lambda: pending_uploads(pos) == 0, timeout=WAIT_MS)
    finally:
        pos.stop()


@pytest.mark.usefixtures("memory_keyring")
def test_an_unpaired_terminal_saves_at_once_and_then_says_it_is_not_paired(qtbot, tmp_path: Path) -> None:
    data_dir = tmp_path / "till"
    set_up_terminal(data_dir, companion_url=UNREACHABLE)
    pos = start_like_run(qtbot, data_dir, UNREACHABLE)
    try:
        view = pos.window.ticket_view
        catalog = pos.window.findChild(QTreeWidget, "catalogBrowser")
        assert catalog is not None  # the cache's catalog, shown at once
        assert sum(catalog.topLevelItem(g).childCount() for g in range(catalog.topLevelItemCount())) > 0
        build_ticket_for_bob(qtbot, pos)
        with qtbot.waitSignal(view.ticket_saved, timeout=WAIT_MS):
            qtbot.mouseClick(pos.window.findChild(QPushButton, "saveTicketButton"), Qt.MouseButton.LeftButton)
        assert view.saved_revision is not None and not view.dirty
        indicator = pos.window.findChild(QLabel, "connectionIndicator")
        qtbot.waitUntil(
            lambda: indicator.text() == "● Not paired: pair this terminal in Manage › Settings",
            timeout=WAIT_MS,
        )
    finally:
        pos.stop()
