"""The manager's store settings reach the companion: pricing, the payment page, other terminals.

A real companion in uvicorn on loopback, POS caches in SQLite files and their sync services. The manager
saves settings the way the Settings dialog does (:func:`posdesk.sync.settings_reconciliation.save_and_queue`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from posdesk.companion.auth import new_pairing_code
from posdesk.companion.models import Invoice as InvoiceRow
from posdesk.companion.models import Store
from posdesk.core.events import LinkStatus
from posdesk.core.money import Money
from posdesk.core.pricing import Promotion
from posdesk.core.tips import TipPolicy, TipPreset
from posdesk.store.outbox import Outbox
from posdesk.sync import ConnectionState, pair
from posdesk.sync.client import CompanionClient
from posdesk.sync.invoice_links import send_invoice
from posdesk.sync.settings_reconciliation import OUTBOX_KIND, reconcile_store_settings, save_and_queue
from tests.companion.conftest import add_store
from tests.e2e.test_sync import running_companion
from tests.till import Till
from tests.waiting import free_port, wait_until

SPRING = Promotion(code="SPRING15", name="Spring 15%", percent=Decimal("0.15"))


MANAGER = {
    "business_name": "Rosa's Salon",
    "business_address": "12 Main St",
    "surcharge_rate": Decimal("0.03"),
    "tip_policy": TipPolicy(
        presets=(
            TipPreset(percent=Decimal("0.10")),
            TipPreset(percent=Decimal("0.20")),
            TipPreset(percent=Decimal("0.25")),
        )
    ),
    "promotions": (SPRING,),
}


def pair_till(app: Any, url: str, store_id: str, path: Path) -> Till:
    with app.state.db.write() as session:
        code = new_pairing_code(session, store_id)
    return Till(path, url, pair(url, code, path.stem).credential, store_id)


def store_row(app: Any, store_id: str) -> Store:
    with app.state.db.read() as session:
        store = session.get(Store, store_id)
        assert store is not None
        session.expunge(store)
        return store


def test_the_managers_surcharge_tips_and_promotion_price_the_invoice_and_show_on_the_page(
    tmp_path: Path,
) -> None:
    with running_companion(tmp_path / "companion.db") as (app, url):
        store_id = add_store(app, "Test Salon").store_id
        till = pair_till(app, url, store_id, tmp_path / "till.db")
        try:
            till.start()
            till.manager_saves(**MANAGER)
            ticket_id = till.ticket_with_promo("spring15")
            link = send_invoice(
                till.db, ticket_id, amount_requested=None, companion_url=url, settings=till.settings()
            )
            wait_until(lambda: till.pending() == 0, what="the settings and the invoice to upload")
            wait_until(lambda: till.link_status(ticket_id) is LinkStatus.SENT, what="the link to be sent")
            assert not till.invoice(ticket_id).out_of_date, "the companion accepted the invoice (no 422)"
            assert till.notices == []

            stored = store_row(app, store_id)
            assert stored.name == "Rosa's Salon" and stored.settings["surcharge_rate"] == "0.03"
            assert set(stored.promotions) == {"SPRING15"}
            with app.state.db.read() as session:
                row = session.get(InvoiceRow, link.invoice_id)
                assert row is not None and row.version == 1

            page = httpx.get(link.url, timeout=10)
            assert page.status_code == 200
            html = page.text
            assert "Rosa&#39;s Salon" in html or "Rosa's Salon" in html
            # $60 haircut, 15% promo -> $51.00; 3% card surcharge -> $1.53; total $52.53.
            assert "Promo SPRING15" in html and "$9.00" in html
            assert "Card surcharge" in html and "$1.53" in html and "$52.53" in html
            # The manager's presets on the $51.00 tip base, not the store's old 15/18/20%.
            for label, amount in (("10%", "$5.10"), ("20%", "$10.20"), ("25%", "$12.75")):
                assert f"<b>{label}</b><small>{amount}</small>" in html
            assert "<b>18%</b>" not in html and "<b>15%</b>" not in html
        finally:
            till.close()


def test_a_change_made_offline_reaches_the_companion_before_the_invoice_priced_with_it(
    tmp_path: Path,
) -> None:
    port = free_port()
    db_file = tmp_path / "companion.db"
    with running_companion(db_file, port) as (app, url):
        store_id = add_store(app, "Test Salon").store_id
        till = pair_till(app, url, store_id, tmp_path / "till.db")
        till.start()
        wait_until(
            lambda: store_row(app, store_id).settings.get("pos_managed"), what="the store to be seeded"
        )
        # The seeding push is done once its answer is back, not when the companion has stored it.
        wait_until(lambda: till.pending() == 0, what="the seeding push to be marked done")
        till.sync.stop()  # type: ignore[union-attr]
    try:
        # The companion is down: the manager sets a surcharge and a promotion, the cashier sends.
        till.manager_saves(**MANAGER)
        ticket_id = till.ticket_with_promo("SPRING15")
        send_invoice(till.db, ticket_id, amount_requested=None, companion_url=url, settings=till.settings())
        with till.db.reading() as session:
            waiting = [e.kind for e in Outbox(session).due(limit=10)]
        assert waiting == [OUTBOX_KIND, "invoice.upsert"], "the settings go first"

        till.sync = None
        till.start()
        time.sleep(0.5)
        with running_companion(db_file, port) as (app2, _url):
            wait_until(lambda: till.pending() == 0, timeout=20, what="the outbox to drain on reconnect")
            wait_until(lambda: till.link_status(ticket_id) is LinkStatus.SENT, what="the upload")
            assert not till.invoice(ticket_id).out_of_date, "the invoice was not refused for its surcharge"
            assert store_row(app2, store_id).settings["surcharge_rate"] == "0.03"
    finally:
        till.close()


@contextmanager
def saved_on_one_till_and_adopted_by_another(tmp_path: Path, first: str, second: str) -> Iterator[tuple[str, Till, Till]]:
    """A companion and two tills of one store: the manager saved the store's settings on the ``first``
    (pushed), and the ``second``, started after, adopted them. Yields the companion's URL and the tills."""
    with running_companion(tmp_path / "companion.db") as (app, url):
        store_id = add_store(app, "Test Salon").store_id
        tills = pair_till(app, url, store_id, tmp_path / f"{first}.db"), pair_till(app, url, store_id, tmp_path / f"{second}.db")
        try:
            tills[0].start()
            tills[0].manager_saves(**MANAGER)
            wait_until(lambda: tills[0].pending() == 0, what=f"the push from {first}")
            tills[1].start()
            wait_until(lambda: tills[1].adoptions == 1, what=f"{second} to adopt the store's settings")
            yield url, *tills
        finally:
            for till in tills:
                till.close()


