"""Behind a reverse proxy: FORWARDED_ALLOW_IPS decides whose X-Forwarded-* the companion believes.

The real ``posdesk-companion serve`` on loopback, as the container runs it. Trusted, each payer behind
the proxy has a rate limit of their own and HTTPS is recognised (HSTS sent); not trusted, everybody
behind the proxy shares the proxy's limit, no HSTS, and the log says which setting fixes it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.waiting import free_port

LIMIT = 3




@contextmanager
def companion(tmp_path: Path, forwarded_allow_ips: str) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = tmp_path / f"companion-{port}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSDESK_", "FORWARDED_"))}
    env.update(
        DATABASE_URL=f"sqlite+pysqlite:///{tmp_path / f'c{port}.db'}",
        POSDESK_DATA_DIR=str(tmp_path),
        POSDESK_RATE_LIMIT_PER_MINUTE=str(LIMIT),
        FORWARDED_ALLOW_IPS=forwarded_allow_ips,
    )
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "posdesk.companion.cli", "serve", "--demo", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield url, log
    finally:
        process.terminate()
        process.wait(timeout=20)


def page(url: str, payer: str) -> httpx.Response:
    headers = {"X-Forwarded-For": payer, "X-Forwarded-Proto": "https"}
    return httpx.get(f"{url}/pay/no-such-link-token-000000000000", headers=headers, timeout=10)


def exhaust(url: str, payer: str) -> None:
    for _ in range(50):
        if page(url, payer).status_code == 429:
            return
    raise AssertionError("the page limit never answered 429")


@pytest.mark.slow
def test_a_trusted_proxy_gives_each_payer_a_limit_and_https(tmp_path: Path) -> None:
    with companion(tmp_path, "127.0.0.1") as (url, log):
        first = page(url, "203.0.113.7")
        assert "strict-transport-security" in first.headers
        exhaust(url, "203.0.113.7")
        assert page(url, "198.51.100.9").status_code != 429  # another payer behind the same proxy
    assert "FORWARDED_ALLOW_IPS does not trust" not in log.read_text()


@pytest.mark.slow
def test_an_untrusted_proxy_is_named_in_the_log(tmp_path: Path) -> None:
    with companion(tmp_path, "10.89.0.1") as (url, log):
        first = page(url, "203.0.113.7")
        assert "strict-transport-security" not in first.headers
        exhaust(url, "203.0.113.7")
        assert page(url, "198.51.100.9").status_code == 429  # everybody shares the proxy's bucket
    text = log.read_text()
    assert "requests from 127.0.0.1 carry X-Forwarded-For" in text
    assert text.count("FORWARDED_ALLOW_IPS does not trust") == 1
    assert "set FORWARDED_ALLOW_IPS=127.0.0.1" in text
