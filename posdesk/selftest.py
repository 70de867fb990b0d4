"""``posdesk --self-test``: prove that an installed or freshly built POS works, without a screen.

It runs what a cashier's first minute would, offscreen, and reports each step on one line:

1. the bundled files are there: ``resources/``, the companion's templates, static files and
   translations, the Simulator's card form, both sets of migrations, stripe's CA bundle;
2. this terminal's own database opens and is migrated to the newest schema;
3. the main window opens against an embedded demo companion (in a temporary folder, so the terminal's
   real demo data is left alone) and this terminal pairs with it;
4. the companion's database is at its newest schema;
5. a test invoice uploaded like the POS uploads it renders as a payment page, with its static files.

Exit status 0 when every step passed, 1 otherwise; the last line is ``posdesk self-test: ok`` or
``posdesk self-test: failed``. A packaged build is checked this way in CI (``packaging/build-linux.sh``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from posdesk import __version__, paths
from posdesk.config import PosConfig

log = logging.getLogger("posdesk.selftest")
SAMPLE_SERVICE = "Self-test haircut"


@dataclass(frozen=True, slots=True)
class Step:
    """One checked step: its name, whether it passed, and what was found."""

    name: str
    ok: bool
    detail: str


def bundled_files() -> list[Path]:
    """The files a build must carry; missing ones are what a bad spec or package-data line loses."""
    from posdesk.companion import i18n
    from posdesk.companion import migrations as companion_migrations
    from posdesk.store import database as store_database

    package = Path(__file__).resolve().parent
    resources = paths.resources_dir()
    wanted = [
        resources / "style" / "posdesk.qss",
        resources / "sample_data.json",
        package / "companion" / "templates" / "pay.html",
        package / "companion" / "static" / "pay.css",
        package / "companion" / "static" / "pay.js",
        package / "gateways" / "simulator" / "templates",
        store_database.MIGRATIONS_DIR / "env.py",
        store_database.MIGRATIONS_DIR / "versions",
        companion_migrations.MIGRATIONS_DIR / "env.py",
        companion_migrations.MIGRATIONS_DIR / "versions",
        _package_folder("stripe") / "data" / "ca-certificates.crt",
    ]
    wanted += [package / "companion" / "i18n" / f"{lang}.json" for lang in i18n.LANGUAGES if lang != "en"]
    return wanted


def _package_folder(package: str) -> Path:
    """Where an installed package's files are, without importing it (stripe takes seconds to import)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{package} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def check_bundled_files() -> str:
    missing = [path for path in bundled_files() if not path.exists()]
    for folder in (p for p in bundled_files() if p.name in {"versions", "templates"} and p.is_dir()):
        if not any(child.suffix in {".py", ".html"} for child in folder.iterdir()):
            missing.append(folder / "*")
    if missing:
        raise AssertionError("missing: " + ", ".join(str(p) for p in missing))
    return f"{len(bundled_files())} files and folders present"


def check_terminal_database() -> str:
    from alembic.script import ScriptDirectory

    from posdesk.store import Database
    from posdesk.store.database import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with Database.open() as db, db.engine.connect() as connection:
        from alembic.runtime.migration import MigrationContext

        current = MigrationContext.configure(connection).get_current_revision()
        path = db.path
    if current != head:
        raise AssertionError(f"{path} is at revision {current}, expected {head}")
    return f"{path} at revision {current}"


def sample_invoice(currency: str = "USD", service: str = SAMPLE_SERVICE) -> tuple[dict[str, Any], str]:
    """A small invoice as the POS uploads it (wire format plus link token), and its token."""
    from posdesk.core.catalog import ItemKind
    from posdesk.core.invoice import Invoice, InvoiceClient
    from posdesk.core.links import new_link_token
    from posdesk.core.money import Money
    from posdesk.core.ticket import Ticket, TicketLine

    ticket = Ticket.new(1, currency)
    ticket.add_line(
        TicketLine(
            id=uuid.uuid4().hex,
            item_id="selftest-haircut",
            kind=ItemKind.APPOINTMENT,
            name=service,
            unit_price=Money(4000, currency),
            tax_rate=Decimal("0.08"),
            staff="Sam",
        )
    )
    client = InvoiceClient(id="selftest-client", name="Self Test")
    ticket.set_client(client.id, client.name)
    invoice = Invoice.from_ticket(
        ticket,
        invoice_id=uuid.uuid4().hex,
        version=1,
        locale="en_US",
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        client=client,
    )
    token = new_link_token()
    return {**invoice.to_wire(), "link_token": token}, token


