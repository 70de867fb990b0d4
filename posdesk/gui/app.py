"""Start-up: open the local database and settings, connect (or start demo mode), show the window.

Demo mode (no companion configured, or ``--demo``): an embedded companion on 127.0.0.1 with the
Simulator gateway, this terminal paired with it, the sample catalog, clients and today's appointments,
the online payment link switched on, and a banner saying payments are simulated. Each piece is guarded:
if one is missing, the POS still starts and works on its own (tickets are saved locally).

``run`` shows the window first and connects after (DESIGN.md section 7 wants the New Ticket view within
3x of a bare window). Before the first frame only PySide6, ``posdesk.core`` and the stdlib ``sqlite3``
are loaded: the first screen reads the cache through :meth:`Database.direct`. Once the window has
painted its first frame, a thread (:class:`~posdesk.gui.demo_start.DemoStarter`) starts the embedded
companion (demo mode; FastAPI and uvicorn are imported there) and loads what connecting and the first
save need (keyring, the sync client with httpx, SQLAlchemy and the models); then syncing starts from the
event loop. Meanwhile the POS works offline: the demo companion's address is chosen before it starts,
so a link made in those first seconds is already the right one and its upload waits in the outbox.
``start_pos`` does the same work synchronously (tests, the self-test).
"""

from __future__ import annotations

import gc
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from posdesk import dataclass_code, paths
from posdesk.config import PosConfig
from posdesk.gui.backend import PosBackend
from posdesk.gui.context import PosContext
from posdesk.gui.credentials import CredentialVault
from posdesk.gui.demo_start import DemoStarter, demo_host, demo_port, start_companion
from posdesk.gui.main_window import MainWindow
from posdesk.gui.new_ticket_view import NewTicketView
from posdesk.gui.qt import QApplication, QColor, QObject, QPalette, QTimer, QToolTip, Signal
from posdesk.gui.update_notice import watch_for_updates
from posdesk.gui.worker import Worker
from posdesk.pos import amount_styles
from posdesk.store import Database

log = logging.getLogger(__name__)
DEMO_BANNER = "Demo mode: payments are simulated. Pay a link with the test card 4242 4242 4242 4242."
STARTING_DEMO = "Starting demo companion…"
CONNECT_LATEST_MS = 1000  # connecting starts after the first frame, or this long after start-up


