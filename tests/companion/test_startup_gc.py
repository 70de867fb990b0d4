"""A companion that is its own process freezes its start-up objects out of the garbage collector's full
passes (``posdesk.companion.startup_gc``); one embedded in a larger process (the POS's demo companion,
the tests' servers) leaves that process's objects alone."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.companion.conftest import Companion

ROOT = Path(__file__).resolve().parents[2]

STARTS_ON_MAIN_THREAD = textwrap.dedent(
    """
    import asyncio, gc, sys
    from posdesk.companion.app import create_app
    from posdesk.companion.config import CompanionConfig

    app = create_app(CompanionConfig.for_demo("sqlite+pysqlite:///" + sys.argv[1], "http://127.0.0.1:9"))

    async def start_and_stop():
        sent = []
        messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

        async def receive():
            return next(messages)

        async def send(message):
            sent.append(message["type"])

        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
        return sent

    before = gc.get_freeze_count()
    sent = asyncio.run(start_and_stop())
    print(before, gc.get_freeze_count(), ",".join(sent))
    """
)


def test_a_companion_process_freezes_what_start_up_built(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", STARTS_ON_MAIN_THREAD, str(tmp_path / "companion.db")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    before, after, sent = done.stdout.split()
    assert int(before) == 0 and int(after) > 10_000
    assert sent == "lifespan.startup.complete,lifespan.shutdown.complete"  # start-up itself unchanged


def test_a_companion_served_on_a_thread_freezes_nothing(companion: Companion) -> None:
    assert companion.api.get("/healthz").status_code == 200  # started (lifespan ran) on the server's thread
    assert gc.get_freeze_count() == 0
