"""Demo mode keeps its companion's port across runs, so a link sent yesterday still opens today."""

from __future__ import annotations

import socket
from pathlib import Path

from posdesk.gui.demo_start import DEMO_PORT_FILE, demo_port


def test_the_demo_port_is_remembered_and_reused(tmp_path: Path) -> None:
    first = demo_port(tmp_path)
    assert (tmp_path / "companion" / DEMO_PORT_FILE).read_text() == str(first)
    assert demo_port(tmp_path) == first


def test_a_taken_port_is_replaced_and_the_new_one_remembered(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        taken = holder.getsockname()[1]
        (tmp_path / "companion").mkdir()
        (tmp_path / "companion" / DEMO_PORT_FILE).write_text(str(taken))
        port = demo_port(tmp_path)
        assert port != taken
        assert (tmp_path / "companion" / DEMO_PORT_FILE).read_text() == str(port)


def test_a_garbled_record_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "companion").mkdir()
    (tmp_path / "companion" / DEMO_PORT_FILE).write_text("not a port")
    assert 1024 <= demo_port(tmp_path) <= 65535