class SyncBridge(QObject):
    """Carries the sync thread's callbacks onto the UI thread.

    Signals:
        state(str): online / offline / catching_up.
        tickets(object): a set of ticket ids that changed.
        settings(): the store's settings were adopted from the companion (another terminal saved them).
        notice(str): something the manager must see (e.g. the companion refused the store settings).
    """

    state = Signal(str)
    tickets = Signal(object)
    settings = Signal()
    notice = Signal(str)

    def on_state(self, state: object) -> None:  # called on the sync thread
        self.state.emit(str(getattr(state, "value", state)))

    def on_tickets_changed(self, ids: set[str]) -> None:  # called on the sync thread
        self.tickets.emit(set(ids))

    def on_settings_changed(self) -> None:  # called on the sync thread
        self.settings.emit()

    def on_notice(self, text: str) -> None:  # called on the sync thread
        self.notice.emit(text)


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
    data_dir: Path | None = None
    starter: DemoStarter | None = None
    stopped: bool = False

    def connect(self) -> None:
        """Start the demo companion (demo mode) and syncing, and wait for both (tests, the self-test)."""
        if self.ctx.connection.demo:
            assert self.data_dir is not None
            self._adopt_companion(*start_companion(self.data_dir, self.ctx.connection.url))
        else:
            self.reconnect()

    def connect_after_show(self) -> None:
        """What :meth:`connect` does, without waiting: the slow part runs on a thread (:class:`DemoStarter`)."""
        assert self.data_dir is not None
        amount_styles.keep(self.data_dir, self.ctx.locale, self.ctx.settings.currency)  # for the next start
        dataclass_code.keep(self.data_dir)  # likewise
        demo = self.ctx.connection.demo
        if demo:
            self.window.statusBar().showMessage(STARTING_DEMO)
        starter = self.starter = DemoStarter(self.data_dir, self.ctx.connection.url, self.db, demo=demo)
        starter.finished.connect(self._on_starter_finished)
        starter.start()

    def connect_after_first_frame(self, then: Callable[[], object] | None = None) -> None:
        """:meth:`connect_after_show` from the event loop once the window has painted its first frame, so
        that the start-up thread (imports, the demo companion) does not compete with painting it; after
        ``CONNECT_LATEST_MS`` when no frame comes (a window started minimized). ``then`` runs after."""

        def connect() -> None:
            if self.starter is None and not self.stopped:
                self.connect_after_show()
                if then is not None:
                    QTimer.singleShot(0, then)

        self.window.first_frame.connect(lambda: QTimer.singleShot(0, connect))
        QTimer.singleShot(CONNECT_LATEST_MS, connect)

    def _on_starter_finished(self) -> None:
        assert self.starter is not None
        if self.starter.demo:
            self._adopt_companion(*(self.starter.outcome or (None, None)))
        elif not self.stopped:
            self.reconnect()

    def _adopt_companion(self, companion: Any, pairing: Any) -> None:
        if self.stopped:  # the POS closed while the companion was starting: stop() deals with it
            return
        self.window.statusBar().clearMessage()
        if companion is None:
            # The exception's own words when it has some (a database a pre-release build made says what
            # to do); its name otherwise.
            reason = str(pairing).rstrip(".") or type(pairing).__name__
            self.notes.append(f"demo companion unavailable: {reason}; working offline")
            self.window.demo_banner.setWordWrap(True)  # a long reason wraps, not widens the window
            self.window.demo_banner.setText(DEMO_BANNER + "  (" + "; ".join(self.notes) + ")")
            self.ctx.connection.url = ""  # nothing to connect to: this terminal works on its own
            self.ctx.connection_changed.emit(self.ctx.connection.state)
            return
        self.companion = companion
        self.ctx.connection.url = companion.url
        self.ctx.connection.store_id = pairing.store_id
        self.ctx.connection.terminal_id = pairing.terminal_id
        # The demo pairs afresh on every start (the companion makes a new code): keep it for this run only.
        self.ctx.vault.keep_for_session(companion.url, pairing.credential)
        self.reconnect()

    def stop(self) -> None:
        self.stopped = True
        if self.starter is not None:
            self.starter.join(30)  # never leave a companion half-started at interpreter exit
            if self.companion is None and self.starter.outcome is not None:
                self.companion = self.starter.outcome[0]  # started, but never adopted
        for part, stop in (("sync", self.sync), ("companion", self.companion)):
            if stop is not None:
                try:
                    stop.stop()
                except Exception:
                    log.exception("stopping %s failed", part)
        self.ctx.network.shutdown(wait=False)  # a companion call in flight is not waited for
        self.worker.shutdown()
        self.db.close()

    def reconnect(self) -> None:
        """(Re)start syncing with the companion the context names, with its stored credential.

        Called after the manager pairs this terminal in Settings, so it goes online at once.
        """
        if self.stopped:  # a pairing that finished after the POS closed: nothing would stop this one
            return
        if self.sync is not None:
            self.sync.stop()
        self.sync = _start_sync(self.db, self.ctx, self.bridge)
        if self.sync is None and self.ctx.connection.url:
            self.ctx.set_connection_state("unpaired")


def style_sheet() -> str:
    """The POS's style sheet (OSError when the resources folder is missing)."""
    folder = paths.resources_dir() / "style"
    # The sheet names its images by folder (url() in a style sheet is relative to the working directory).
    return (folder / "posdesk.qss").read_text(encoding="utf-8").replace("@STYLE_DIR@", folder.as_posix())


# Every widget's text (10pt, this colour) is the application's font and palette, which widgets inherit
# for nothing; as a ``QWidget`` rule in the style sheet every widget matched it and was styled for it (a
# tenth of building the first frame). The style sheet's own rules still override both where they say so.
TEXT_POINT_SIZE = 10
TEXT_COLOUR = "#1f2933"


