"""The start-up baseline: a bare PySide6 window with one label, reporting like the POS's probe does."""

from __future__ import annotations

import sys
import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel


def peak_rss_kb() -> int:
    """VmHWM: this program's peak memory (ru_maxrss would include the launcher's, from before exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return int(next(ln for ln in status if ln.startswith("VmHWM")).split()[1])
    except (OSError, StopIteration, ValueError):
        return 0


def main() -> int:
    app = QApplication(sys.argv)
    label = QLabel("posdesk")
    label.show()

    def ready() -> None:
        app.processEvents()
        rss = peak_rss_kb()
        print(f"ready {time.time():.6f} rss_kb={rss} shown={int(label.isVisible())}", flush=True)
        app.quit()

    QTimer.singleShot(0, ready)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
