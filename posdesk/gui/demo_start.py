"""Connecting's slow part, off the UI thread once the window is up, and where demo mode's companion will
listen, chosen before the window is built (see :mod:`posdesk.gui.app`)."""

from __future__ import annotations

import contextlib
import importlib
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from posdesk.gui.qt import QObject, Signal
from posdesk.store import Database, TerminalSettings

if TYPE_CHECKING:
    from concurrent.futures import Future

log = logging.getLogger(__name__)
UI_SWITCH_INTERVAL = 0.001  # seconds; see DemoStarter._run


class DemoStarter(QObject):
    """Connecting's slow part, on its own thread once the window is up; says when done on the UI thread.

    In demo mode it starts the embedded companion and pairs with it. In both modes it then loads what
    connecting and the first save need and the first screen did without (:func:`_warm_up`: the
    keyring backend, the sync client with httpx, SQLAlchemy and the models), so the UI thread does
    not pay for those imports.

    Signals:
        finished(): ``outcome`` is set: ``(companion, pairing)``, or ``(None, exception)`` (demo mode);
            ``None`` when there was no companion to start.
    """

    finished = Signal()

    def __init__(self, data_dir: Path, url: str, db: Database | None = None, *, demo: bool = True) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.url = url
        self.db = db
        self.demo = demo
        self.outcome: tuple[Any, Any] | None = None
        self._future: Future[None] | None = None

    def start(self) -> None:
        from concurrent.futures import ThreadPoolExecutor  # once the first frame is painted

        runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="posdesk-demo-start")
        self._future = runner.submit(self._run)
        runner.shutdown(wait=False)  # the thread ends when its one task does

    def join(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) for the start-up thread to finish."""
        if self._future is not None:
            with contextlib.suppress(TimeoutError, Exception):
                self._future.result(timeout)

    def _run(self) -> None:
        # While this thread imports (which holds the GIL for long stretches), let the UI thread take the
        # GIL back within 1 ms instead of Python's default 5 ms: the cashier is already typing.
        interval = sys.getswitchinterval()
        sys.setswitchinterval(min(interval, UI_SWITCH_INTERVAL))
        try:
            if self.demo:
                self.outcome = start_companion(self.data_dir, self.url)
            if self.db is not None:
                _warm_up(self.db)
        finally:
            sys.setswitchinterval(interval)
        self.finished.emit()


def _warm_up(db: Database) -> None:
    """Import (on this thread) what connecting and the first write need; failures are left to the
    code that needs them, which reports them as it always did."""
    for what, load in (
        ("the keyring", _load_keyring),
        ("the sync client", lambda: importlib.import_module("posdesk.sync.service")),
        ("the local cache's ORM", db.warm_up),
    ):
        try:
            load()
        except Exception as exc:
            log.info("loading %s ahead of use failed: %s", what, exc)


def _load_keyring() -> None:
    import keyring

    keyring.get_keyring()  # picks the backend (an entry-point scan) once, here


def start_companion(data_dir: Path, url: str) -> tuple[Any, Any]:
    """Start the embedded companion at ``url`` and pair this terminal with it (any thread).

    Returns ``(companion, pairing)``, or ``(None, exception)`` when it could not start: the POS then
    works offline. Imports FastAPI and uvicorn, which is why ``run`` calls it only after the window
    is shown.
    """
    try:
        from posdesk.companion.embedded import start_embedded
        from posdesk.sync import pair

        host, port = url.removeprefix("http://").rsplit(":", 1)
        companion = start_embedded(data_dir / "companion", port=int(port), public_host=host)
        try:
            return companion, pair(companion.url, companion.pairing_code, "Demo terminal")
        except BaseException:
            companion.stop()
            raise
    except Exception as exc:  # ImportError, a port taken meanwhile, a failed pairing
        log.warning("demo companion not started: %s", exc)
        return None, exc


def free_local_port(preferred: int = 0) -> int:
    """A port on 127.0.0.1 nobody listens on now (the demo companion binds it a moment later).

    ``preferred`` is tried first; when it is taken (or 0), any free port.
    """
    # socket's C half: the socket module adds its enum conversions and selectors (~3.5 ms) to the demo's
    # first frame; the companion imports it on the start-up thread anyway.
    import _socket

    for candidate in (preferred, 0) if preferred else (0,):
        probe = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        try:
            probe.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(probe.getsockname()[1])
        finally:
            probe.close()
    raise OSError("no free port on 127.0.0.1")


def demo_host(settings: TerminalSettings) -> str:
    """Where demo links point: this computer only, or (when the manager allows it) its network address."""
    if not settings.demo_links_on_lan:
        return "127.0.0.1"
    from posdesk.lan import lan_address

    return lan_address()


DEMO_PORT_FILE = "demo-port"


def demo_port(data_dir: Path) -> int:
    """The demo companion's port: last run's when still free, so links sent in earlier runs keep working."""
    record = data_dir / "companion" / DEMO_PORT_FILE
    try:
        preferred = int(record.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        preferred = 0
    port = free_local_port(preferred if 1024 <= preferred <= 65535 else 0)
    if port != preferred:
        try:
            record.parent.mkdir(parents=True, exist_ok=True)
            record.write_text(str(port), encoding="ascii")
        except OSError as exc:  # a read-only data folder: the demo still runs, on a new port each time
            log.warning("cannot remember the demo port: %s", exc)
    return port