class SelfTest:
    """Runs the steps in order; a step that fails is reported and the rest still run when they can."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.steps: list[Step] = []

    def step(self, name: str, check: Callable[[], str]) -> bool:
        started = time.perf_counter()
        try:
            detail = check()
            ok = True
        except Exception as exc:
            detail = f"{type(exc).__name__}: {exc}"
            if PosConfig.from_env().self_test_traceback:
                detail += "\n" + traceback.format_exc()
            ok = False
        elapsed = time.perf_counter() - started
        self.steps.append(Step(name, ok, detail))
        self._print(f"  {'ok  ' if ok else 'FAIL'} {name} ({elapsed:.2f} s): {detail}")
        return ok

    def _print(self, line: str) -> None:
        # Also in the log: a windowed Windows build has no stdout, and its log file is the report.
        log.info("%s", line.strip())
        if self.out is not None:
            print(line, file=self.out, flush=True)

    def run(self) -> int:
        from posdesk.companion.i18n import LANGUAGES  # noqa: F401  (fail early and clearly if unimportable)

        self._print(
            f"posdesk {__version__} self-test ({sys.platform}, {'frozen' if _frozen() else 'source'})"
        )
        self.step("bundled files", check_bundled_files)
        self.step("this terminal's database", check_terminal_database)
        with tempfile.TemporaryDirectory(prefix="posdesk-selftest-") as temporary:
            self._with_window(Path(temporary))
        ok = all(step.ok for step in self.steps)
        self._print("posdesk self-test: ok" if ok else "posdesk self-test: failed")
        return 0 if ok else 1

    def _with_window(self, folder: Path) -> None:
        import httpx

        from posdesk.gui.app import load_style, start_pos
        from posdesk.gui.qt import QApplication, QObject

        app = QApplication.instance() or QApplication(
            [sys.argv[0] if sys.argv else "posdesk", "-platform", "offscreen"]
        )
        load_style(app)  # type: ignore[arg-type]
        pos: Any = None

        def open_window() -> str:
            nonlocal pos
            pos = start_pos(demo=True, data_dir=folder)
            pos.window.show()
            app.processEvents()
            if pos.companion is None:
                raise AssertionError("; ".join(pos.notes) or "the embedded companion did not start")
            if pos.window.findChild(QObject, "newTicketView") is None:
                raise AssertionError("the main window has no New Ticket view")
            if not pos.ctx.connection.terminal_id:
                raise AssertionError("the terminal did not pair with the companion")
            return f"window open, paired with the companion at {pos.companion.url}"

        def companion_database() -> str:
            from sqlalchemy import create_engine

            from posdesk.companion import migrations
            from posdesk.companion.embedded import DATABASE_FILE

            engine = create_engine(f"sqlite+pysqlite:///{folder / 'companion' / DATABASE_FILE}")
            try:
                current, head = migrations.current_revision(engine), migrations.head_revision()
            finally:
                engine.dispose()
            if current != head:
                raise AssertionError(f"at revision {current}, expected {head}")
            return f"at revision {current}"

        def payment_page() -> str:
            url = pos.companion.url
            credential = pos.ctx.vault.load(url)
            body, token = sample_invoice(pos.ctx.settings.currency)
            with httpx.Client(base_url=url, timeout=10) as http:
                uploaded = http.put(
                    f"/api/v1/invoices/{body['invoice_id']}",
                    json=body,
                    headers={"Authorization": f"Bearer {credential}"},
                )
                if uploaded.status_code != 200:
                    raise AssertionError(
                        f"invoice upload answered {uploaded.status_code}: {uploaded.text[:200]}"
                    )
                page = http.get(f"/pay/{token}")
                if page.status_code != 200 or SAMPLE_SERVICE not in page.text:
                    raise AssertionError(f"the payment page answered {page.status_code} without the invoice")
                assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
                if not assets:
                    raise AssertionError("the payment page links no style sheet or script")
                for asset in assets:
                    found = http.get(asset)
                    if found.status_code != 200 or not found.content:
                        raise AssertionError(f"{asset} answered {found.status_code}")
            return f"page rendered ({len(page.content)} bytes) with {len(assets)} static files"

        try:
            if self.step("main window with the embedded companion", open_window):
                self.step("companion database", companion_database)
                self.step("payment page for a test invoice", payment_page)
        finally:
            if pos is not None:
                pos.window.close()
                pos.stop()
                app.processEvents()


def _frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def run_self_test(out: TextIO | None = None) -> int:
    """Run every step offscreen, print a short report to ``out`` (stdout), return the exit status."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt starts: no window appears, no display needed
    return SelfTest(out if out is not None else sys.stdout).run()
