"""Crash reports: an unhandled exception leaves a file behind instead of a vanished window.

:func:`install` hooks ``sys.excepthook`` (the main thread, and Qt slots, whose exceptions PySide6 hands
to it) and ``threading.excepthook`` (worker threads). Each unhandled exception writes a report to
``data_dir()/crash-reports``: when, which version, which platform, which thread, and the traceback with
secrets and link tokens taken out (:func:`posdesk.logs.redact`). It is also logged.

``on_crash`` (optional) is called with the report's path so the GUI can say where it is. Ctrl+C
(``KeyboardInterrupt``) is not a crash: it goes to the previous hook untouched, so it still stops the
program the usual way.

Sending reports to the store's companion is **off** unless IT opts in (``POSDESK_SEND_CRASH_REPORTS=1``
in the terminal's environment, e.g. by GPO or an MDM profile), as Electrum's crash reporter asks first:
a report names the machine's platform and what the cashier was doing. Then :func:`upload_pending`
sends each report not yet sent (``POST /api/v1/crash-reports``) and moves it to ``crash-reports/sent/``.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from posdesk import __version__, paths
from posdesk.logs import redact

log = logging.getLogger(__name__)
REPORT_FOLDER = "crash-reports"
SENT_FOLDER = "sent"
MAX_REPORTS = 50  # oldest removed beyond this: a crash loop must not fill the disk
SEND_SETTING = "POSDESK_SEND_CRASH_REPORTS"

CrashNotifier = Callable[[Path], None]


def report_dir() -> Path:
    folder = paths.data_dir() / REPORT_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def report_text(
    exc_type: type[BaseException],
    exc: BaseException,
    tb: TracebackType | None,
    *,
    thread_name: str | None = None,
    when: datetime | None = None,
) -> str:
    """The report's content: a short header, then the redacted traceback."""
    import platform  # here, not with the module: the POS imports this before its first frame

    when = when or datetime.now(UTC)
    trace = "".join(traceback.format_exception(exc_type, exc, tb))
    header = [
        "posdesk crash report",
        f"time: {when.isoformat(timespec='seconds')}",
        f"version: {__version__}",
        f"python: {platform.python_version()} ({sys.executable if not getattr(sys, 'frozen', False) else 'frozen'})",
        f"platform: {platform.platform()}",
        f"thread: {thread_name or threading.current_thread().name}",
        f"program: {Path(sys.argv[0]).name if sys.argv and sys.argv[0] else 'python'}",
    ]
    return "\n".join(header) + "\n\n" + redact(trace)


def write_report(
    exc_type: type[BaseException],
    exc: BaseException,
    tb: TracebackType | None,
    *,
    thread_name: str | None = None,
) -> Path:
    """Write one crash report and return its path."""
    when = datetime.now(UTC)
    folder = report_dir()
    stem = f"crash-{when.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    path = folder / f"{stem}.txt"
    counter = 1
    while path.exists():  # two crashes in one second (two threads) keep both reports
        path = folder / f"{stem}-{counter}.txt"
        counter += 1
    path.write_text(report_text(exc_type, exc, tb, thread_name=thread_name, when=when), encoding="utf-8")
    _prune(folder)
    return path


def sending_enabled() -> bool:
    """Whether IT opted this terminal in to sending crash reports to its companion (off by default)."""
    from posdesk.config import ConfigError, PosConfig

    try:
        return PosConfig.from_env().send_crash_reports
    except ConfigError as exc:  # a bad value is refused at start; here, stay on the safe side
        log.warning("%s", exc)
        return False


def pending_reports() -> list[Path]:
    """Reports written and not yet sent, oldest first."""
    return sorted(report_dir().glob("crash-*.txt"), key=lambda p: p.stat().st_mtime)


def upload_pending(companion_url: str, credential: str) -> int:
    """Send every pending report to the companion; return how many it took. Stops at the first failure
    (the rest wait for the next time). Call only when :func:`sending_enabled`, off the UI thread."""
    import httpx

    from posdesk.sync.client import API, USER_AGENT

    sent = 0
    headers = {"Authorization": f"Bearer {credential}", "User-Agent": USER_AGENT}
    for path in pending_reports():
        text = redact(path.read_text("utf-8", errors="replace"))[-60_000:]
        try:
            answer = httpx.post(
                f"{companion_url.rstrip('/')}{API}/crash-reports",
                json={"name": path.name, "text": text},
                headers=headers,
                timeout=15,
            )
        except httpx.HTTPError as exc:
            log.info("crash reports not sent: %s", exc)
            break
        if answer.status_code != 200:
            log.info("crash report %s refused by the companion (%s)", path.name, answer.status_code)
            break
        done = report_dir() / SENT_FOLDER
        done.mkdir(exist_ok=True)
        path.replace(done / path.name)
        _prune(done)
        sent += 1
    if sent:
        log.info("sent %d crash report(s) to the companion", sent)
    return sent


def _prune(folder: Path) -> None:
    reports = sorted(folder.glob("crash-*.txt"), key=lambda p: p.stat().st_mtime)
    for old in reports[:-MAX_REPORTS]:
        old.unlink(missing_ok=True)


class CrashHandler:
    """The installed hooks; :meth:`uninstall` puts the previous ones back (tests, and a clean exit)."""

    def __init__(self, on_crash: CrashNotifier | None = None) -> None:
        self.on_crash = on_crash
        self.reports: list[Path] = []
        self._previous_sys = sys.excepthook
        self._previous_threading = threading.excepthook

    def handle(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
        thread_name: str | None = None,
    ) -> Path | None:
        """Write, log and announce one unhandled exception; returns the report's path (None if it failed)."""
        try:
            path = write_report(exc_type, exc, tb, thread_name=thread_name)
        except Exception:  # no disk, no permission: still tell the log and stderr
            log.critical(
                "unhandled %s (no crash report could be written)",
                exc_type.__name__,
                exc_info=(exc_type, exc, tb),
            )
            return None
        self.reports.append(path)
        log.critical("unhandled %s; crash report: %s", exc_type.__name__, path, exc_info=(exc_type, exc, tb))
        if self.on_crash is not None:
            try:
                self.on_crash(path)
            except Exception:
                log.exception("showing the crash notice failed")
        return path

    def _sys_hook(self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            self._previous_sys(exc_type, exc, tb)
            return
        self.handle(exc_type, exc, tb)

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or issubclass(args.exc_type, (KeyboardInterrupt, SystemExit)):
            self._previous_threading(args)
            return
        name = args.thread.name if args.thread is not None else None
        self.handle(args.exc_type, args.exc_value, args.exc_traceback, thread_name=name)

    def install(self) -> CrashHandler:
        sys.excepthook = self._sys_hook
        threading.excepthook = self._thread_hook
        return self

    def uninstall(self) -> None:
        if sys.excepthook == self._sys_hook:
            sys.excepthook = self._previous_sys
        if threading.excepthook == self._thread_hook:
            threading.excepthook = self._previous_threading


def install(on_crash: CrashNotifier | None = None) -> CrashHandler:
    """Hook unhandled exceptions of every thread; ``on_crash(path)`` runs after each report is written.

    ``on_crash`` runs on the thread that failed: a GUI notifier must itself hop to the UI thread.
    """
    return CrashHandler(on_crash).install()
