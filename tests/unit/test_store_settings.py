"""Terminal settings: defaults, round trip, and files from older or newer versions."""

from __future__ import annotations

from decimal import Decimal

from posdesk.core.catalog import ItemKind
from posdesk.core.money import Money
from posdesk.core.pricing import Promotion
from posdesk.core.tips import TipPolicy, TipPreset
from posdesk.store import Database, SettingsRepository, TerminalSettings
from posdesk.store.terminal_settings import TERMINAL_KEY


def test_a_fresh_terminal_has_send_invoice_off_and_sensible_defaults(db: Database) -> None:
    with db.reading() as session:
        settings = SettingsRepository(session).terminal()
    assert settings == TerminalSettings()
    assert settings.online_payment_link_enabled is False
    assert settings.currency == "USD" and settings.link_expiry_hours > 0
    assert settings.tip_policy.allowed and len(settings.tip_policy.presets) == 3
    assert settings.manager_pin_hash == ""


def test_settings_round_trip(db: Database) -> None:
    saved = TerminalSettings(
        online_payment_link_enabled=True,
        business_name="Willow & Sage Salon",
        business_address="418 Harbor Street",
        currency="EUR",
        locale="fr_FR",
        languages=("fr", "en"),
        tip_policy=TipPolicy(
            allowed=True,
            presets=(
                TipPreset(percent=Decimal("0.10")),
                TipPreset(amount=Money(500, "EUR")),
                TipPreset(percent=Decimal("0.25")),
            ),
            max_rate=Decimal("0.5"),
        ),
        surcharge_rate=Decimal("0.03"),
        link_expiry_hours=48,
        promotions=(
            Promotion("SPRING10", "Spring 10%", percent=Decimal("0.10")),
            Promotion(
                "FIVE",
                "5 off products",
                amount=Money(500, "EUR"),
                stackable=False,
                eligible_kinds=frozenset({ItemKind.PRODUCT}),
            ),
        ),
        companion_url="https://pay.example.com",
        store_id="store-42",
        terminal_name="Front desk",
        manager_pin_hash="scrypt$abc$def",
    )
    with db.session() as session:
        SettingsRepository(session).save_terminal(saved)
    with db.reading() as session:
        loaded = SettingsRepository(session).terminal()
    assert loaded == saved
    assert loaded.promotions_by_code()["FIVE"].eligible_kinds == {ItemKind.PRODUCT}


def test_an_older_or_newer_file_still_loads(db: Database) -> None:
    with db.session() as session:
        SettingsRepository(session).set(
            TERMINAL_KEY,
            {
                "business_name": "Old Salon",
                "online_payment_link_enabled": True,
                "a_setting_from_the_future": {"x": 1},  # unknown: ignored
                "link_expiry_hours": "soon",  # unreadable: default
                "surcharge_rate": "0.02",
            },
        )
    with db.reading() as session:
        settings = SettingsRepository(session).terminal()
    assert settings.business_name == "Old Salon"
    assert settings.online_payment_link_enabled is True
    assert settings.link_expiry_hours == TerminalSettings().link_expiry_hours
    assert settings.surcharge_rate == Decimal("0.02")
    assert settings.tip_policy == TipPolicy()


def test_a_broken_value_never_turns_send_invoice_on(db: Database) -> None:
    with db.session() as session:
        SettingsRepository(session).set(TERMINAL_KEY, {"online_payment_link_enabled": "yes"})
    with db.reading() as session:
        assert SettingsRepository(session).terminal().online_payment_link_enabled is False
