"""Save a PNG of the whole X screen named by DISPLAY (the demo's virtual screen).

    ./dev screenshot demo.png             # what `./dev demo --virtual-screen` shows, now
    ./dev screenshot --wait 60 demo.png   # wait (up to 60 s) for a window to be drawn first

Xvfb is started with a black background (-br), so "a window is drawn" is "the screen is not all one
colour".
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev screenshot")
    parser.add_argument("path", help="the PNG file to write")
    parser.add_argument("--wait", type=float, default=0, help="seconds to wait for something drawn")
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY"):
        print("no DISPLAY: start `./dev demo --virtual-screen` first", file=sys.stderr)
        return 2
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication([])
    deadline = time.monotonic() + args.wait
    while True:
        image = app.primaryScreen().grabWindow(0).toImage()
        if _drawn(image) or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    if not image.save(args.path, "PNG"):
        print(f"could not write {args.path}", file=sys.stderr)
        return 1
    print(f"{args.path}: {image.width()}x{image.height()}{'' if _drawn(image) else ' (nothing drawn yet)'}")
    return 0 if _drawn(image) or not args.wait else 1


def _drawn(image) -> bool:  # type: ignore[no-untyped-def]
    first = image.pixel(0, 0)
    step = 16
    return any(
        image.pixel(x, y) != first
        for y in range(0, image.height(), step)
        for x in range(0, image.width(), step)
    )


if __name__ == "__main__":
    sys.exit(main())
