"""GUI fixtures: a real SQLite file through posdesk.store, a small known catalog, the POS window."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from posdesk.core.catalog import (
    AppointmentDetails,
    CatalogItem,
    ClassDetails,
    GiftCardDetails,
    ItemKind,
    MembershipDetails,
    PackageDetails,
    ProductDetails,
)
from posdesk.core.client import Client, Holdings, MembershipHolding, PackageHolding
from posdesk.core.money import Money
from posdesk.gui.backend import PosBackend
from posdesk.gui.context import Connection, PosContext
from posdesk.gui.main_window import MainWindow
from posdesk.gui.worker import Worker
from posdesk.store import (
    AppointmentRepository,
    CatalogRepository,
    ClientRepository,
    Database,
    SettingsRepository,
)

TZ = ZoneInfo("America/New_York")
COMPANION = "http://127.0.0.1:8765"


def usd(text: str) -> Money:
    return Money.from_decimal(text, "USD")


CATALOG = (
    CatalogItem("svc_cut", ItemKind.APPOINTMENT, "Haircut", usd("40"), AppointmentDetails(staff="Sam"), Decimal("0.08")),
    CatalogItem("svc_blowout", ItemKind.APPOINTMENT, "Blowout", usd("35"), AppointmentDetails(staff="Ana"), Decimal("0.08")),
    CatalogItem("cls_yoga", ItemKind.CLASS, "Morning yoga", usd("25"), ClassDetails(), Decimal("0.08")),
    CatalogItem("prd_shampoo", ItemKind.PRODUCT, "Shampoo", usd("18"), ProductDetails(sku="SH-1", stock=9), Decimal("0.08")),
    CatalogItem(
        "mem_gold", ItemKind.MEMBERSHIP, "Gold membership", usd("99"),
        MembershipDetails(period_days=30, covers_service_ids=frozenset({"svc_blowout"})),
    ),
    CatalogItem(
        "pkg_cut5", ItemKind.PACKAGE, "5 haircuts", usd("180"),
        PackageDetails(sessions=5, service_ids=frozenset({"svc_cut"})),
    ),
    CatalogItem("gift", ItemKind.GIFT_CARD, "Gift card", usd("0"), GiftCardDetails()),
)  # fmt: skip

ADA = Client("c_ada", "Ada", "Lovelace", phone="+15550100001", email="ada@example.com", sms_consent=True)
GRACE = Client("c_grace", "Grace", "Hopper", phone="+15550100002")
BOB = Client("c_bob", "Bob", "Plain", email="bob@example.com")
TRICKY = Client("c_tricky", "<b>x</b>", "Tags")


def seed(db: Database, today: date) -> None:
    with db.session() as session:
        catalog = CatalogRepository(session)
        for item in CATALOG:
            catalog.upsert(item)
        clients = ClientRepository(session)
        for client in (ADA, GRACE, BOB, TRICKY):
            clients.create(client)
        clients.set_holdings(
            ADA.id, Holdings(packages=(PackageHolding("pkg_cut5", "5 haircuts", frozenset({"svc_cut"}), 2),))
        )
        clients.set_holdings(
            GRACE.id,
            Holdings(
                memberships=(
                    MembershipHolding(
                        "mem_gold", "Gold membership", frozenset({"svc_blowout"}), today + timedelta(days=20)
                    ),
                )
            ),
        )
        appointments = AppointmentRepository(session)
        appointments.book(
            "appt_ada", client_id=ADA.id, item_id="svc_cut", staff="Sam",
            start=datetime.combine(today, time(10, 0), tzinfo=TZ), duration_minutes=45,
        )  # fmt: skip
        appointments.book(
            "appt_bob", client_id=BOB.id, item_id="svc_blowout", staff="Ana",
            start=datetime.combine(today, time(11, 30), tzinfo=TZ), duration_minutes=30,
        )  # fmt: skip


@dataclass
class Pos:
    window: MainWindow
    ctx: PosContext
    db: Database

    @property
    def view(self):
        return self.window.ticket_view


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "pos.db")
    seed(database, datetime.now(TZ).date())
    yield database
    database.close()


def enable_feature(db: Database, on: bool = True, **changes: object) -> None:
    with db.session() as session:
        settings = SettingsRepository(session)
        settings.save_terminal(replace(settings.terminal(), online_payment_link_enabled=on, **changes))


def set_up_terminal(data_dir: Path, **settings: object) -> None:
    """The terminal whose data folder is ``data_dir`` as a manager left it: today's sample data (the
    store's time zone) and pay-by-link on, with ``settings`` (``companion_url=...``, ...)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database.open(data_dir / "posdesk.db")
    try:
        seed(db, datetime.now(TZ).date())
        enable_feature(db, True, **settings)
    finally:
        db.close()


@pytest.fixture
def make_pos(qtbot, db: Database) -> Iterator[Callable[..., Pos]]:
    made: list[Pos] = []

    def make(*, feature: bool = True, online: bool = True, **settings: object) -> Pos:
        enable_feature(db, feature, **settings)
        worker = Worker()
        ctx = PosContext(
            PosBackend(db), worker, connection=Connection(url=COMPANION, state="online" if online else "offline"),
            timezone=TZ,
        )  # fmt: skip
        window = MainWindow(ctx)
        qtbot.addWidget(window)
        window.show()
        pos = Pos(window, ctx, db)
        made.append(pos)
        return pos

    yield make
    for pos in made:
        pos.ctx.worker.shutdown()
        pos.ctx.network.shutdown()


@pytest.fixture
def pos(make_pos: Callable[..., Pos]) -> Pos:
    return make_pos()


@pytest.fixture
def pos_look(qapp) -> Iterator[None]:
    """The POS's own look, as a cashier sees it: its text font and colour, and its style sheet (bigger
    fields and buttons than Qt's); Qt's plain look again afterwards."""
    from posdesk.gui.app import load_style

    font, palette = qapp.font(), qapp.palette()
    load_style(qapp)
    yield
    qapp.setStyleSheet("")
    qapp.setFont(font)
    qapp.setPalette(palette)


def wait_idle(qtbot, ctx: PosContext) -> None:
    """Wait until every worker operation has run and its result reached the UI thread."""
    qtbot.waitUntil(lambda: not ctx.worker.busy and not ctx.network.busy, timeout=10_000)
