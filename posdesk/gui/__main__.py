"""``posdesk``: start the POS (demo mode when no companion is configured)."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from posdesk import __version__
from posdesk.config import ConfigError, PosConfig

log = logging.getLogger("posdesk")


def display_problem(
    environ: dict[str, str] | os._Environ[str] = os.environ, platform: str = sys.platform
) -> str:
    """Why Qt could not open a window here, or "" when it can (Qt would abort instead of saying so)."""
    if not platform.startswith("linux"):
        return ""
    if environ.get("QT_QPA_PLATFORM") or environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return ""
    return (
        "posdesk needs a display: no DISPLAY or WAYLAND_DISPLAY is set "
        "(run it in a desktop session, under xvfb-run, or with QT_QPA_PLATFORM=offscreen)"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="posdesk", description="posdesk point of sale")
    parser.add_argument("--version", action="version", version=f"posdesk {__version__}")
    parser.add_argument("--companion-url", help="connect to this companion instead of the settings' one")
    parser.add_argument("--data-dir", type=Path, help="keep the local database here (default: user data dir)")
    parser.add_argument(
        "--demo", action="store_true", help="demo mode: embedded companion, simulated payments, sample data"
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation offscreen (files, database, window, payment page); exit 0 when fine",
    )
    return parser.parse_args(argv)


CONSOLE_FILE = "console.txt"
SCHEMA_TOO_NEW = 3  # exit status: the cache is from a newer build and was left as it was
BELOW_MINIMUM = 4  # exit status: the store requires a newer version (its signed update policy)
PRINTING_FLAGS = frozenset({"--version", "--help", "-h", "--self-test"})


def windowed_console(argv: list[str] | None) -> TextIO | None:
    """Where ``--version``, ``--help`` and ``--self-test`` print when there is no stdout, or None.

    A windowed build (PyInstaller's on Windows and macOS) starts with ``sys.stdout`` and ``sys.stderr``
    set to None, so what those flags print would vanish: it goes to ``logs/console.txt`` in the data
    folder instead (Windows also ships ``posdesk-cli.exe``, a console build, for IT's scripts). The
    streams themselves stay None: the POS must work, and is tested, exactly as a windowed build runs.
    """
    if sys.stdout is not None and sys.stderr is not None:
        return None
    given = sys.argv[1:] if argv is None else argv
    if not PRINTING_FLAGS.intersection(given):
        return None
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--data-dir", type=Path)
    known, _ = pre.parse_known_args(given)
    if known.data_dir:
        os.environ["POSDESK_DATA_DIR"] = str(known.data_dir)
    from posdesk import logs

    try:
        return open(logs.log_dir() / CONSOLE_FILE, "w", encoding="utf-8", buffering=1)
    except OSError:
        return None


@contextmanager
def printing_to(console: TextIO | None) -> Iterator[None]:
    """argparse prints ``--version`` and ``--help`` on sys.stdout: lend it the console file meanwhile."""
    if console is None:
        yield
        return
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = console
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def show_crash_notice(report: Path) -> None:
    # The notice lives with the About box, whose module (and Qt classes) load on the first crash or About.
    from posdesk.gui.about_dialog import show_crash_notice as show

    show(report)


def main(argv: list[str] | None = None) -> int:
    console = windowed_console(argv)
    with printing_to(console):
        args = parse_args(argv)
    if args.data_dir:
        os.environ["POSDESK_DATA_DIR"] = str(args.data_dir)
    try:
        PosConfig.from_env()
    except ConfigError as exc:
        print(f"posdesk: {exc}", file=sys.stderr)
        return 2
    from posdesk import crash, logs

    if args.self_test:  # offscreen: needs no display
        from posdesk.selftest import run_self_test

        logs.setup_logging("posdesk")
        crash.install()  # a report, never a modal box nobody can click
        return run_self_test(console)
    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    logs.setup_logging("posdesk")
    # No cyclic garbage collection until the window's first frame (app.run turns it back on): importing
    # and building it make ~33k objects that all stay, and collecting among them again and again was
    # 8-10 ms of start-up.
    gc.disable()
    try:
        return start_gui(args)
    finally:
        gc.enable()  # when start-up ended before a first frame


def start_gui(args: argparse.Namespace) -> int:
    """The POS's window, once a display is known to exist (Qt is imported from here on)."""
    from posdesk import crash, dataclass_code, paths

    dataclass_code.install(paths.data_dir())  # before the modules whose classes it serves
    from posdesk.gui.app import run
    from posdesk.store.backups import SchemaTooNew, restore

    crash.install(on_crash=show_crash_notice)
    from posdesk.gui.update_notice import refuse_below_minimum

    refused = refuse_below_minimum()  # the store's last known policy, even offline
    if refused is not None:
        print(f"posdesk: {refused.text()}", file=sys.stderr)
        return BELOW_MINIMUM
    try:
        return run(companion_url=args.companion_url, demo=args.demo, self_test=args.self_test)
    except SchemaTooNew as too_new:  # a rolled-back install: explain, and offer the copy from before
        log.info("%s", too_new)  # stderr below; the log file keeps it too
        print(f"posdesk: {too_new}", file=sys.stderr)
        from posdesk.gui.schema_notice import offer_restore

        if not offer_restore(too_new) or too_new.backup is None:
            return SCHEMA_TOO_NEW
        restore(too_new.path, too_new.backup)
    return run(companion_url=args.companion_url, demo=args.demo, self_test=args.self_test)


if __name__ == "__main__":
    sys.exit(main())