def text_palette(palette: QPalette) -> QPalette:
    """``palette`` with the POS's text colour in every state, in the roles a style sheet's ``color`` sets
    (placeholders at half its opacity, as a style sheet makes them)."""
    colour = QColor(TEXT_COLOUR)
    placeholder = QColor(TEXT_COLOUR)  # not QColor(colour): that overload makes the Qt namespace (.qt)
    placeholder.setAlpha((colour.alpha() + 1) // 2)
    roles = QPalette.ColorRole
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive, QPalette.ColorGroup.Disabled):
        for role in (roles.WindowText, roles.Text, roles.ButtonText):
            palette.setColor(group, role, colour)
        palette.setColor(group, roles.PlaceholderText, placeholder)
    return palette


def load_style(app: QApplication) -> None:
    """The POS's look: its text font and colour on the application, then the style sheet."""
    load_text_style(app)()


def load_text_style(app: QApplication) -> Callable[[], None]:
    """The POS's text font and colour on the application now; returns what sets the style sheet, which
    ``run`` calls once the window is built: with a style sheet, each built tree of widgets moved into its
    parent (the panels into the view, the view into its tab) was styled again, all of it (~6 ms). The
    widgets are polished when first shown either way: the window looks the same."""
    tooltips = QToolTip.font()
    font = app.font()
    font.setPointSize(TEXT_POINT_SIZE)
    app.setFont(font)
    app.setPalette(text_palette(app.palette()))

    def load_style_sheet() -> None:
        try:
            app.setStyleSheet(style_sheet())
        except OSError:
            log.warning("style sheet not found; using Qt's default look")
        # Tooltips keep Qt's own font, as the style sheet's rule never reached them (set after the style
        # sheet, which resets the fonts set for a class of widget).
        QToolTip.setFont(tooltips)

    return load_style_sheet


def _prepare_demo(db: Database, ctx: PosContext, notes: list[str]) -> None:
    """Sample catalog, clients and appointments in an empty cache, and the online payment link on."""
    try:
        if not ctx.backend.catalog():
            from posdesk.store.sample import load_sample_data

            load_sample_data(db, ctx.today(), ctx.timezone)
    except Exception as exc:
        log.warning("sample data not loaded: %s", exc)
        notes.append(f"sample data unavailable ({type(exc).__name__})")
    settings = ctx.backend.settings()
    if not settings.online_payment_link_enabled:
        from posdesk.sync.settings_reconciliation import PAGE_LANGUAGES

        # First demo run: the feature on, the page in every language it has. Once paired, the demo
        # companion's store takes these settings (posdesk.sync.settings_reconciliation seeds an unset store).
        settings = ctx.backend.save_settings(
            replace(settings, online_payment_link_enabled=True, languages=PAGE_LANGUAGES)
        )
    ctx.settings = settings


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
            on_settings_changed=bridge.on_settings_changed,
            on_notice=bridge.on_notice,
        )
        service.start()
    except Exception as exc:
        log.warning("sync not started: %s", exc)
        return None
    ctx.wake_sync = service.wake
    return service


def open_pos(
    *,
    companion_url: str | None = None,
    demo: bool = False,
    data_dir: Path | None = None,
    load_later: bool = False,
) -> PosApp:
    """Open the cache and build the main window, not yet connected (see :meth:`PosApp.connect`).

    ``load_later``: the window's data (catalog, appointments) is read from the event loop once it is
    shown; the New Ticket view emits ``data_loaded`` then.
    """
    data_dir = data_dir or paths.data_dir()
    amount_styles.load(data_dir)  # before any amount is read or shown: see posdesk.pos.amount_styles
    db = Database.open(data_dir / "posdesk.db")
    worker = Worker()
    backend = PosBackend(db)
    ctx = PosContext(backend, worker, vault=CredentialVault())
    bridge = SyncBridge()
    bridge.state.connect(ctx.set_connection_state)
    bridge.tickets.connect(ctx.tickets_changed.emit)
    bridge.settings.connect(ctx.reload_settings)
    notes: list[str] = []
    url = (companion_url or ctx.settings.companion_url).rstrip("/")
    if demo or not url:
        ctx.connection.demo = True
        _prepare_demo(db, ctx, notes)
        # Known before the companion starts, so a link made meanwhile already points at it.
        ctx.connection.url = f"http://{demo_host(ctx.settings)}:{demo_port(data_dir)}"
    else:
        ctx.connection.url = url
    banner = DEMO_BANNER if ctx.connection.demo else ""
    if notes:
        banner += "  (" + "; ".join(notes) + ")"
    window = MainWindow(ctx, demo_banner=banner, load_later=load_later)
    bridge.notice.connect(lambda text: window.statusBar().showMessage(text, 30_000))
    pos = PosApp(window, ctx, db, worker, bridge, notes=notes, data_dir=data_dir)
    ctx.reconnect = pos.reconnect
    return pos


