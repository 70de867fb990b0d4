"""Demo links a phone can open: with the manager's leave, the embedded companion answers on this
computer's network address and its links name that address; without it, on 127.0.0.1 only."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from posdesk.companion.embedded import start_embedded
from posdesk.lan import lan_address


def test_off_by_default_the_demo_companion_listens_on_this_computer_only(tmp_path: Path) -> None:
    running = start_embedded(tmp_path / "companion")
    try:
        assert running.url.startswith("http://127.0.0.1:")
        assert running._socket.getsockname()[0] == "127.0.0.1"
    finally:
        running.stop()


def test_allowed_it_answers_on_the_network_address_its_links_name(tmp_path: Path) -> None:
    host = lan_address()
    running = start_embedded(tmp_path / "companion", public_host=host)
    try:
        port = running._socket.getsockname()[1]
        assert running.url == f"http://{host}:{port}"
        assert running._socket.getsockname()[0] == "0.0.0.0"
        with socket.create_connection((host, port), timeout=5):
            pass  # what a phone on the same network does first
        answer = httpx.get(f"{running.url}/pay/no-such-link", timeout=10)
        assert answer.status_code == 404 and "no longer active" in answer.text
    finally:
        running.stop()