def test_a_second_terminal_adopts_the_store_settings_and_prices_alike(tmp_path: Path) -> None:
    with saved_on_one_till_and_adopted_by_another(tmp_path, "till1", "till2") as (url, _till1, till2):
        adopted = till2.settings()
        assert adopted.surcharge_rate == Decimal("0.03") and adopted.business_name == "Rosa's Salon"
        assert adopted.promotions == (SPRING,)
        assert [p.percent for p in adopted.tip_policy.presets] == [
            Decimal("0.10"),
            Decimal("0.20"),
            Decimal("0.25"),
        ]
        assert adopted.online_payment_link_enabled, "the terminal's own switch is kept"
        assert till2.pending() == 0, "adopting pushes nothing back"

        ticket_id = till2.ticket_with_promo("SPRING15")
        send_invoice(till2.db, ticket_id, amount_requested=None, companion_url=url, settings=adopted)
        wait_until(lambda: till2.link_status(ticket_id) is LinkStatus.SENT, what="till 2's upload")
        assert not till2.invoice(ticket_id).out_of_date
        # The companion's event can arrive before its answer to the upload: wait for the outbox too.
        wait_until(lambda: till2.pending() == 0, what="till 2's upload to be marked done")

        # Reconnecting again changes nothing: the terminals agree.
        till2.pause()  # the reconnect below is this test's, not the sync service's
        assert asyncio.run(reconnect(till2)) == "in_step"
        assert till2.adoptions == 1 and till2.pending() == 0


def test_a_terminal_online_adopts_a_change_saved_on_another_without_reconnecting(tmp_path: Path) -> None:
    with saved_on_one_till_and_adopted_by_another(tmp_path, "front", "back") as (url, front, back):
        wait_until(lambda: back.sync.state is ConnectionState.ONLINE, what="the back till online")  # type: ignore[union-attr]

        # Both stay connected; the manager raises the surcharge and adds a promotion at the front.
        autumn = Promotion(code="AUTUMN5", name="Autumn $5", amount=Money(500, "USD"))
        front.manager_saves(surcharge_rate=Decimal("0.04"), promotions=(SPRING, autumn))
        # The sync thread saves adopted settings, then tells the window: wait for both. (The store's
        # settings and promotions are two requests: the back till may adopt the first alone on the way.)
        wait_until(
            lambda: back.adoptions >= 2
            and back.settings().surcharge_rate == Decimal("0.04")
            and {p.code for p in back.settings().promotions} == {"SPRING15", "AUTUMN5"},
            what="the back till to adopt the change while connected, and say so",
        )
        assert back.sync.state is ConnectionState.ONLINE  # type: ignore[union-attr]
        assert back.pending() == 0, "adopting pushes nothing back"
        assert front.adoptions == 0, "the front till's own change is not adopted back"
        assert front.settings().surcharge_rate == Decimal("0.04")

        # The back till's next invoice is priced with the new surcharge and accepted.
        ticket_id = back.ticket_with_promo("AUTUMN5")
        send_invoice(back.db, ticket_id, amount_requested=None, companion_url=url, settings=back.settings())
        wait_until(lambda: back.link_status(ticket_id) is LinkStatus.SENT, what="the back till's upload")
        assert not back.invoice(ticket_id).out_of_date, "priced like the companion: no 422"


