"""``posdesk-companion`` commands and the companion embedded in the POS for demo mode."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from posdesk.companion.app import create_app
from posdesk.companion.cli import main
from posdesk.companion.embedded import DEMO_STORE_NAME, start_embedded
from tests.companion.conftest import demo_config
from tests.fakes.serve import serve_app
from tests.waiting import free_port

STRONG = "s3cr3t-" + "x" * 40


def test_create_store_prints_an_id_and_a_code_that_pairs_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+pysqlite:///{tmp_path / 'companion.db'}"
    assert main(["create-store", "--name", "Rosa's Salon", "--currency", "EUR", "--database-url", url]) == 0
    printed = capsys.readouterr().out
    store_id = re.search(r"store id: (\w+)", printed).group(1)
    code = re.search(r"pairing code: ([\w-]+)", printed).group(1)

    app = create_app(demo_config(url))
    try:
        with serve_app(app) as base:
            paired = httpx.post(f"{base}/api/v1/terminals/pair", json={"code": code, "name": "Desk"})
            assert paired.status_code == 200, paired.text
            assert paired.json()["store_id"] == store_id
            assert paired.json()["currency"] == "EUR"
            credential = paired.json()["credential"]
            store = httpx.get(
                f"{base}/api/v1/store", headers={"Authorization": f"Bearer {credential}"}
            ).json()
            assert store["name"] == "Rosa's Salon"
            again = httpx.post(f"{base}/api/v1/terminals/pair", json={"code": code})
            assert again.status_code == 400
    finally:
        app.state.db.dispose()


def test_pairing_code_command_pairs_a_second_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+pysqlite:///{tmp_path / 'companion.db'}"
    main(["create-store", "--name", "Salon", "--currency", "USD", "--database-url", url])
    store_id = re.search(r"store id: (\w+)", capsys.readouterr().out).group(1)
    assert main(["pairing-code", "--store", store_id, "--database-url", url]) == 0
    assert re.search(r"pairing code: [0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", capsys.readouterr().out)
    assert main(["pairing-code", "--store", "nope", "--database-url", url]) == 2
    assert "no store" in capsys.readouterr().err


def test_create_store_refuses_an_unknown_currency(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+pysqlite:///{tmp_path / 'companion.db'}"
    assert main(["create-store", "--name", "Salon", "--currency", "XYZ", "--database-url", url]) == 2
    assert "currency" in capsys.readouterr().err


def test_migrate_brings_the_database_to_the_newest_revision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+pysqlite:///{tmp_path / 'companion.db'}"
    from posdesk.companion.migrations import head_revision

    assert main(["migrate", "--database-url", url]) == 0
    assert f"revision {head_revision()}" in capsys.readouterr().out


def test_serve_refuses_placeholder_secrets_and_names_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POSDESK_SECRET_KEY", "changeme")
    monkeypatch.delenv("POSDESK_SIMULATOR_WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("POSDESK_DEMO", raising=False)
    url = f"sqlite+pysqlite:///{tmp_path / 'companion.db'}"
    assert main(["serve", "--database-url", url, "--port", "1"]) == 2
    error = capsys.readouterr().err
    assert "POSDESK_SECRET_KEY" in error
    assert "POSDESK_SIMULATOR_WEBHOOK_SECRET" in error
    assert not (tmp_path / "companion.db").exists()




def _serve_until_healthy(tmp_path: Path, *options: str) -> tuple[str, int]:
    """Run ``serve`` until its health check answers, stop it (SIGINT); what it printed, and the status of
    ``/api/v1/docs`` (served in demo mode only)."""
    port = free_port()
    env = {
        **os.environ,
        "POSDESK_SECRET_KEY": STRONG,
        "POSDESK_SIMULATOR_WEBHOOK_SECRET": STRONG + "w",
        "DATABASE_URL": f"sqlite+pysqlite:///{tmp_path / 'companion.db'}",
    }
    env.pop("POSDESK_DEMO", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "posdesk.companion.cli", "serve", "--port", str(port), *options],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read().decode()
                assert time.monotonic() < deadline, "the companion did not answer within 120 s"
                time.sleep(0.1)
        assert response.json() == {"status": "ok"}
        docs = httpx.get(f"http://127.0.0.1:{port}/api/v1/docs").status_code
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=20)[0].decode()
    assert process.returncode == 0, output
    return output, docs


@pytest.mark.slow
def test_serve_runs_the_companion_until_stopped(tmp_path: Path) -> None:
    output, docs = _serve_until_healthy(tmp_path)
    assert docs == 404  # not a demo
    assert "GET /healthz" in output  # our access log, on by default
    # One line says where it serves; Alembic's and uvicorn's INFO lines are not the operator's news.
    assert "posdesk-companion " in output and " on http://127.0.0.1:" in output
    assert " alembic." not in output and " uvicorn." not in output, output


@pytest.mark.slow
def test_serve_verbose_also_shows_the_libraries_info_lines(tmp_path: Path) -> None:
    output, _docs = _serve_until_healthy(tmp_path, "--verbose")
    assert "INFO alembic.runtime.migration" in output
    assert "INFO uvicorn.error" in output and "Application startup complete" in output


def test_embedded_companion_starts_with_a_demo_store_and_remembers_it(tmp_path: Path) -> None:
    first = start_embedded(tmp_path)
    try:
        assert first.url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{first.url}/healthz").json() == {"status": "ok"}
        paired = httpx.post(f"{first.url}/api/v1/terminals/pair", json={"code": first.pairing_code})
        assert paired.status_code == 200, paired.text
        headers = {"Authorization": f"Bearer {paired.json()['credential']}"}
        store = httpx.get(f"{first.url}/api/v1/store", headers=headers).json()
        assert store["name"] == DEMO_STORE_NAME
        assert store["currency"] == "USD"
        assert [p["percent"] for p in store["settings"]["tip_presets"]] == ["0.15", "0.18", "0.20"]
        assert httpx.get(f"{first.url}/api/v1/gateway", headers=headers).json()["kind"] == "simulator"
    finally:
        first.stop()
    assert (tmp_path / "companion-demo.json").stat().st_mode & 0o077 == 0

    second = start_embedded(tmp_path)
    try:
        assert second.store_id == first.store_id
        assert second.pairing_code != first.pairing_code
        # The first terminal's credential still works: same database, same store.
        assert httpx.get(f"{second.url}/api/v1/store", headers=headers).status_code == 200
    finally:
        second.stop()


@pytest.mark.slow
def test_several_workers_run_with_the_configuration_the_command_line_made(tmp_path: Path) -> None:
    """--demo is in no environment variable: each worker gets it inside the configuration object."""
    output, docs = _serve_until_healthy(tmp_path, "--demo", "--workers", "2")
    assert docs == 200, output
    assert "(2 workers)" in output


def test_configuration_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from posdesk.companion.config import CompanionConfig, ConfigError

    monkeypatch.setenv("DATABASE_URL", f"sqlite+pysqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("POSDESK_PUBLIC_URL", "https://pay.example.com")
    monkeypatch.setenv("POSDESK_MAX_BODY_BYTES", "4096")
    monkeypatch.setenv("POSDESK_RATE_LIMIT_PER_MINUTE", "30")
    config = CompanionConfig.from_env()
    assert (config.public_url, config.max_body_bytes, config.rate_limit_per_minute) == (
        "https://pay.example.com",
        4096,
        30,
    )
    assert CompanionConfig.from_env(database_url="sqlite+pysqlite:////elsewhere.db").database_url.endswith(
        "elsewhere.db"
    )
    monkeypatch.setenv("POSDESK_MAX_BODY_BYTES", "lots")
    with pytest.raises(ConfigError, match="POSDESK_MAX_BODY_BYTES"):
        CompanionConfig.from_env()
