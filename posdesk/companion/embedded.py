"""The companion embedded in the POS for demo mode: uvicorn on 127.0.0.1 in a daemon thread.

The demo store ("posdesk Demo Salon", USD, Simulator gateway, tips 15/18/20%) is created on the first
start and remembered in ``data_dir``, with the secrets the companion needs, so links, saved cards and
events survive a restart of the POS. Each start makes a fresh one-time pairing code.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from posdesk.companion.app import create_app
from posdesk.companion.auth import new_pairing_code
from posdesk.companion.config import CompanionConfig, UpdatePolicy
from posdesk.companion.database import Database
from posdesk.companion.models import Store
from posdesk.companion.stores import create_store
from posdesk.core.languages import PAGE_LANGUAGES

DEMO_STORE_NAME = "posdesk Demo Salon"
DEMO_SETTINGS: dict[str, Any] = {
    "business_name": DEMO_STORE_NAME,
    "address": "100 Demo Street, Springfield",
    "languages": list(PAGE_LANGUAGES),
    "tips_allowed": True,
    "tip_presets": [{"percent": "0.15"}, {"percent": "0.18"}, {"percent": "0.20"}],
    "link_expiry_hours": 72,
}
STATE_FILE = "companion-demo.json"
DATABASE_FILE = "companion.db"
STARTUP_TIMEOUT = 15.0


@dataclass
class EmbeddedCompanion:
    """A running embedded companion. ``stop()`` shuts it down (also safe to call twice)."""

    url: str
    store_id: str
    pairing_code: str
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _socket: socket.socket = field(repr=False)
    _db: Database = field(repr=False)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(5)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(5)
        self._socket.close()
        self._db.dispose()


def _load_state(data_dir: Path) -> dict[str, str]:
    path = data_dir / STATE_FILE
    try:
        state = json.loads(path.read_text("utf-8"))
        if isinstance(state, dict) and all(isinstance(v, str) for v in state.values()):
            return state
    except (OSError, ValueError):
        pass
    return {}


def _save_state(data_dir: Path, state: dict[str, str]) -> None:
    path = data_dir / STATE_FILE
    temporary = path.with_suffix(".tmp")
    # Owner-only: the file holds the key that encrypts gateway secrets at rest.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    os.replace(temporary, path)


def _demo_store(db: Database, state: dict[str, str]) -> tuple[str, str]:
    """The demo store's id (created if missing) and a fresh pairing code for it."""
    with db.write() as session:
        store = session.get(Store, state["store_id"]) if state.get("store_id") else None
        if store is None:
            store = create_store(
                session, DEMO_STORE_NAME, "USD", settings=DEMO_SETTINGS, gateway_kind="simulator"
            )
        return store.id, new_pairing_code(session, store.id)


def start_embedded(
    data_dir: Path,
    *,
    port: int = 0,
    public_host: str = "127.0.0.1",
    update_policy: UpdatePolicy | None = None,
) -> EmbeddedCompanion:
    """Start the demo companion on ``127.0.0.1:port`` (0: any free port) with its files in ``data_dir``.

    ``update_policy``: the POS versions it asks terminals to run (the demo asks none).

    ``public_host`` other than 127.0.0.1 (the manager allowed demo links on the local network): it listens
    on every interface and its links name that host, so a phone on the same Wi-Fi can open them.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    state = _load_state(data_dir)
    if len(state.get("secret_key", "")) < 32 or len(state.get("simulator_webhook_secret", "")) < 32:
        state["secret_key"] = secrets.token_urlsafe(32)
        state["simulator_webhook_secret"] = secrets.token_urlsafe(32)
    # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # without it every keep-alive request waits ~40 ms for Nagle and the peer's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    on_lan = public_host != "127.0.0.1"
    sock.bind(("0.0.0.0" if on_lan else "127.0.0.1", port))
    sock.listen(128)
    url = f"http://{public_host}:{sock.getsockname()[1]}"
    config = CompanionConfig(
        database_url=f"sqlite+pysqlite:///{data_dir / DATABASE_FILE}",
        public_url=url,
        secret_key=state["secret_key"],
        simulator_webhook_secret=state["simulator_webhook_secret"],
        demo=True,
        update_policy=update_policy or UpdatePolicy(),
    )
    try:
        app = create_app(config)
    except BaseException:
        sock.close()
        raise
    db: Database = app.state.db
    store_id, pairing_code = _demo_store(db, state)
    state["store_id"] = store_id
    _save_state(data_dir, state)

    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            # The POS has set up logging already; uvicorn's own config would need a stdout, which a
            # windowed build (PyInstaller on Windows and macOS) does not have.
            log_config=None,
            access_log=False,
            ws="none",
            lifespan="on",
            # Open event streams would hold shutdown for the default 'forever'.
            timeout_graceful_shutdown=1,
        )
    )
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # report start-up failures to the caller below
            failure.append(exc)

    thread = threading.Thread(target=run, name="posdesk-embedded-companion", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if failure or not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            db.dispose()
            raise RuntimeError(f"the embedded companion did not start: {failure[:1]!r}")
        time.sleep(0.01)
    return EmbeddedCompanion(url, store_id, pairing_code, server, thread, sock, db)