def start_pos(
    *, companion_url: str | None = None, demo: bool = False, data_dir: Path | None = None
) -> PosApp:
    """Build everything, connected (demo companion started, syncing); the caller shows the window."""
    pos = open_pos(companion_url=companion_url, demo=demo, data_dir=data_dir)
    pos.connect()
    return pos


def run(*, companion_url: str | None = None, demo: bool = False, self_test: bool = False) -> int:
    # The stubs type instance() as QCoreApplication; posdesk only ever makes a QApplication (widgets).
    app = cast("QApplication | None", QApplication.instance()) or QApplication(sys.argv)
    app.setApplicationName("posdesk")
    load_style_sheet = load_text_style(app)
    pos = open_pos(companion_url=companion_url, demo=demo, load_later=True)
    load_style_sheet()  # once the window is built (see load_text_style)
    if pos.ctx.connection.demo:  # said by the first frame, not by a second one: it starts right after
        pos.window.statusBar().showMessage(STARTING_DEMO)
    pos.window.show()
    # Connect once the window is on screen (its first frame painted): the cashier can work meanwhile.
    probe = PosConfig.from_env().startup_probe
    pos.connect_after_first_frame(then=(lambda: _report_when_loaded(app, pos.window)) if probe else None)
    watch_for_updates(pos.ctx, pos.window, pos.data_dir or paths.data_dir())
    # Collection back on after the first frame (posdesk.gui.__main__ turns it off while importing); what
    # start-up made stays for the session, so it is left out of every later collection (gc.freeze).
    pos.window.first_frame.connect(collect_garbage_again)
    QTimer.singleShot(CONNECT_LATEST_MS, collect_garbage_again)
    if self_test:
        QTimer.singleShot(0, app.quit)
    try:
        app.exec()
    finally:
        pos.stop()
    if self_test:
        ok = pos.window.findChild(QObject, "newTicketView") is not None
        print("posdesk self-test: ok" if ok else "posdesk self-test: failed")
        return 0 if ok else 1
    return 0


def collect_garbage_again() -> None:
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _report_when_loaded(app: QApplication, window: MainWindow) -> None:
    """The probe's report, once connecting has started (now) and the view's data is shown."""
    view = window.ticket_view
    if view.loaded:
        QTimer.singleShot(0, lambda: _report_ready(app, window))
    else:  # interactive means the catalog is there too: report once it is
        view.data_loaded.connect(lambda: QTimer.singleShot(0, lambda: _report_ready(app, window)))


def _report_ready(app: QApplication, window: MainWindow) -> None:
    """``POSDESK_STARTUP_PROBE=1`` (``bench/startup.py``): say when the New Ticket view is up, then quit.

    Runs from a timer of the event loop after the window's first frame was painted, connecting started
    (the start-up thread running) and the view's data loaded (catalog, appointments; client search reads
    the cache as the cashier types); the events queued meanwhile are handled first, so the line marks a
    shown, idle, interactive window. Prints ``ready <unix time> rss_kb=<n> shown=<0|1>``.
    """
    app.processEvents()
    view = window.findChild(NewTicketView, "newTicketView")
    shown = view is not None and view.isVisible() and view.loaded
    try:  # peak memory of this program (ru_maxrss would include the launcher's, from before exec)
        status = Path("/proc/self/status").read_text(encoding="ascii")
        rss = int(next(ln for ln in status.splitlines() if ln.startswith("VmHWM")).split()[1])
    except (OSError, StopIteration, ValueError):
        rss = 0
    print(f"ready {time.time():.6f} rss_kb={rss} shown={int(shown)}", flush=True)
    app.quit()
