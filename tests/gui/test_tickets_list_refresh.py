"""The Tickets list is read when the cashier looks at it, not on every change while it is hidden.

Reading and pricing a page of tickets on the UI thread for every payment the companion reported
delayed showing the open ticket closed (docs/performance.md, pay_to_close).
"""

from __future__ import annotations

import pytest

from tests.gui.conftest import ADA, Pos, wait_idle
from tests.gui.test_new_ticket_view import add_from_catalog


@pytest.fixture
def reads(pos: Pos, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every read of the Tickets list, by search text."""
    seen: list[str] = []
    original = pos.ctx.backend.list_tickets

    def counting(search: str = "", *args, **kwargs):
        seen.append(search)
        return original(search, *args, **kwargs)

    monkeypatch.setattr(pos.ctx.backend, "list_tickets", counting)
    return seen


def test_changes_while_the_list_is_hidden_are_shown_when_its_tab_opens(
    qtbot, pos: Pos, reads: list[str]
) -> None:
    pos.view.set_client(ADA)
    add_from_catalog(qtbot, pos, "Shampoo")
    pos.view.save()
    wait_idle(qtbot, pos.ctx)
    for _ in range(3):  # payments and other terminals' tickets reported by the companion
        pos.ctx.tickets_changed.emit({pos.view.ticket.id})
    assert reads == []

    panel = pos.window.tickets_panel
    pos.window.tabs.setCurrentWidget(panel)
    assert len(reads) == 1
    assert panel.table.rowCount() == 1 and panel.table.item(0, 1).text() == "Ada Lovelace"


def test_a_shown_list_follows_changes_at_once(qtbot, pos: Pos, reads: list[str]) -> None:
    pos.view.set_client(ADA)
    add_from_catalog(qtbot, pos, "Shampoo")
    pos.view.save()
    wait_idle(qtbot, pos.ctx)
    panel = pos.window.tickets_panel
    pos.window.tabs.setCurrentWidget(panel)
    assert len(reads) == 1 and panel.table.item(0, 2).text() == "Open"

    pos.ctx.tickets_changed.emit({pos.view.ticket.id})  # e.g. the companion reports a payment
    assert len(reads) == 2
