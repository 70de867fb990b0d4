"""The POS's first frame loads only what it draws (DESIGN.md section 7: start-up within 2x of a bare window).

Before the New Ticket view is shown the UI thread imports ``posdesk.gui.app`` and what it names; the
database layer, HTTP, the keyring and the companion load afterwards on the start-up thread. A
module-level import that drags one of them back in costs every launch 0.1-0.9 s (SQLAlchemy alone
was most of a second on this machine), so the modules the first frame imports are checked in a fresh
interpreter, the way the program starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Loaded after the window is shown (posdesk.gui.demo_start warms them up on its thread), or on first use.
AFTER_THE_FIRST_FRAME = (
    "sqlalchemy",
    "alembic",
    "httpx",
    "keyring",
    "fastapi",
    "starlette",
    "uvicorn",
    "phonenumbers",
    "posdesk.companion",
    "posdesk.sync.client",
    "posdesk.store.models",
    "uuid",  # imports platform; posdesk.core.ticket.new_id makes its ids without it
    "platform",  # read when a crash report is written or the About box opens
    # Dialogs are imported when first opened: each makes its own Qt classes (0.3-1 ms each) at import.
    "posdesk.gui.about_dialog",  # also the crash notice, loaded with the first crash shown
    "posdesk.gui.review_dialog",
    "posdesk.gui.review_list_dialog",
    "posdesk.gui.client_form",
    "posdesk.gui.gift_card_dialog",
    "hashlib",  # loads OpenSSL: on the first gift card code or refund receipt
    "posdesk.core.amount_input",  # the payment page's grammar for typed amounts
    "posdesk.pos.payment_reviews",  # payments kept for review are read from the companion later
    "posdesk.pos.tenders",  # recording a tender; the counter's price is posdesk.core.pricing's
    "babel",  # amounts are written from the kept style (posdesk.core.amount_style); see test_amount_style
    # The log file's handler is made with the first record, the worker's thread pool with the first
    # operation, and a socket opened in demo mode only (its companion's port).
    "logging.handlers",
    "concurrent.futures",
    "socket",
    "pickle",
    "queue",
)


def loaded_by_the_first_frame() -> list[str]:
    code = (
        "import json, sys; import posdesk.gui.__main__, posdesk.gui.app; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_the_first_frame_imports_no_database_layer_http_keyring_or_companion() -> None:
    loaded = loaded_by_the_first_frame()
    early = sorted(n for n in AFTER_THE_FIRST_FRAME if any(m == n or m.startswith(n + ".") for m in loaded))
    assert early == [], f"imported before the window is shown: {early}"


def test_building_and_showing_the_first_frame_imports_none_of_them(tmp_path: Path) -> None:
    """What building the window imports on the way counts too (a dialog's module named in a method the
    window runs at start, Babel for the first amount): the real window, built and shown."""
    from posdesk.pos import amount_styles

    amount_styles.keep(tmp_path, "en_US", "USD")  # what every launch after the first finds
    code = (
        "import json, sys; from pathlib import Path; from posdesk.gui.app import open_pos; "
        "from posdesk.gui.qt import QApplication; app = QApplication([]); "
        "pos = open_pos(companion_url='http://127.0.0.1:9', data_dir=Path(sys.argv[1])); "
        "pos.window.show(); app.processEvents(); shown = pos.window.ticket_view.isVisible(); "
        "loaded = sorted(sys.modules); pos.stop(); print(json.dumps([shown, loaded]))"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    shown, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    early = sorted(n for n in AFTER_THE_FIRST_FRAME if any(m == n or m.startswith(n + ".") for m in loaded))
    assert shown and early == [], f"imported while building the first frame: {early}"


def test_the_first_frame_makes_no_dialog_s_qt_class() -> None:
    """PySide6 builds a class (with its enums) on first use: QMessageBox alone is about a millisecond."""
    code = (
        "import json, posdesk.gui.__main__, posdesk.gui.app, posdesk.gui.qt as qt; "
        "print(json.dumps(sorted(n for n in qt.__all__ if n in vars(qt))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    made = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "QLabel" in made  # the check sees what the first frame makes
    assert made.isdisjoint({"QMessageBox", "QDialog", "QDialogButtonBox", "QInputDialog", "QFileDialog"})


def test_a_phone_number_is_still_formatted_once_its_library_loads() -> None:
    from posdesk.pos.phones import format_phone

    assert format_phone("5550100001", "US") == "(555) 010-0001"
    assert format_phone("+44 20 7946 0958", "US") == "+44 20 7946 0958"
    assert format_phone("not a phone", "US") == "not a phone"


def test_every_qt_name_the_screens_import_is_there_when_first_used() -> None:
    """``posdesk.gui.qt`` makes its Qt names on first use; each one must still be PySide6's own."""
    code = (
        "import importlib, json, posdesk.gui.qt as qt; "
        "print(json.dumps([n for n in qt.__all__ if getattr(qt, n) is not "
        "getattr(importlib.import_module(qt._HOMES[n]), n)]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_ticket_ids_are_random_version_4_uuids_in_hex() -> None:
    import uuid

    from posdesk.core.ticket import new_id

    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for made in ids:
        parsed = uuid.UUID(hex=made)
        assert parsed.hex == made and len(made) == 32
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_modules_imported_after_qt_are_not_read_for_pyside_s_feature_check(tmp_path: Path) -> None:
    """PySide6 would read the source of every module imported after it (posdesk.gui.qt answers instead);
    a module that selects one of PySide's name styles still gets it."""
    (tmp_path / "plain_module.py").write_text("VALUE = 1\n", encoding="utf-8")
    (tmp_path / "snake_module.py").write_text(
        "from __feature__ import snake_case\n"
        "from PySide6.QtWidgets import QLabel\n\n\n"
        "def text() -> str:\n    label = QLabel()\n    label.set_text('snake')\n    return label.text()\n",
        encoding="utf-8",
    )
    code = (
        "import json, linecache, sys; sys.path.insert(0, sys.argv[1]); import posdesk.gui.qt as qt; "
        "app = qt.QApplication([]); import plain_module, snake_module; "
        "print(json.dumps([sorted(p for p in linecache.cache if p.startswith(sys.argv[1])), snake_module.text()]))"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    command = [sys.executable, "-c", code, str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    read, text = json.loads(done.stdout.strip().splitlines()[-1])
    assert read == [] and text == "snake"
