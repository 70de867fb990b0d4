"""The compose file for the recommended PostgreSQL setup: the companion waits for a healthy database
and a finished migration, believes X-Forwarded-* from Caddy's network only, checks its own health
(podman's OCI images drop HEALTHCHECK), and every service's log is rotated."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import require_tool

DEPLOY = Path(__file__).resolve().parents[2] / "packaging" / "companion"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text("utf-8"))
    return loaded


def test_the_companion_waits_for_the_database_and_the_migration() -> None:
    services = compose()["services"]
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert services["migrate"]["command"] == ["posdesk-companion", "migrate"]
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["companion"]["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert "/healthz" in " ".join(services["companion"]["healthcheck"]["test"])
    assert services["caddy"]["depends_on"] == {"companion": {"condition": "service_healthy"}}


def test_only_the_proxy_network_is_trusted_for_forwarded_headers() -> None:
    document = compose()
    services = document["services"]
    trusted = ipaddress.ip_network(services["companion"]["environment"]["FORWARDED_ALLOW_IPS"])
    [subnet] = [ipaddress.ip_network(c["subnet"]) for c in document["networks"]["proxy"]["ipam"]["config"]]
    assert trusted == subnet
    assert services["caddy"]["networks"] == ["proxy"]
    assert "proxy" not in services["db"]["networks"]  # the database is never on the proxy's network
    assert services["companion"]["environment"]["DATABASE_URL"].startswith("postgresql+psycopg://")


def test_every_service_rotates_its_log_and_the_proxy_keeps_its_certificates() -> None:
    services = compose()["services"]
    for name, service in services.items():
        options = service["logging"]["options"]
        assert service["logging"]["driver"] == "json-file" and options["max-size"] and options["max-file"], (
            name
        )
    assert "caddy-data:/data" in services["caddy"]["volumes"]
    caddyfile = (DEPLOY / "Caddyfile").read_text("utf-8")
    assert re.search(r"reverse_proxy companion:8700 \{\s+#[^\n]*\n\s+flush_interval -1", caddyfile)
    assert "output discard" in caddyfile  # an access log would hold working payment links


def test_the_backup_job_keeps_a_retention_and_can_restore() -> None:
    backup = compose()["services"]["backup"]
    assert backup["entrypoint"][-2:] == ["--every", "86400"]
    assert int(backup["environment"]["BACKUP_KEEP"]) >= 7
    assert "./restore.sh:/usr/local/bin/posdesk-restore:ro" in backup["volumes"]


def test_caddy_reads_the_caddyfile_and_proxies_the_event_stream_unbuffered() -> None:
    caddy = require_tool("caddy")
    adapted = subprocess.run(
        [caddy, "adapt", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
        env={**os.environ, "POSDESK_DOMAIN": "pay.example.com"},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert adapted.returncode == 0, adapted.stderr
    config = json.loads(adapted.stdout)
    text = json.dumps(config)
    [server] = config["apps"]["http"]["servers"].values()
    assert server["listen"] == [":443"]  # HTTPS, with the certificate Caddy obtains for the host
    assert '"host": ["pay.example.com"]' in text
    assert (
        '"flush_interval": -1, "handler": "reverse_proxy", "upstreams": [{"dial": "companion:8700"}]' in text
    )
    assert '"output": "discard"' in text
    [site] = server["routes"]
    [encoding] = [r for r in site["handle"][0]["routes"] if r["handle"][0]["handler"] == "encode"]
    assert encoding["match"] == [{"not": [{"path": ["/api/v1/events/stream"]}]}]  # never the stream
