"""The looks that follow a state (the Walk-in button's "active", the status pill's tone) still change on
screen now that they are restyled only when the state changes (the first frame restyles nothing)."""

from __future__ import annotations

from posdesk.core.ticket import TicketState
from posdesk.gui.qt import QLabel, QPalette, QPushButton, Qt
from posdesk.gui.ticket.header import TicketHeader
from tests.gui.conftest import Pos, set_up_terminal

UNREACHABLE = "http://127.0.0.1:9"  # a companion that does not answer: the window as configured, offline

ACTIVE_BACKGROUND = 0xFFE8EEFC  # QPushButton#walkInButton[active="true"] in the style sheet
WAITING_TEXT = "#1d3fa8"  # QLabel#ticketStatusLabel[tone="waiting"]


def background(button: QPushButton) -> int:
    return int(button.grab().toImage().pixel(6, button.height() // 2))


def test_walk_in_looks_pressed_while_it_is_the_ticket_s_client_and_not_after_a_new_ticket(
    qtbot, pos_look: None, pos: Pos
) -> None:
    button = pos.window.findChild(QPushButton, "walkInButton")
    assert button is not None
    before = background(button)
    assert before != ACTIVE_BACKGROUND
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: background(button) == ACTIVE_BACKGROUND, timeout=5_000)
    pos.window.new_ticket()
    qtbot.waitUntil(lambda: background(button) == before, timeout=5_000)


def test_the_status_pill_takes_its_tone_s_colour_when_the_tone_changes(qtbot, pos_look: None, pos: Pos) -> None:
    header = pos.view.findChild(TicketHeader)
    assert header is not None
    label = header.status_label
    assert label.property("tone") == ""
    assert label.palette().color(QPalette.ColorRole.WindowText).name() != WAITING_TEXT
    pos.view.editor.ticket.state = TicketState.AWAITING_PAYMENT  # as a sent invoice leaves it
    header.show_state(pos.view.editor, "")
    assert label.property("tone") == "waiting"
    assert label.palette().color(QPalette.ColorRole.WindowText).name() == WAITING_TEXT


def test_text_has_the_pos_s_size_and_colour_where_no_rule_of_the_sheet_says_otherwise(
    qtbot, pos_look: None, pos: Pos
) -> None:
    subtotal = pos.window.findChild(QLabel, "subtotalValue")  # no rule of its own
    balance = pos.window.findChild(QLabel, "balanceDueLabel")  # QLabel#balanceDueLabel: 22pt, #102a43
    text = QPalette.ColorRole.WindowText
    assert subtotal.font().pointSize() == 10 and subtotal.palette().color(text).name() == "#1f2933"
    assert balance.font().pointSize() == 22 and balance.palette().color(text).name() == "#102a43"
    pos.view.catalog.set_editable(False)  # a read-only ticket: the catalog's names keep their colour
    tree = pos.view.catalog.browser
    assert tree.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text).name() == "#1f2933"


def test_a_window_built_before_its_style_sheet_is_set_looks_the_same(qtbot, qapp, tmp_path) -> None:
    """``run`` sets the style sheet once the window is built, before showing it (load_text_style): the
    window shown is, pixel for pixel, the one built with the whole look already set."""
    from posdesk.gui.app import load_style, load_text_style, open_pos

    font, palette = qapp.font(), qapp.palette()

    def shown(data_dir, build):
        set_up_terminal(data_dir, companion_url=UNREACHABLE)
        pos = build(lambda: open_pos(companion_url=UNREACHABLE, data_dir=data_dir, load_later=False))
        try:
            pos.window.show()
            qtbot.waitExposed(pos.window)
            qapp.processEvents()
            return pos.window.grab().toImage()
        finally:
            pos.window.close()
            pos.stop()
            qapp.setStyleSheet("")
            qapp.setFont(font)
            qapp.setPalette(palette)

    def styled_first(make):
        load_style(qapp)
        return make()

    def style_sheet_last(make):
        load_style_sheet = load_text_style(qapp)
        pos = make()
        load_style_sheet()
        return pos

    before = shown(tmp_path / "styled-first", styled_first)
    after = shown(tmp_path / "style-sheet-last", style_sheet_last)
    assert after.size() == before.size() and after == before
