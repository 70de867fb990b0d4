#!/usr/bin/env python3
"""Render the POS's main screens to PNGs in docs/screenshots/ (under Xvfb, with the real style sheet),
and the client's payment page on a phone (Debian's Chromium at 390x844, 2x).

    python scripts/screenshots.py            # re-runs itself under xvfb-run when there is no display

Uses a throwaway data directory with the sample data. The POS screens need no companion (the link shown
is the one the terminal makes, as it does offline); the phone screenshots start the embedded demo
companion, upload the sample ticket's invoice to it and pay it with the Simulator's test card.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
SCREEN = "1280x800x24"


def rerun_under_xvfb() -> int:
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        print("screenshots need xvfb-run (apt-get install xvfb)", file=sys.stderr)
        return 2
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", POSDESK_SCREENSHOTS_CHILD="1")
    command = [xvfb, "-a", "-s", f"-screen 0 {SCREEN}", sys.executable, __file__, *sys.argv[1:]]
    return subprocess.call(command, env=env)


def main() -> int:
    if not os.environ.get("POSDESK_SCREENSHOTS_CHILD") and not os.environ.get("DISPLAY"):
        return rerun_under_xvfb()
    sys.path.insert(0, str(ROOT))
    data = Path(tempfile.mkdtemp(prefix="posdesk-shots-"))
    os.environ["POSDESK_DATA_DIR"] = str(data)
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    try:
        return render(data)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def render(data: Path) -> int:
    from dataclasses import replace
    from zoneinfo import ZoneInfo

    from posdesk.core.money import Money
    from posdesk.core.ticket import Payment, PaymentMethod
    from posdesk.gui.app import DEMO_BANNER, load_style
    from posdesk.gui.backend import PosBackend
    from posdesk.gui.context import Connection, PosContext
    from posdesk.gui.day_summary_dialog import DaySummaryDialog
    from posdesk.gui.main_window import MainWindow
    from posdesk.gui.new_ticket_view import ITEM_ROLE
    from posdesk.gui.qt import QApplication, QDialog
    from posdesk.gui.settings_dialog import SettingsDialog
    from posdesk.gui.tip_split_dialog import TipSplitDialog
    from posdesk.gui.worker import Worker
    from posdesk.store import Database, SettingsRepository, TicketRepository
    from posdesk.store.sample import load_sample_data

    app = QApplication.instance() or QApplication(sys.argv)
    load_style(app)
    tz = ZoneInfo("America/New_York")
    db = Database.open(data / "posdesk.db")
    load_sample_data(db, datetime.now(tz).date(), tz)
    with db.session() as session:
        settings = SettingsRepository(session)
        settings.save_terminal(replace(settings.terminal(), online_payment_link_enabled=True))
    worker = Worker()
    ctx = PosContext(
        PosBackend(db), worker, connection=Connection(url="http://127.0.0.1:8750", state="online", demo=True),
        timezone=tz,
    )  # fmt: skip
    window = MainWindow(ctx, demo_banner=DEMO_BANNER)
    window.resize(1280, 800)
    window.show()
    OUT.mkdir(parents=True, exist_ok=True)

    def settle() -> None:
        for _ in range(20):
            app.processEvents()
        while worker.busy or ctx.network.busy:
            app.processEvents()

    def shot(widget, name: str) -> None:
        settle()
        path = OUT / f"{name}.png"
        widget.grab().save(str(path))
        print(path.relative_to(ROOT))

    view = window.ticket_view
    # A client with a package: their appointment is covered ("In package"), plus a product with a discount.
    panel = view.services_panel
    with_package = None
    for row in range(panel.count()):
        appointment = panel.item(row).data(ITEM_ROLE)
        if appointment is not None and appointment.client is not None:
            holdings = ctx.backend.holdings(appointment.client.id)
            if holdings.packages or holdings.memberships:
                with_package = appointment
                break
    first = next(
        panel.item(row).data(ITEM_ROLE)
        for row in range(panel.count())
        if panel.item(row).data(ITEM_ROLE) is not None
    )
    view.open_appointment(with_package or first)
    products = [item for item in view.catalog.items if item.kind.value == "product"]
    classes = [item for item in view.catalog.items if item.kind.value == "class"]
    for item in products[:1] + classes[:1]:
        view.add_item(item)
    if products:
        view.set_quantity(view.ticket.lines[1].id, 2)
        view.set_discount(view.ticket.lines[1].id, "10%")
    view.save()
    settle()
    shot(window, "new-ticket")
    window.resize(800, 540)  # a small terminal, or a 1600x1080 screen at 200%
    shot(window, "new-ticket-small")
    window.resize(1280, 800)
    invoiced = view.ticket

    dialog = window.open_send_invoice()
    assert dialog is not None, "Send Invoice is not available on the sample ticket"
    dialog.send_via_link()
    settle()
    shot(dialog, "send-invoice")
    dialog.accept()

    with db.session() as session:
        tickets = TicketRepository(session)
        ticket = tickets.get(view.ticket.id)
        base = ticket.revision
        due = view.priced.balance_due
        ticket.record_payment(
            Payment("demo-pay", due, Money(600, due.currency), PaymentMethod.ONLINE_CARD, datetime.now(UTC), card_brand="visa", card_last4="4242"),
            Money(0, due.currency),
        )  # fmt: skip
        tickets.save(ticket, base_revision=base)
    ctx.tickets_changed.emit({ticket.id})
    shot(window, "closed-ticket")
    # The manager shares the client's tip: the provider of the service and an assistant who helped.
    split = TipSplitDialog(ctx, view.ticket, view.ticket.payments[0], window)
    split.show()
    split.provider_edit.setText("Jordan (assistant)")
    split.add_provider()
    for row in range(split.table.rowCount()):  # $4.50 to the provider, $1.50 to the assistant
        split.table.item(row, 2).setText({0: "4.50", split.table.rowCount() - 1: "1.50"}.get(row, "0.00"))
    shot(split, "tip-split")
    split.save()
    settle()

    # Another client pays at the counter: cash handed over, change due; then the manager's day summary.
    view.new_ticket()
    view.set_walk_in()
    for item in products[:1] + classes[:1]:
        view.add_item(item)
    tender = window.open_take_payment()
    settle()
    tender = tender or window.open_take_payment()
    assert tender is not None, "Take payment is not available on the walk-in ticket"
    tender.amount.setText(f"{int(view.priced.balance_due.minor / 100) + 5}")
    shot(tender, "tender")
    tender.record()
    settle()
    summary = DaySummaryDialog(ctx, window)
    summary.show()
    settle()
    shot(summary, "day-summary")
    summary.close()

    settings_dialog = SettingsDialog(ctx, window)
    settings_dialog.show()
    shot(settings_dialog, "settings")
    settings_dialog.reject()
    for child in window.findChildren(QDialog):
        child.close()
    worker.shutdown()
    db.close()
    phone_pages(data, invoiced)
    return 0


PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def phone_pages(data: Path, ticket) -> None:
    """The payment page of ``ticket``'s invoice as a client's phone shows it, then the receipt."""
    import uuid
    from datetime import timedelta

    import httpx
    from playwright.sync_api import sync_playwright

    from posdesk.companion.embedded import start_embedded
    from posdesk.core.invoice import Invoice, InvoiceClient
    from posdesk.core.links import new_link_token
    from posdesk.sync.client import pair

    companion = start_embedded(data / "companion")
    try:
        paired = pair(companion.url, companion.pairing_code, "Screenshots")
        auth = {"Authorization": f"Bearer {paired.credential}"}
        with httpx.Client(base_url=companion.url, headers=auth, timeout=10) as api:
            store = api.get("/api/v1/settings").json()
            contact = {"phone": "+1 555 010 2000", "email": "hello@demo-salon.example", "brand_color": "#1a7f5a"}
            api.put("/api/v1/settings", json={**store, **contact}).raise_for_status()
            client = InvoiceClient(id=ticket.client_id or "walk-in", name=ticket.client_name or "Sofía Álvarez")
            invoice = Invoice.from_ticket(
                ticket, invoice_id=uuid.uuid4().hex, version=1, locale="en_US",
                expires_at=datetime.now(UTC) + timedelta(hours=72), client=client,
            )  # fmt: skip
            body = {**invoice.to_wire(), "link_token": new_link_token()}
            api.put(f"/api/v1/invoices/{body['invoice_id']}", json=body).raise_for_status()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_context(**PHONE).new_page()
            page.goto(f"{companion.url}/pay/{body['link_token']}")
            page.get_by_test_id("tip-option").nth(1).click()
            page.screenshot(path=str(OUT / "payment-page-phone.png"))
            print(OUT / "payment-page-phone.png")
            page.locator("#sim_number").fill("4242424242424242")
            page.locator("#sim_exp").fill("1239")
            page.locator("#sim_cvc").fill("123")
            page.get_by_test_id("pay-button").click()
            page.get_by_test_id("confirmation").wait_for()
            page.screenshot(path=str(OUT / "receipt-phone.png"), full_page=True)
            print(OUT / "receipt-phone.png")
            browser.close()
    finally:
        companion.stop()


if __name__ == "__main__":
    sys.exit(main())
