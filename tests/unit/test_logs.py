"""Log files: they rotate in the data folder and never hold a link token, key or credential."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from posdesk import logs
from posdesk.core.links import new_link_token, pay_url

SECRETS = {
    "link": "Kq3VbX9tLm2ZpR7wYc4NhE8sJd6Fg1Ua",
    "stripe_live": "sk_live_51Habcdefghijklmnop0123456789",
    "stripe_test": "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "restricted": "rk_live_9yXwVuTsRqPoNmLkJiHgFeDc",
    "webhook": "whsec_5f8d2a9c1b7e4d3f6a0b9c8d7e6f5a4b",
    "bearer": "pdk_term_8f2b1c9d4e7a6b5c3d2e1f0a",
    "gmpw": "Cl0ud9Pa55w0rd!",
    "basic": "dXNlcjpodW50ZXIy",
    "smtp": "hunter2-smtp-pass",
}


@pytest.fixture
def logged() -> Iterator[Path]:
    """Logging set up as the programs do; the root logger's handlers put back afterwards."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    path = logs.setup_logging("posdesk", console=False)
    assert path is not None
    yield path
    for handler in list(root.handlers):
        if handler not in before:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    logging.captureWarnings(False)


def written(path: Path) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return path.read_text(encoding="utf-8")


def test_the_log_file_is_in_the_data_folder(logged: Path) -> None:
    logging.getLogger("posdesk.gui").info("ticket %s saved", "#12")
    assert logged.parent.name == "logs"
    assert logged.parent.parent.resolve() == Path(os.environ["POSDESK_DATA_DIR"]).resolve()
    assert "INFO posdesk.gui" in written(logged) and "ticket #12 saved" in written(logged)


def test_no_secret_or_link_token_reaches_the_file(logged: Path) -> None:
    log = logging.getLogger("posdesk.sync")
    token = new_link_token()
    log.info("invoice sent: %s", pay_url("https://pay.example.com", token))
    log.info("GET /pay/%s/status 200", SECRETS["link"])
    log.warning("stripe refused key %s, webhook secret %s", SECRETS["stripe_live"], SECRETS["webhook"])
    log.info("test mode with %s and %s", SECRETS["stripe_test"], SECRETS["restricted"])
    log.info("request headers: %r", {"Authorization": f"Bearer {SECRETS['bearer']}", "Accept": "json"})
    log.info("Authorization: Basic %s", SECRETS["basic"])
    log.info("calling with bearer %s", SECRETS["bearer"])
    log.info('cloud9 body {"GMID": "1001", "GMPW": "%s", "MainAmt": "6000"}', SECRETS["gmpw"])
    log.info("cloud9 form GMID=1001&GMPW=%s&TransType=Sale", SECRETS["gmpw"])
    log.info("smtp login password=%s", SECRETS["smtp"])
    text = written(logged)
    for secret in (token, *SECRETS.values()):
        assert secret not in text
    # What is left still tells the story.
    assert "invoice sent: https://pay.example.com/pay/[token]" in text
    assert "GET /pay/[token]/status 200" in text
    assert "sk_live_[redacted]" in text and "whsec_[redacted]" in text
    assert "'Accept': 'json'" in text and '"MainAmt": "6000"' in text and "TransType=Sale" in text


def test_a_traceback_in_the_log_is_redacted_too(logged: Path) -> None:
    token = new_link_token()
    try:
        raise RuntimeError(f"payment failed for /pay/{token} with key {SECRETS['stripe_live']}")
    except RuntimeError:
        logging.getLogger("posdesk.companion").exception("charging failed")
    text = written(logged)
    assert "Traceback (most recent call last)" in text and "RuntimeError: payment failed" in text
    assert token not in text and SECRETS["stripe_live"] not in text


def test_logs_rotate_and_keep_a_bounded_history(logged: Path, monkeypatch) -> None:
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logs.RotatingLogFile):
            monkeypatch.setattr(handler.rotating(), "maxBytes", 2_000)
    for number in range(400):
        logging.getLogger("posdesk").info("line %04d %s", number, "x" * 40)
    files = sorted(p.name for p in logged.parent.iterdir())
    assert files == ["posdesk.log", *(f"posdesk.log.{n}" for n in range(1, logs.BACKUP_COUNT + 1))]
    assert "line 0399" in written(logged)


def test_ordinary_words_are_left_alone() -> None:
    text = "Token expired for ticket #7; the secret shopper paid $40.00 by card ending 4242 at /pay page"
    assert logs.redact(text) == text


def test_log_level_comes_from_the_environment(monkeypatch, logged: Path) -> None:
    monkeypatch.setenv("POSDESK_LOG_LEVEL", "warning")
    logs.setup_logging("posdesk", console=False)
    logging.getLogger("posdesk").info("quiet")
    logging.getLogger("posdesk").warning("loud")
    text = written(logged)
    assert "loud" in text and "quiet" not in text
    # Set up twice: one file handler, not two (no doubled lines).
    assert text.count("loud") == 1
