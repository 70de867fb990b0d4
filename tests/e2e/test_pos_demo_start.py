"""Demo mode starts with the window: the embedded companion comes up behind it, and the cashier can
build and send an invoice meanwhile (its link already points at the companion being started)."""

from __future__ import annotations

from pathlib import Path

from posdesk.core.catalog import ItemKind
from posdesk.gui.app import DEMO_BANNER, STARTING_DEMO, open_pos
from posdesk.gui.qt import QLabel
from tests.e2e.terminals import WAIT_MS, send_via_link, status_text


def test_the_window_comes_first_and_a_link_sent_while_the_companion_starts_is_uploaded(
    qtbot, tmp_path: Path
) -> None:
    pos = open_pos(demo=True, data_dir=tmp_path / "demo")
    qtbot.addWidget(pos.window)
    try:
        pos.window.show()
        pos.connect_after_show()
        banner = pos.window.findChild(QLabel, "demoBanner")
        assert banner.isVisible() and banner.text() == DEMO_BANNER
        assert pos.window.statusBar().currentMessage() == STARTING_DEMO
        assert pos.companion is None and not pos.ctx.connection.online

        view = pos.window.ticket_view  # the sample data is there at once
        [client] = pos.ctx.backend.search_clients("Marcus Reed")
        view.set_client(client)
        view.add_item(next(i for i in pos.ctx.backend.catalog() if i.kind is ItemKind.PRODUCT))
        link, _dialog = send_via_link(qtbot, pos)
        address = pos.ctx.connection.url
        assert link.startswith(address + "/pay/")

        qtbot.waitUntil(lambda: pos.ctx.connection.online, timeout=WAIT_MS)
        assert pos.companion is not None and pos.companion.url == address
        assert pos.window.statusBar().currentMessage() == ""
        qtbot.waitUntil(lambda: status_text(pos) == "Invoice sent · awaiting payment", timeout=WAIT_MS)
    finally:
        pos.stop()
