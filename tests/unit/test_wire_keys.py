"""The keys of the JSON forms a terminal and a companion of adjacent versions send each other (and a
terminal keeps in its cache) stay as they are. These forms are written field by field from their values
(``field_values``, ``payment_to_wire``), so a field added to, renamed in or dropped from a value changes
what the other side reads: this says so, and the change must be meant (and read by both versions)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from posdesk.companion.payments.balance import IN_STORE
from posdesk.companion.payments.ledger import payment_wire
from posdesk.companion.stores import StoreSettings
from posdesk.store.values import TerminalSettings

STORE_SETTINGS_KEYS = {
    "business_name",
    "currency",
    "address",
    "default_locale",
    "languages",
    "tips_allowed",
    "tip_presets",
    "tip_max_rate",
    "surcharge_rate",
    "link_expiry_hours",
    "card_on_file_for_memberships",
    "phone",
    "email",
    "brand_color",
    "logo",
}
TERMINAL_SETTINGS_KEYS = {
    "online_payment_link_enabled",
    "business_name",
    "business_address",
    "business_phone",
    "business_email",
    "brand_color",
    "logo",
    "currency",
    "locale",
    "languages",
    "tip_policy",
    "surcharge_rate",
    "link_expiry_hours",
    "promotions",
    "companion_url",
    "store_id",
    "terminal_name",
    "manager_pin_hash",
    "demo_links_on_lan",
}
# A payment in the invoice.paid / partially_paid / tip events; "refunded" (null) since session 5.
PAID_PAYMENT_KEYS = {
    "id",
    "amount",
    "tip",
    "currency",
    "method",
    "card_brand",
    "card_last4",
    "received_at",
    "reference",
    "refunded",
}


def test_a_stores_settings_go_to_the_terminals_under_the_same_keys() -> None:
    wire = StoreSettings("Studio", "USD", extra={"later_version_key": 1}).to_wire()
    assert set(wire) == STORE_SETTINGS_KEYS | {"later_version_key"}  # a newer companion's key is passed on


def test_a_terminals_settings_are_kept_under_the_same_keys() -> None:
    assert set(TerminalSettings().to_json()) == TERMINAL_SETTINGS_KEYS


def test_a_paid_events_payment_has_the_same_keys_online_and_at_the_counter() -> None:
    for gateway, method in (("simulator", "online_card"), (IN_STORE, "cash")):
        row = SimpleNamespace(
            id="p1",
            gateway=gateway,
            payment_method_ref="cash" if gateway == IN_STORE else "pm_1",
            amount_minor=4320,
            tip_minor=500,
            currency="USD",
            card_brand="visa",
            card_last4="4242",
            succeeded_at=datetime(2026, 12, 6, 18, 0, tzinfo=UTC),
            gateway_payment_id="pi_1",
        )
        wire = payment_wire(row)  # type: ignore[arg-type]
        assert set(wire) == PAID_PAYMENT_KEYS
        assert (wire["amount"], wire["tip"], wire["method"]) == (4320, 500, method)
        assert wire["received_at"] == "2026-12-06T18:00:00+00:00" and wire["refunded"] is None
