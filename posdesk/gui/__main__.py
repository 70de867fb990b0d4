"""``posdesk``: start the POS (demo mode when no companion is configured)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


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
    parser.add_argument("--companion-url", help="connect to this companion instead of the settings' one")
    parser.add_argument("--data-dir", type=Path, help="keep the local database here (default: user data dir)")
    parser.add_argument(
        "--demo", action="store_true", help="demo mode: embedded companion, simulated payments, sample data"
    )
    parser.add_argument(
        "--self-test", action="store_true", help="start, build the New Ticket view, and exit (0 when fine)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    if args.data_dir:
        os.environ["POSDESK_DATA_DIR"] = str(args.data_dir)
    from posdesk.gui.app import run  # Qt is imported only once a display is known to exist

    return run(companion_url=args.companion_url, demo=args.demo, self_test=args.self_test)


if __name__ == "__main__":
    sys.exit(main())
