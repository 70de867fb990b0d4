"""A POS built in this process the way ``posdesk.gui.app.start_pos`` builds one, for in-process benchmarks.

Differences from ``start_pos``: the terminal's credential is handed in (the benchmark companion paired it
already) instead of read from the keyring, and the sample data is loaded into a fresh cache.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import QEventLoop, QTimer

from posdesk.core.catalog import CatalogItem, ItemKind
from posdesk.core.client import Client
from posdesk.gui.app import SyncBridge
from posdesk.gui.backend import PosBackend
from posdesk.gui.context import PosContext
from posdesk.gui.main_window import MainWindow
from posdesk.gui.qt import QApplication
from posdesk.gui.worker import Worker
from posdesk.store import Database
from posdesk.store.sample import load_sample_data, sample_data_path

UNREACHABLE = "http://127.0.0.1:9"
TZ = ZoneInfo("America/New_York")


def qt_app() -> QApplication:
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    return app


def pump_until(
    condition: Callable[[], Any],
    timeout: float = 30.0,
    what: str = "the POS",
    every: float = 0.0005,
    idle: bool = False,
) -> Any:
    """Run the Qt event loop until ``condition()`` is true (raises after ``timeout`` seconds), asking it
    again after ``every`` seconds.

    ``idle``: between asks the UI thread waits in Qt's event loop (woken by the next event, as the POS's
    own idle UI thread is) instead of sleeping and processing events 2,000 times a second; each of those
    wake-ups takes Python's GIL from the worker and sync threads, which on a busy machine slows the very
    work being timed."""
    app = qt_app()
    deadline = time.monotonic() + timeout
    while True:
        app.processEvents()
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        if idle:
            pause = QEventLoop()
            QTimer.singleShot(max(1, round(every * 1000)), pause.quit)
            pause.exec()
        else:
            time.sleep(every)


@dataclass
class BenchPos:
    window: MainWindow
    ctx: PosContext
    db: Database
    sync: Any = None

    def stop(self) -> None:
        if self.sync is not None:
            self.sync.stop()
        self.window.close()
        self.ctx.worker.shutdown()
        self.db.close()

    def sample_client(self) -> Client:
        first = json.loads(sample_data_path().read_text(encoding="utf-8"))["clients"][0]["id"]
        client = self.ctx.backend.client(first)
        assert client is not None
        return client

    def sample_item(self) -> CatalogItem:
        return next(i for i in self.ctx.backend.catalog() if i.kind is ItemKind.PRODUCT)


def build_pos(
    data_dir: Path,
    *,
    companion_url: str = "",
    credential: str = "",
    store_id: str = "",
    on_tickets_changed: Callable[[set[str]], None] | None = None,
) -> BenchPos:
    """A shown POS window over a fresh cache with the sample data; online when a companion is given."""
    qt_app()
    db = Database.open(data_dir / "posdesk.db")
    load_sample_data(db, datetime.now(TZ).date(), TZ)
    backend = PosBackend(db)
    backend.save_settings(
        replace(
            backend.settings(), online_payment_link_enabled=True, companion_url=companion_url or UNREACHABLE
        )
    )
    ctx = PosContext(backend, Worker(), timezone=TZ)
    ctx.connection.url = companion_url or UNREACHABLE
    if companion_url:  # paired, as a terminal is: the screens' own companion calls carry the credential
        ctx.vault.keep_for_session(companion_url, credential)
    bridge = SyncBridge(ctx)
    bridge.state.connect(ctx.set_connection_state)
    bridge.tickets.connect(ctx.tickets_changed.emit)
    sync = None
    if companion_url:
        from posdesk.sync import SyncService

        def changed(ids: set[str]) -> None:
            if on_tickets_changed is not None:
                on_tickets_changed(ids)
            bridge.on_tickets_changed(ids)

        sync = SyncService(
            db,
            companion_url,
            credential,
            on_state=bridge.on_state,
            on_tickets_changed=changed,
            store_key=store_id,
        )
        sync.start()
        ctx.wake_sync = sync.wake
    window = MainWindow(ctx)
    window.show()
    pos = BenchPos(window, ctx, db, sync)
    if companion_url:
        pump_until(lambda: ctx.connection.online, what="the POS to come online")
    return pos
