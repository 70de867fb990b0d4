"""Every request the POS sends its companion says which build sent it: ``User-Agent: posdesk/<version>``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import ClassVar

import pytest

from posdesk import __version__
from posdesk.sync.client import CompanionClient, pair
from tests.fakes.serve import QuietHandler, serve_handler


class Recorder(QuietHandler):
    seen: ClassVar[list[str]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        Recorder.seen.append(self.headers.get("User-Agent", ""))
        body = json.dumps({"store_id": "s", "terminal_id": "t", "credential": "c"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer


@pytest.fixture
def companion_url() -> Iterator[str]:
    Recorder.seen = []
    with serve_handler(Recorder) as port:
        yield f"http://127.0.0.1:{port}"


def test_pairing_and_api_calls_name_the_pos_version(companion_url: str) -> None:
    pair(companion_url, "123456", "Front desk")

    async def calls() -> None:
        client = CompanionClient(companion_url, "credential")
        try:
            await client.get("/store/settings")
            await client.post("/messages", {"body": "hi"})
            await client.put_invoice("inv-1", {"invoice_id": "inv-1"})
        finally:
            await client.aclose()

    asyncio.run(calls())
    assert Recorder.seen == [f"posdesk/{__version__}"] * 4
