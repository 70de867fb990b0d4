"""Crash reports: a terminal whose IT opted in sends its reports to the companion, which keeps them
redacted for the store; the companion's own errors go to Sentry only when POSDESK_SENTRY_DSN is set."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from posdesk import crash
from posdesk.sync.client import USER_AGENT
from tests.companion.conftest import Companion, add_store
from tests.fakes.serve import QuietHandler, serve_handler

TOKEN = "Zq3-secret-token-abcdefghijklmnop"


def crash_once(message: str) -> Path:
    try:
        raise RuntimeError(message)
    except RuntimeError as exc:
        return crash.write_report(type(exc), exc, exc.__traceback__)


def test_sending_is_off_unless_it_opts_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(crash.SEND_SETTING, raising=False)
    assert not crash.sending_enabled()
    monkeypatch.setenv(crash.SEND_SETTING, "1")
    assert crash.sending_enabled()


def test_a_terminal_sends_its_pending_reports_once(companion: Companion) -> None:
    first = crash_once(f"could not open /pay/{TOKEN}")
    second = crash_once("the printer went away")
    # the terminal's version is known from its User-Agent before it sends anything
    companion.client(headers={**companion.terminal.headers, "User-Agent": USER_AGENT}).get("/api/v1/store")

    assert crash.upload_pending(companion.url, companion.terminal.credential) == 2
    assert crash.pending_reports() == []
    assert {p.name for p in (crash.report_dir() / crash.SENT_FOLDER).iterdir()} == {first.name, second.name}
    assert crash.upload_pending(companion.url, companion.terminal.credential) == 0

    kept = companion.api.get("/api/v1/crash-reports").json()["crash_reports"]
    assert {report["name"] for report in kept} == {first.name, second.name}
    texts = " ".join(report["text"] for report in kept)
    assert "RuntimeError: the printer went away" in texts and TOKEN not in texts and "/pay/[token]" in texts
    assert {report["app_version"] for report in kept} == {USER_AGENT.split("/")[1]}

    other = add_store(companion.app, name="Other Store")  # another store's terminal sees none of them
    foreign = companion.client(headers=other.headers).get("/api/v1/crash-reports").json()
    assert foreign["crash_reports"] == []


def test_a_resent_report_is_kept_once_and_a_stranger_is_refused(companion: Companion) -> None:
    body = {"name": "crash-20261206-120000-42.txt", "text": "posdesk crash report\n\nTraceback ..."}
    assert companion.api.post("/api/v1/crash-reports", json=body).json()["kept"] == "new"
    assert companion.api.post("/api/v1/crash-reports", json=body).json()["kept"] == "already"
    assert len(companion.api.get("/api/v1/crash-reports").json()["crash_reports"]) == 1
    assert companion.client().post("/api/v1/crash-reports", json=body).status_code == 401
    bad_name = {**body, "name": "../../etc/passwd"}
    assert companion.api.post("/api/v1/crash-reports", json=bad_name).status_code == 422


class Collector(QuietHandler):
    """Stands in for a Sentry server: keeps each envelope it is sent."""

    envelopes: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        Collector.envelopes.append(body.decode("utf-8", "replace"))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


@pytest.fixture
def sentry_server() -> Iterator[str]:
    Collector.envelopes = []
    with serve_handler(Collector) as port:
        yield f"http://publickey@127.0.0.1:{port}/7"


FAILING_COMPANION = """
import dataclasses
import sys
import httpx, sentry_sdk
from posdesk.companion.app import create_app
from posdesk.companion.config import CompanionConfig
from tests.fakes.serve import serve_app

demo = CompanionConfig.for_demo(sys.argv[1], "https://pay.example.com")
# With the operator's POSDESK_SENTRY_DSN, read as the companion reads its environment.
app = create_app(dataclasses.replace(demo, sentry_dsn=CompanionConfig.from_env().sentry_dsn))

@app.get("/boom")
def boom():
    raise RuntimeError("could not render /pay/%s" % sys.argv[2])

with serve_app(app) as url:
    print(httpx.get(url + "/boom").status_code)
sentry_sdk.flush(10)
app.state.db.dispose()
"""


@pytest.mark.slow
def test_companion_errors_reach_sentry_redacted_only_when_configured(
    sentry_server: str, tmp_path: Path
) -> None:
    def run(dsn: str | None) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("POSDESK_SENTRY")}
        if dsn:
            env["POSDESK_SENTRY_DSN"] = dsn
        database = f"sqlite+pysqlite:///{tmp_path / 'c.db'}"
        done = subprocess.run(
            [sys.executable, "-c", FAILING_COMPANION, database, TOKEN],
            env=env, capture_output=True, text=True, timeout=120, check=False,
            cwd=Path(__file__).resolve().parents[2],
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip() == "500"
        return done.stderr

    run(None)
    assert Collector.envelopes == []  # off by default: nothing is sent anywhere

    run(sentry_server)
    events = [
        json.loads(line)
        for body in Collector.envelopes
        for line in body.splitlines()[2::2]
        if line.startswith("{")
    ]
    errors = [event for event in events if event.get("exception")]
    assert errors, Collector.envelopes
    sent = json.dumps(errors)
    assert "could not render /pay/[token]" in sent and TOKEN not in sent
    assert "sys.argv" not in sent  # the command line can hold the database password
    assert errors[0]["release"].startswith("posdesk-companion@")
