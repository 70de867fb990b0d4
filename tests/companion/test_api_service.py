"""The service around the API: health, OpenAPI, security headers, body limits, pairing, credentials."""

from __future__ import annotations

import logging
import time

import httpx
import pytest
from fastapi import Request

from posdesk.companion.app import create_app
from posdesk.companion.auth import new_pairing_code
from posdesk.companion.config import CompanionConfig, ConfigError
from posdesk.companion.security_headers import redact_path
from tests.companion.conftest import Companion, PairedTerminal, demo_config, invoice_upload, put_invoice
from tests.fakes.serve import serve_app


def test_health_check_answers_ok(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_openapi_lists_the_pos_api(client: httpx.Client) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    for path in (
        "/api/v1/invoices/{invoice_id}",
        "/api/v1/events",
        "/api/v1/events/stream",
        "/api/v1/terminals/pair",
    ):
        assert path in spec["paths"]


def test_interactive_docs_are_off_outside_demo(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = CompanionConfig(
        database_url=f"sqlite+pysqlite:///{tmp_path / 'c.db'}",
        secret_key="k" * 40 + "x",
        simulator_webhook_secret="w" * 40 + "y",
    )
    app = create_app(config)
    try:
        with serve_app(app) as url:
            assert httpx.get(f"{url}/api/v1/docs").status_code == 404
            assert httpx.get(f"{url}/api/v1/openapi.json").status_code == 200
    finally:
        app.state.db.dispose()


@pytest.mark.parametrize(
    ("secret_key", "webhook_secret", "named"),
    [
        ("", "w" * 40, "POSDESK_SECRET_KEY"),
        ("changeme", "w" * 40, "POSDESK_SECRET_KEY"),
        ("k" * 40, "secret", "POSDESK_SIMULATOR_WEBHOOK_SECRET"),
    ],
)
def test_refuses_to_start_with_placeholder_secrets_outside_demo(
    tmp_path, secret_key: str, webhook_secret: str, named: str
) -> None:
    config = CompanionConfig(
        database_url=f"sqlite+pysqlite:///{tmp_path / 'c.db'}",
        secret_key=secret_key,
        simulator_webhook_secret=webhook_secret,
    )
    with pytest.raises(ConfigError, match=named):
        create_app(config)
    assert not (tmp_path / "c.db").exists()  # refused before touching the database


def test_security_headers_on_every_response(client: httpx.Client, api: httpx.Client) -> None:
    for response in (
        client.get("/healthz"),
        api.get("/api/v1/events"),
        client.get("/api/v1/events"),
        client.get("/nope"),
    ):
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-content-type-options"] == "nosniff"
        assert "strict-transport-security" not in headers  # plain HTTP here


def test_hsts_when_served_over_https(client: httpx.Client) -> None:
    # Behind a TLS-terminating proxy (uvicorn trusts X-Forwarded-* from loopback by default).
    response = client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_a_route_can_widen_the_csp_for_its_own_response(tmp_path) -> None:
    app = create_app(demo_config(f"sqlite+pysqlite:///{tmp_path / 'c.db'}"))

    @app.get("/csp-probe")
    def probe(request: Request) -> dict[str, str]:
        request.state.csp_extra = {
            "script-src": ["https://js.stripe.com"],
            "frame-src": ["https://js.stripe.com"],
        }
        return {}

    try:
        with serve_app(app) as url:
            widened = httpx.get(f"{url}/csp-probe").headers["content-security-policy"]
            plain = httpx.get(f"{url}/healthz").headers["content-security-policy"]
    finally:
        app.state.db.dispose()
    assert "script-src 'self' https://js.stripe.com" in widened
    assert "frame-src 'self' https://js.stripe.com" in widened
    assert "frame-ancestors 'none'" in widened
    assert "js.stripe.com" not in plain


def test_a_body_over_the_limit_is_refused_with_413_and_changes_nothing(api: httpx.Client) -> None:
    body = invoice_upload()
    body["padding"] = "x" * (1024 * 1024)
    response = put_invoice(api, body)
    assert response.status_code == 413
    assert api.get(f"/api/v1/invoices/{body['invoice_id']}").status_code == 404


def test_a_streamed_body_over_the_limit_is_refused_with_413(api: httpx.Client) -> None:
    def chunks():
        for _ in range(64):
            yield b"x" * 16384

    response = api.put("/api/v1/settings", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_access_log_never_shows_link_tokens(client: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    token = "Zq3-secret-token-abcdefghijklmnop"
    with caplog.at_level(logging.INFO, logger="posdesk.companion.access"):
        client.get(f"/pay/{token}?lang=es")
        # The server thread writes its access line once the response is out: give it a moment.
        deadline = time.monotonic() + 30
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.02)
    assert caplog.records, "one access log line per request"
    assert token not in caplog.text
    assert "/pay/[token]" in caplog.text
    assert redact_path(f"/pay/{token}/confirmation") == "/pay/[token]/confirmation"


def test_pairing_code_gives_a_credential_once(companion: Companion, client: httpx.Client) -> None:
    with companion.db.write() as session:
        code = new_pairing_code(session, companion.terminal.store_id)
    paired = client.post("/api/v1/terminals/pair", json={"code": code.lower(), "name": "Back office"})
    assert paired.status_code == 200, paired.text
    answer = paired.json()
    assert answer["store_id"] == companion.terminal.store_id
    assert answer["store_name"] == "Test Salon"
    store = client.get("/api/v1/store", headers={"Authorization": f"Bearer {answer['credential']}"})
    assert store.status_code == 200
    assert store.json()["terminal_name"] == "Back office"
    again = client.post("/api/v1/terminals/pair", json={"code": code, "name": "Thief"})
    assert again.status_code == 400
    assert "not valid" in again.json()["detail"]


def test_unknown_pairing_code_is_refused(client: httpx.Client) -> None:
    response = client.post("/api/v1/terminals/pair", json={"code": "AAAA-BBBB-CCCC"})
    assert response.status_code == 400


def test_pairing_attempts_are_rate_limited(client: httpx.Client) -> None:
    statuses = [
        client.post("/api/v1/terminals/pair", json={"code": f"WRONG-{i:04d}"}).status_code for i in range(15)
    ]
    assert statuses[:10] == [400] * 10
    assert 429 in statuses[10:]


def test_an_expired_pairing_code_is_refused(companion: Companion, client: httpx.Client) -> None:
    from datetime import UTC, datetime, timedelta

    with companion.db.write() as session:
        code = new_pairing_code(
            session, companion.terminal.store_id, now=datetime.now(UTC) - timedelta(hours=25)
        )
    assert client.post("/api/v1/terminals/pair", json={"code": code}).status_code == 400


POS_CALLS = [
    ("GET", "/api/v1/store"),
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/events/stream"),
    ("GET", "/api/v1/invoices/abc"),
    ("PUT", "/api/v1/invoices/abc"),
    ("POST", "/api/v1/invoices/abc/revoke"),
    ("GET", "/api/v1/settings"),
    ("PUT", "/api/v1/settings"),
    ("PUT", "/api/v1/promotions"),
    ("GET", "/api/v1/gateway"),
    ("PUT", "/api/v1/gateway"),
    ("POST", "/api/v1/gateway/test"),
]


def test_every_pos_call_needs_a_credential(client: httpx.Client) -> None:
    for method, path in POS_CALLS:
        for authorization in (
            None,
            "Bearer",
            "Bearer pdt_not-a-real-credential",
            "Basic dXNlcjpwYXNz",
            "pdt_x",
        ):
            headers = {"Authorization": authorization} if authorization is not None else {}
            response = client.request(method, path, headers=headers, json={})
            assert response.status_code == 401, (method, path, authorization)
            assert response.headers["www-authenticate"] == "Bearer"


def test_a_revoked_terminal_is_refused(companion: Companion, api: httpx.Client) -> None:
    from posdesk.companion.models import Terminal, utcnow

    assert api.get("/api/v1/store").status_code == 200
    with companion.db.write() as session:
        session.get(Terminal, companion.terminal.terminal_id).revoked_at = utcnow()
    assert api.get("/api/v1/store").status_code == 401


def test_each_terminal_sees_its_own_store(
    api: httpx.Client, client: httpx.Client, other_terminal: PairedTerminal
) -> None:
    mine = api.get("/api/v1/store").json()
    theirs = client.get("/api/v1/store", headers=other_terminal.headers).json()
    assert mine["store_id"] != theirs["store_id"]
    assert theirs["name"] == "Other Store"


def test_demo_config_makes_random_secrets(tmp_path) -> None:
    first = demo_config(f"sqlite+pysqlite:///{tmp_path / 'a.db'}")
    second = demo_config(f"sqlite+pysqlite:///{tmp_path / 'a.db'}")
    assert first.secret_key != second.secret_key
    assert first.secret_key not in repr(first)


def test_rate_limiter_allows_a_burst_then_refills_over_time() -> None:
    from posdesk.companion.ratelimit import RateLimiter

    now = [0.0]
    limiter = RateLimiter(60, burst=3, clock=lambda: now[0])
    assert [limiter.hit("1.2.3.4") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.hit("1.2.3.4") == pytest.approx(1.0)  # one request a second
    assert limiter.hit("5.6.7.8") == 0.0  # other addresses are not affected
    now[0] += 1.0
    assert limiter.hit("1.2.3.4") == 0.0