def test_refused_store_settings_are_told_to_the_manager(tmp_path: Path) -> None:
    with running_companion(tmp_path / "companion.db") as (app, url):
        store_id = add_store(app, "Test Salon").store_id
        till = pair_till(app, url, store_id, tmp_path / "till.db")
        try:
            till.start()
            # A fixed tip preset larger than the companion accepts (more than 10^9 minor units).
            huge = TipPolicy(presets=(TipPreset(amount=Money(10**10, "USD")),))
            till.manager_saves(tip_policy=huge)
            wait_until(lambda: till.notices, what="the refusal to reach the manager")
            assert till.notices[0].startswith("The companion refused the store settings:")
            assert "tip_presets[0].amount" in till.notices[0]
            till.pause()  # the reconnect below is this test's, not the sync service's
            assert till.pending() == 0, "a refusal is final: it is not retried forever"
            # A reconnect finds the store still without settings: the refused ones are not seeded again.
            assert asyncio.run(reconnect(till)) == "refused"
            assert till.pending() == 0
        finally:
            till.close()


def test_a_save_made_while_connecting_is_pushed_once(tmp_path: Path) -> None:
    """The manager saves while the connect-time check reads the unset store: the save's push sets the
    store; the check does not queue a second push of the same settings (refused ones would be told twice)."""
    with running_companion(tmp_path / "companion.db") as (app, url):
        store_id = add_store(app, "Test Salon").store_id
        till = pair_till(app, url, store_id, tmp_path / "till.db")

        class ManagerSavesMeanwhile(CompanionClient):
            async def get(self, path: str) -> dict[str, Any]:
                answer = await super().get(path)
                if path == "/settings":
                    till.manager_saves(**MANAGER)  # between the companion's answer and the check's decision
                return answer

        try:
            assert asyncio.run(reconnect(till, ManagerSavesMeanwhile)) == "waiting"
            with till.db.reading() as session:
                assert [e.kind for e in Outbox(session).due(limit=10)] == [OUTBOX_KIND]
            till.start()
            wait_until(lambda: till.pending() == 0, what="the manager's push")
            assert store_row(app, store_id).settings["surcharge_rate"] == "0.03"
        finally:
            till.close()


async def reconnect(till: Till, client_type: type[CompanionClient] = CompanionClient) -> str:
    """What the till's next connect does with the store settings (the outcome's word)."""
    client = client_type(till.companion_url, till.credential)
    try:
        return (await reconcile_store_settings(till.db, client)).outcome
    finally:
        await client.aclose()


def demo_store_settings(pos: Any) -> dict[str, Any]:
    """``GET /api/v1/settings`` of the demo companion, as the payment page will use them."""
    url = pos.ctx.connection.url
    headers = {"Authorization": f"Bearer {pos.ctx.vault.load(url)}"}
    return dict(httpx.get(f"{url}/api/v1/settings", headers=headers, timeout=10).json())


def start_demo_in_step(qtbot: Any, data_dir: Path) -> Any:
    """Start the POS in demo mode and wait until it and its companion agree on the store settings."""
    from posdesk.gui.app import start_pos

    pos = start_pos(demo=True, data_dir=data_dir)
    qtbot.addWidget(pos.window)

    def in_step() -> bool:
        with pos.db.reading() as session:
            pending = Outbox(session).pending_count()
        return (
            pos.ctx.connection.online and not pending and demo_store_settings(pos).get("pos_managed") is True
        )

    try:
        qtbot.waitUntil(in_step, timeout=15_000)
    except BaseException:
        pos.stop()  # its sync service and demo companion must not outlive the test
        raise
    return pos


def test_demo_mode_the_embedded_store_takes_the_sample_settings_and_refusals_reach_the_status_bar(
    qtbot, tmp_path: Path
) -> None:
    first = start_demo_in_step(qtbot, tmp_path / "demo")
    first.stop()
    # The second start finds the demo store already set: the two still agree.
    pos = start_demo_in_step(qtbot, tmp_path / "demo")
    try:
        page_store = demo_store_settings(pos)
        settings = pos.ctx.settings
        assert page_store["business_name"] == settings.business_name == "Willow & Sage Salon"
        assert page_store["address"] == settings.business_address
        assert page_store["languages"] == list(settings.languages) == ["en", "es", "fr"]
        assert page_store["surcharge_rate"] == str(settings.surcharge_rate)

        huge = TipPolicy(presets=(TipPreset(amount=Money(10**10, "USD")),))
        save_and_queue(pos.db, replace(pos.ctx.settings, tip_policy=huge))
        pos.ctx.wake_sync()
        status = pos.window.statusBar()
        qtbot.waitUntil(lambda: status.currentMessage().startswith("The companion refused"), timeout=15_000)
        assert "tip_presets[0].amount" in status.currentMessage()
    finally:
        pos.stop()
