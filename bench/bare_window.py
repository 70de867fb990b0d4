"""The start-up baseline: a bare PySide6 window with one label, reporting like the POS's probe does."""

from __future__ import annotations

import resource
import sys
import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel


def main() -> int:
    app = QApplication(sys.argv)
    label = QLabel("posdesk")
    label.show()

    def ready() -> None:
        app.processEvents()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"ready {time.time():.6f} rss_kb={rss} shown={int(label.isVisible())}", flush=True)
        app.quit()

    QTimer.singleShot(0, ready)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
