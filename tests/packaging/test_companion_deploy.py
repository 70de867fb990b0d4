"""The companion's deployment files: every setting documented, the unit verifies, the container runs
the companion as a non-root user, and the URLs the deploy guide tells operators to register exist."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from posdesk.companion.app import create_app
from posdesk.companion.config import CompanionConfig
from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "packaging" / "companion"
ENV_EXAMPLE = DEPLOY / "companion.env.example"
# Every module the companion process runs reads its settings from these.
SOURCES = (
    "posdesk/companion",
    "posdesk/gateways",
    "posdesk/messaging",
    "posdesk/paths.py",
    "posdesk/logs.py",
)
SETTING = re.compile(r"""["'`]((?:POSDESK|DATABASE|FORWARDED)_[A-Z0-9_]+)["'`]""")


def settings_read_by_the_companion() -> set[str]:
    names: set[str] = {"FORWARDED_ALLOW_IPS"}  # read by uvicorn, which the companion runs
    # posdesk/config.py holds both programs' shared settings; the companion reads these two of them.
    names |= {"POSDESK_DATA_DIR", "POSDESK_LOG_LEVEL"}
    for source in SOURCES:
        path = ROOT / source
        for file in [path] if path.is_file() else path.rglob("*.py"):
            names |= set(SETTING.findall(file.read_text("utf-8")))
    return names


def documented() -> set[str]:
    text = ENV_EXAMPLE.read_text("utf-8")
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))


def test_the_example_environment_documents_every_setting_the_companion_reads() -> None:
    read = settings_read_by_the_companion()
    assert {"DATABASE_URL", "POSDESK_SECRET_KEY", "POSDESK_PUBLIC_URL", "POSDESK_SMTP_HOST"} <= read
    assert read - documented() == set()
    assert documented() - read == set()  # nothing documented that nothing reads


def test_the_example_environment_as_shipped_does_not_start_a_companion(tmp_path) -> None:
    """Empty secrets on purpose: an operator who forgets to set them gets told which, not a weak key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSDESK_")}
    for line in ENV_EXAMPLE.read_text("utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value
    env["POSDESK_DATA_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "posdesk.companion.cli", "serve"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "POSDESK_SECRET_KEY" in result.stderr and "POSDESK_SIMULATOR_WEBHOOK_SECRET" in result.stderr


def test_the_systemd_unit_verifies_and_is_hardened(tmp_path) -> None:
    analyze = require_tool("systemd-analyze")
    unit = (DEPLOY / "posdesk-companion.service").read_text("utf-8")
    assert "ExecStart=/opt/posdesk/venv/bin/posdesk-companion serve --host 127.0.0.1" in unit
    # Verify a copy whose program and env file exist on this machine.
    copy = tmp_path / "posdesk-companion.service"
    copy.write_text(
        unit.replace("/opt/posdesk/venv/bin/posdesk-companion", "/bin/true").replace(
            "EnvironmentFile=/etc/posdesk/companion.env", "EnvironmentFile=-/etc/posdesk/companion.env"
        ),
        "utf-8",
    )
    env = dict(os.environ, SYSTEMD_LOG_LEVEL="warning")
    verify = subprocess.run(
        [analyze, "verify", str(copy)], env=env, capture_output=True, text=True, check=False
    )
    assert verify.returncode == 0 and verify.stderr.strip() == "", verify.stderr
    security = subprocess.run(
        [analyze, "security", "--offline=yes", str(copy)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    exposure = re.search(r"Overall exposure level for \S+: ([0-9.]+)", security.stdout)
    assert exposure is not None, security.stdout[-500:] + security.stderr
    assert float(exposure.group(1)) <= 2.0


def test_the_container_runs_the_companion_as_a_non_root_user() -> None:
    text = (DEPLOY / "Containerfile").read_text("utf-8")
    stages = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert stages and all(line.startswith("FROM python:3.11-slim") for line in stages)
    final = text[text.rindex("FROM ") :]
    user = re.search(r"^USER (\S+)", final, flags=re.MULTILINE)
    assert user is not None and user.group(1).split(":")[0] not in {"0", "root"}
    assert final.index("USER ") < final.index("CMD ")
    assert "posdesk-companion serve --host 0.0.0.0 --port 8700" in final and "EXPOSE 8700" in final
    assert "/healthz" in final


def route_paths(routes: Iterable[Any], prefix: str = "") -> Iterator[str]:
    """Every path the app serves, through included routers (FastAPI nests them)."""
    for route in routes:
        if hasattr(route, "original_router"):
            nested = getattr(getattr(route, "include_context", None), "prefix", "") or ""
            yield from route_paths(route.original_router.routes, prefix + nested)
        elif hasattr(route, "path"):
            yield prefix + route.path


def test_the_urls_the_deploy_guide_gives_exist_in_the_companion(tmp_path) -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text("utf-8")
    config = CompanionConfig.for_demo(f"sqlite+pysqlite:///{tmp_path / 'c.db'}", "https://pay.example.com")
    app = create_app(config)
    try:
        # Placeholders, {store_id} in routes and <store id> in the guide, compared as one shape.
        served = {re.sub(r"\{[^}]+\}", "{}", path) for path in route_paths(app.routes)}
    finally:
        app.state.db.dispose()
    mentioned = set(re.findall(r"https://pay\.example\.com(/[a-z0-9/_.<> \-]+)", guide))
    mentioned |= set(re.findall(r"location = (/\S+)", guide))
    mentioned = {re.sub(r"<[^>]+>", "{}", path).rstrip(".") for path in mentioned}
    assert {"/webhooks/stripe", "/webhooks/twilio/status", "/api/v1/events/stream"} <= mentioned
    # Exact matches: the catch-all /webhooks/{gateway} does not count as serving /webhooks/stripe.
    assert mentioned - served == set()
    assert "/healthz" in served and "GET /healthz" in guide
