"""Store settings, promotions and the gateway configuration through the POS API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from posdesk.companion.models import Store
from posdesk.companion.secrets_box import SecretsBox
from tests.companion.conftest import Companion, PairedTerminal, invoice_upload, put_invoice

STRIPE_SECRET = "sk_test_51Habcdefghijklmnopqrstuvwxyz0123456789"


def test_settings_round_trip(api: httpx.Client) -> None:
    settings = api.get("/api/v1/settings").json()
    assert settings["business_name"] == "Test Salon"
    assert settings["currency"] == "USD"
    assert settings["languages"] == ["en", "es", "fr"]
    changed = {
        **settings,
        "business_name": "Rosa's Salon",
        "address": "12 Main St",
        "languages": ["en", "es"],
        "tip_presets": [{"percent": "0.1"}, {"amount": 500}],
        "link_expiry_hours": 24,
        "card_on_file_for_memberships": True,
    }
    response = api.put("/api/v1/settings", json=changed)
    assert response.status_code == 200, response.text
    again = api.get("/api/v1/settings").json()
    assert again["business_name"] == "Rosa's Salon"
    assert again["tip_presets"] == [{"percent": "0.1"}, {"amount": 500}]
    assert again["languages"] == ["en", "es"]
    assert api.get("/api/v1/store").json()["name"] == "Rosa's Salon"


def test_tip_policy_comes_from_the_settings(companion: Companion) -> None:
    from posdesk.companion.stores import StoreSettings

    companion.api.put("/api/v1/settings", json={"business_name": "X", "tips_allowed": False})
    with companion.db.read() as session:
        policy = StoreSettings.of(session.get(Store, companion.terminal.store_id)).tip_policy()
    assert policy.allowed is False


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"business_name": ""}, "business_name"),
        ({"business_name": 42}, "business_name"),
        ({"currency": "XYZ"}, "currency"),
        ({"languages": ["en", "de"]}, "languages"),
        ({"languages": []}, "languages"),
        ({"default_locale": "fr", "languages": ["en"]}, "default_locale"),
        ({"tip_presets": [{"percent": "0"}]}, "tip_presets[0]"),
        ({"tip_presets": [{"percent": "0.1", "amount": 5}]}, "tip_presets[0]"),
        ({"tip_presets": [{"amount": -500}]}, "tip_presets[0]"),
        ({"tip_presets": [{"percent": "0.1"}] * 7}, "tip_presets"),
        ({"surcharge_rate": "1"}, "surcharge_rate"),
        ({"surcharge_rate": 0.03}, "surcharge_rate"),
        ({"link_expiry_hours": 0}, "link_expiry_hours"),
        ({"link_expiry_hours": "72"}, "link_expiry_hours"),
        ({"tips_allowed": "yes"}, "tips_allowed"),
    ],
)
def test_bad_settings_are_refused_and_change_nothing(
    api: httpx.Client, change: dict[str, Any], named: str
) -> None:
    before = api.get("/api/v1/settings").json()
    response = api.put("/api/v1/settings", json={**before, **change})
    assert response.status_code == 422
    assert named in response.json()["detail"]
    assert api.get("/api/v1/settings").json() == before


def test_currency_can_change_only_before_any_invoice(api: httpx.Client) -> None:
    settings = api.get("/api/v1/settings").json()
    assert api.put("/api/v1/settings", json={**settings, "currency": "EUR"}).status_code == 200
    assert api.put("/api/v1/settings", json={**settings, "currency": "USD"}).status_code == 200
    put_invoice(api, invoice_upload())
    response = api.put("/api/v1/settings", json={**settings, "currency": "EUR"})
    assert response.status_code == 409
    assert api.get("/api/v1/settings").json()["currency"] == "USD"


def test_promotions_round_trip(api: httpx.Client) -> None:
    body = {
        "promotions": [
            {"code": "spring15", "name": "Spring", "percent": "0.15"},
            {
                "code": "FIVE",
                "name": "Five off",
                "amount": 500,
                "stackable": False,
                "eligible_kinds": ["product"],
            },
        ]
    }
    response = api.put("/api/v1/promotions", json=body)
    assert response.status_code == 200, response.text
    promotions = {p["code"]: p for p in api.get("/api/v1/promotions").json()["promotions"]}
    assert promotions["SPRING15"]["percent"] == "0.15"
    assert promotions["FIVE"] == {
        "code": "FIVE", "name": "Five off", "percent": None, "amount": 500,
        "stackable": False, "eligible_kinds": ["product"], "active": True,
    }  # fmt: skip
    assert api.put("/api/v1/promotions", json={"promotions": []}).status_code == 200
    assert api.get("/api/v1/promotions").json() == {"promotions": []}


@pytest.mark.parametrize(
    "promotions",
    [
        "SPRING",
        [{"code": "X"}],
        [{"code": "X", "percent": "0.1", "amount": 100}],
        [{"code": "X", "percent": "2"}],
        [{"code": "X", "amount": 0}],
        [{"code": "X", "percent": "0.1", "eligible_kinds": ["spaceship"]}],
        [{"code": "X", "percent": "0.1"}, {"code": "x", "percent": "0.2"}],
        [{"code": "", "percent": "0.1"}],
    ],
)
def test_bad_promotions_are_refused(api: httpx.Client, promotions: Any) -> None:
    assert api.put("/api/v1/promotions", json={"promotions": promotions}).status_code == 422
    assert api.get("/api/v1/promotions").json() == {"promotions": []}


def test_settings_are_per_store(
    api: httpx.Client, companion: Companion, other_terminal: PairedTerminal
) -> None:
    other = companion.client(headers=other_terminal.headers)
    other.put("/api/v1/settings", json={"business_name": "Other Name", "surcharge_rate": "0.05"})
    other.put("/api/v1/promotions", json={"promotions": [{"code": "OTHER", "percent": "0.5"}]})
    assert api.get("/api/v1/settings").json()["business_name"] == "Test Salon"
    assert api.get("/api/v1/settings").json()["surcharge_rate"] == "0"
    assert api.get("/api/v1/promotions").json() == {"promotions": []}


# -- gateway ----------------------------------------------------------------------------------------
def test_gateway_secrets_are_write_only_and_encrypted_at_rest(companion: Companion) -> None:
    api = companion.api
    assert api.get("/api/v1/gateway").json()["kind"] == "simulator"
    update = {
        "kind": "stripe",
        "public": {"publishable_key": "pk_test_51Habcdefghijkl9876"},
        "secrets": {"secret_key": STRIPE_SECRET, "webhook_secret": "whsec_abcdefghijklmnop"},
    }
    response = api.put("/api/v1/gateway", json=update)
    assert response.status_code == 200, response.text
    for answer in (response, api.get("/api/v1/gateway")):
        assert STRIPE_SECRET not in answer.text
        assert "whsec_abcdefghijklmnop" not in answer.text
        assert "pk_test_51Habcdefghijkl9876" not in answer.text
        view = answer.json()
        assert view["kind"] == "stripe"
        assert view["public"] == {"publishable_key": "pk_t…9876"}
        assert view["secrets_set"] == ["secret_key", "webhook_secret"]
    with companion.db.read() as session:
        store = session.get(Store, companion.terminal.store_id)
        assert STRIPE_SECRET.encode() not in store.gateway_secrets
        opened = SecretsBox(companion.config.secret_key).open(store.gateway_secrets)
    assert opened["secret_key"] == STRIPE_SECRET


def test_gateway_secrets_are_kept_when_left_out_and_dropped_with_another_kind(api: httpx.Client) -> None:
    api.put(
        "/api/v1/gateway", json={"kind": "stripe", "public": {}, "secrets": {"secret_key": STRIPE_SECRET}}
    )
    kept = api.put("/api/v1/gateway", json={"kind": "stripe", "public": {"publishable_key": "pk_test_x"}})
    assert kept.json()["secrets_set"] == ["secret_key"]
    switched = api.put("/api/v1/gateway", json={"kind": "cloud9", "public": {"merchant_id": "M123456789"}})
    assert switched.json()["secrets_set"] == []


@pytest.mark.parametrize(
    "update",
    [
        {"kind": "paypal"},
        {"kind": "stripe", "secrets": {"secret_key": 42}},
        {"kind": "stripe", "secrets": "sk_test"},
        {"kind": "stripe", "public": {"k": "v" * 3000}},
        {},
    ],
)
def test_bad_gateway_updates_are_refused(api: httpx.Client, update: dict[str, Any]) -> None:
    assert api.put("/api/v1/gateway", json=update).status_code == 422
    assert api.get("/api/v1/gateway").json()["kind"] == "simulator"


def test_gateway_test_reports_a_working_simulator(api: httpx.Client) -> None:
    result = api.post("/api/v1/gateway/test").json()
    assert result["kind"] == "simulator"
    assert result["ok"] is True, result


def test_gateway_test_reports_a_broken_configuration_clearly(api: httpx.Client) -> None:
    api.put("/api/v1/gateway", json={"kind": "cloud9", "public": {}, "secrets": {}})
    result = api.post("/api/v1/gateway/test").json()
    assert result["ok"] is False
    assert result["kind"] == "cloud9"
    assert result["message"]


def test_gateway_secrets_sealed_with_another_key_are_reported_not_leaked(companion: Companion) -> None:
    with companion.db.write() as session:
        store = session.get(Store, companion.terminal.store_id)
        store.gateway_kind = "stripe"
        store.gateway_secrets = SecretsBox("another key " * 4).seal({"secret_key": STRIPE_SECRET})
    view = companion.api.get("/api/v1/gateway").json()
    assert view["secrets_readable"] is False
    result = companion.api.post("/api/v1/gateway/test").json()
    assert result["ok"] is False
    assert "Enter them again" in result["message"]


def test_a_change_of_settings_or_promotions_tells_every_terminal_once(api: httpx.Client) -> None:
    def settings_events() -> list[dict[str, Any]]:
        events = api.get("/api/v1/events").json()["events"]
        return [e for e in events if e["type"] == "store.settings_changed"]

    settings = api.get("/api/v1/settings").json()
    assert api.put("/api/v1/settings", json=settings).status_code == 200
    assert settings_events() == [], "the same settings again change nothing and tell no one"
    assert api.put("/api/v1/settings", json={**settings, "surcharge_rate": "0.02"}).status_code == 200
    promotions = {"promotions": [{"code": "SPRING15", "name": "Spring", "percent": "0.15"}]}
    assert api.put("/api/v1/promotions", json=promotions).status_code == 200
    assert api.put("/api/v1/promotions", json=promotions).status_code == 200  # a retried push
    assert [e["data"]["part"] for e in settings_events()] == ["settings", "promotions"]
    assert all(e["invoice_id"] is None and e["ticket_id"] is None for e in settings_events())


# -- currencies a gateway can charge -----------------------------------------------------------------
def test_a_store_currency_the_configured_gateway_cannot_charge_is_refused(api: httpx.Client) -> None:
    settings = api.get("/api/v1/settings").json()
    assert api.put("/api/v1/gateway", json={"kind": "cloud9", "public": {}, "secrets": {}}).status_code == 200
    refused = api.put("/api/v1/settings", json={**settings, "currency": "EUR"})
    assert refused.status_code == 422
    assert "Cloud9 cannot charge in EUR" in refused.json()["detail"]
    assert api.get("/api/v1/settings").json()["currency"] == "USD"
    api.put("/api/v1/gateway", json={"kind": "simulator", "public": {}})
    assert api.put("/api/v1/settings", json={**settings, "currency": "IQD"}).status_code == 200
    # Stripe does not charge Iraqi dinars: the gateway change is refused, the Simulator stays.
    switched = api.put(
        "/api/v1/gateway", json={"kind": "stripe", "public": {}, "secrets": {"secret_key": STRIPE_SECRET}}
    )
    assert switched.status_code == 422
    assert "Stripe cannot charge in IQD" in switched.json()["detail"]
    assert api.get("/api/v1/gateway").json()["kind"] == "simulator"


@pytest.mark.parametrize("code", ["DEM", "XAU", "XXX"])
def test_a_withdrawn_or_non_money_currency_cannot_be_chosen(api: httpx.Client, code: str) -> None:
    settings = api.get("/api/v1/settings").json()
    refused = api.put("/api/v1/settings", json={**settings, "currency": code})
    assert refused.status_code == 422
    assert "ISO 4217" in refused.json()["detail"]
