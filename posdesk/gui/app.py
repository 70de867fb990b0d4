"""Start-up: open the local database and settings, connect (or start demo mode), show the window.

Demo mode (no companion configured, or ``--demo``): an embedded companion on 127.0.0.1 with the
Simulator gateway, this terminal paired with it, the sample catalog, clients and today's appointments,
the online payment link switched on, and a banner saying payments are simulated. Each piece is guarded:
if one is missing, the POS still starts and works on its own (tickets are saved locally).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from posdesk import paths
from posdesk.gui.backend import PosBackend
from posdesk.gui.context import PosContext
from posdesk.gui.credentials import CredentialVault
from posdesk.gui.main_window import MainWindow
from posdesk.gui.qt import QApplication, QObject, QTimer, Signal
from posdesk.gui.worker import Worker
from posdesk.store import CatalogRepository, Database

log = logging.getLogger(__name__)
DEMO_BANNER = "Demo mode: payments are simulated. Pay a link with the test card 4242 4242 4242 4242."


class SyncBridge(QObject):
    """Carries the sync thread's callbacks onto the UI thread.

    Signals:
        state(str): online / offline / catching_up.
        tickets(object): a set of ticket ids that changed.
    """

    state = Signal(str)
    tickets = Signal(object)

    def on_state(self, state: object) -> None:  # called on the sync thread
        self.state.emit(str(getattr(state, "value", state)))

    def on_tickets_changed(self, ids: set[str]) -> None:  # called on the sync thread
        self.tickets.emit(set(ids))


@dataclass
class PosApp:
    """A running POS: what start-up made, and how to stop it."""

    window: MainWindow
    ctx: PosContext
    db: Database
    worker: Worker
    bridge: SyncBridge
    sync: Any = None
    companion: Any = None
    notes: list[str] = field(default_factory=list)

    def stop(self) -> None:
        for part, stop in (("sync", self.sync), ("companion", self.companion)):
            if stop is not None:
                try:
                    stop.stop()
                except Exception:
                    log.exception("stopping %s failed", part)
        self.worker.shutdown()
        self.db.close()

    def reconnect(self) -> None:
        """(Re)start syncing with the companion the context names, with its stored credential.

        Called after the manager pairs this terminal in Settings, so it goes online at once.
        """
        if self.sync is not None:
            self.sync.stop()
        self.sync = _start_sync(self.db, self.ctx, self.bridge)
        if self.sync is None and self.ctx.connection.url:
            self.ctx.set_connection_state("unpaired")


def load_style(app: QApplication) -> None:
    try:
        app.setStyleSheet((paths.resources_dir() / "style" / "posdesk.qss").read_text(encoding="utf-8"))
    except OSError:
        log.warning("style sheet not found; using Qt's default look")


def _start_demo(db: Database, ctx: PosContext, data_dir: Path, notes: list[str]) -> Any:
    """Embedded companion + pairing + sample data + the feature on. Returns the companion (or None)."""
    companion = None
    try:
        from posdesk.companion.embedded import start_embedded

        companion = start_embedded(data_dir / "companion")
        from posdesk.sync import pair

        paired = pair(companion.url, companion.pairing_code, "Demo terminal")
        ctx.connection.url = companion.url
        ctx.connection.store_id = paired.store_id
        ctx.connection.terminal_id = paired.terminal_id
        # The embedded companion's port changes every run: this credential is good for this run only.
        ctx.vault.keep_for_session(companion.url, paired.credential)
    except Exception as exc:  # ImportError until the companion lands; any start failure
        log.warning("demo companion not started: %s", exc)
        notes.append(f"demo companion unavailable ({type(exc).__name__}); working offline")
    try:
        with db.reading() as session:
            empty = not CatalogRepository(session).list()
        if empty:
            from posdesk.store.sample import load_sample_data

            load_sample_data(db, ctx.today(), ctx.timezone)
    except Exception as exc:
        log.warning("sample data not loaded: %s", exc)
        notes.append(f"sample data unavailable ({type(exc).__name__})")
    settings = ctx.backend.settings()
    if not settings.online_payment_link_enabled:
        settings = ctx.backend.save_settings(replace(settings, online_payment_link_enabled=True))
    ctx.settings = settings
    return companion


def _start_sync(db: Database, ctx: PosContext, bridge: SyncBridge) -> Any:
    credential = ctx.vault.load(ctx.connection.url)
    if not credential:
        log.info("no credential for %s: pair this terminal in Settings", ctx.connection.url)
        return None
    try:
        from posdesk.sync import SyncService

        service = SyncService(
            db,
            ctx.connection.url,
            credential,
            on_state=bridge.on_state,
            on_tickets_changed=bridge.on_tickets_changed,
        )
        service.start()
    except Exception as exc:
        log.warning("sync not started: %s", exc)
        return None
    ctx.wake_sync = service.wake
    return service


def start_pos(
    *, companion_url: str | None = None, demo: bool = False, data_dir: Path | None = None
) -> PosApp:
    """Build everything and show the main window (the caller runs the event loop)."""
    data_dir = data_dir or paths.data_dir()
    db = Database.open(data_dir / "posdesk.db")
    worker = Worker()
    backend = PosBackend(db)
    ctx = PosContext(backend, worker, vault=CredentialVault())
    bridge = SyncBridge()
    bridge.state.connect(ctx.set_connection_state)
    bridge.tickets.connect(ctx.tickets_changed.emit)
    notes: list[str] = []
    url = (companion_url or ctx.settings.companion_url).rstrip("/")
    companion = None
    if demo or not url:
        ctx.connection.demo = True
        companion = _start_demo(db, ctx, data_dir, notes)
    else:
        ctx.connection.url = url
    sync = _start_sync(db, ctx, bridge) if ctx.connection.url else None
    banner = ""
    if ctx.connection.demo:
        banner = DEMO_BANNER if companion is not None else DEMO_BANNER + "  (" + "; ".join(notes) + ")"
    if ctx.connection.url and sync is None:
        ctx.set_connection_state("unpaired")  # a companion but no credential for it
    window = MainWindow(ctx, demo_banner=banner)
    pos = PosApp(window, ctx, db, worker, bridge, sync=sync, companion=companion, notes=notes)
    ctx.reconnect = pos.reconnect
    return pos


def run(*, companion_url: str | None = None, demo: bool = False, self_test: bool = False) -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("posdesk")
    load_style(app)
    pos = start_pos(companion_url=companion_url, demo=demo)
    pos.window.show()
    if self_test:
        QTimer.singleShot(0, app.quit)
    if os.environ.get("POSDESK_STARTUP_PROBE"):
        QTimer.singleShot(0, lambda: _report_ready(app, pos.window))
    try:
        app.exec()
    finally:
        pos.stop()
    if self_test:
        ok = pos.window.findChild(QObject, "newTicketView") is not None
        print("posdesk self-test: ok" if ok else "posdesk self-test: failed")
        return 0 if ok else 1
    return 0


def _report_ready(app: QApplication, window: MainWindow) -> None:
    """``POSDESK_STARTUP_PROBE=1`` (``bench/startup.py``): say when the New Ticket view is up, then quit.

    Runs from the first timer of the event loop; the events queued by showing the window are handled
    first, so the line marks a shown, idle, interactive window. Prints ``ready <unix time> rss_kb=<n>``.
    """
    app.processEvents()
    view = window.findChild(QObject, "newTicketView")
    shown = view is not None and view.isVisible()  # type: ignore[attr-defined]
    try:  # peak memory of this program (ru_maxrss would include the launcher's, from before exec)
        status = Path("/proc/self/status").read_text(encoding="ascii")
        rss = int(next(ln for ln in status.splitlines() if ln.startswith("VmHWM")).split()[1])
    except (OSError, StopIteration, ValueError):
        rss = 0
    print(f"ready {time.time():.6f} rss_kb={rss} shown={int(shown)}", flush=True)
    app.quit()
