"""The companion's one configuration object: every variable read in one place, bad values refused
with the variable's name, and the object itself (not a rewritten environment) handed to workers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from posdesk.companion.cli import main
from posdesk.companion.communicator import make_setup
from posdesk.companion.config import CompanionConfig, ConfigError

STRONG = "s" * 40


def test_every_setting_is_read_from_the_environment(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": f"sqlite+pysqlite:///{tmp_path / 'c.db'}",
        "POSDESK_PUBLIC_URL": "https://pay.example.com/",
        "POSDESK_SECRET_KEY": STRONG,
        "POSDESK_SIMULATOR_WEBHOOK_SECRET": STRONG + "w",
        "POSDESK_DEMO": "no",
        "POSDESK_RATE_LIMIT_PER_MINUTE": "30",
        "POSDESK_MAX_BODY_BYTES": "4096",
        "POSDESK_STRIPE_API_BASE": "http://127.0.0.1:12111",
        "POSDESK_MESSAGES_PER_CLIENT_PER_HOUR": "2",
        "POSDESK_MESSAGES_PER_STORE_PER_MINUTE": "3",
        "POSDESK_MESSAGES_PER_STORE_PER_DAY": "4",
        "POSDESK_SMTP_HOST": "smtp.example.com",
        "POSDESK_SMTP_FROM": "invoices@salon.example",
        "POSDESK_SMS_PROVIDER": "twilio",
        "POSDESK_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "POSDESK_TWILIO_AUTH_TOKEN": "t" * 32,
        "POSDESK_TWILIO_FROM": "+15550100",
        "POSDESK_POS_RECOMMENDED_VERSION": "1.4.0",
        "POSDESK_POS_UPDATE_URL": "https://downloads.example.com/posdesk-1.4.0.exe",
        "POSDESK_SENTRY_DSN": "https://key@sentry.example.com/7",
    }
    config = CompanionConfig.from_env(env).checked()

    assert (config.public_url, config.demo, config.rate_limit_per_minute, config.max_body_bytes) == (
        "https://pay.example.com",
        False,
        30,
        4096,
    )
    assert config.stripe_api_base == "http://127.0.0.1:12111"
    limits = config.message_limits
    assert (limits.per_client_per_hour, limits.per_store_per_minute, limits.per_store_per_day) == (2, 3, 4)
    assert config.email is not None and config.email.host == "smtp.example.com"
    assert config.sms is not None and config.sms.from_number == "+15550100"
    policy = config.update_policy
    assert (policy.minimum, policy.recommended, policy.url) == (
        None,
        "1.4.0",
        "https://downloads.example.com/posdesk-1.4.0.exe",
    )
    assert (config.sentry_dsn, config.sentry_environment) == ("https://key@sentry.example.com/7", "production")
    setup = make_setup(config)  # the Communicator's channels come from the object, not the environment
    assert set(setup.channels) == {"email", "sms"}
    assert STRONG not in repr(config) and "t" * 32 not in repr(config) and "key@" not in repr(config)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("POSDESK_DEMO", "maybe"),
        ("POSDESK_PUBLIC_URL", "pay.example.com"),
        ("POSDESK_RATE_LIMIT_PER_MINUTE", "0"),
        ("POSDESK_MAX_BODY_BYTES", "lots"),
        ("POSDESK_STRIPE_API_BASE", "ftp://127.0.0.1"),
        ("POSDESK_MESSAGES_PER_STORE_PER_DAY", "-5"),
        ("POSDESK_SMTP_SECURITY", "ssl3"),
        ("POSDESK_SMS_PROVIDER", "pigeon"),
        ("POSDESK_POS_UPDATE_SHA256", "not-a-hash"),
        ("POSDESK_POS_UPDATE_URL", "downloads.example.com/setup.exe"),
    ],
)
def test_a_bad_value_is_refused_with_its_variable_name(variable: str, value: str) -> None:
    env = {variable: value}
    if variable.startswith("POSDESK_SMTP"):
        env |= {"POSDESK_SMTP_HOST": "smtp.example.com", "POSDESK_SMTP_FROM": "a@b.example"}
    with pytest.raises(ConfigError, match=variable):
        CompanionConfig.from_env(env)


def test_the_command_line_says_which_variable_is_wrong(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("POSDESK_RATE_LIMIT_PER_MINUTE", "many")
    assert main(["migrate", "--database-url", f"sqlite+pysqlite:///{tmp_path / 'c.db'}"]) == 2
    assert (
        "POSDESK_RATE_LIMIT_PER_MINUTE must be a whole number above 0, not 'many'" in capsys.readouterr().err
    )


def test_serve_leaves_the_environment_as_it_found_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """--demo and --database-url reach the app (and every worker) inside the configuration object."""
    from posdesk.companion import cli

    handed: list[CompanionConfig] = []
    monkeypatch.setattr(cli, "_run_uvicorn", lambda config, **_options: handed.append(config))
    before = dict(os.environ)
    url = f"sqlite+pysqlite:///{tmp_path / 'c.db'}"

    assert main(["serve", "--demo", "--workers", "2", "--database-url", url, "--port", "1"]) == 0

    assert dict(os.environ) == before
    [config] = handed
    assert (config.demo, config.database_url) == (True, url)
    assert len(config.secret_key) >= 32 and len(config.simulator_webhook_secret) >= 32


def test_the_stripe_driver_is_handed_the_operators_api_base() -> None:
    from posdesk.companion.payments.directory import GatewayDirectory

    config = CompanionConfig.from_env({"POSDESK_STRIPE_API_BASE": "http://127.0.0.1:12111/"})
    public, secrets = {"publishable_key": "pk_test_x"}, {"secret_key": "sk_test_x", "webhook_secret": "whsec_x"}
    gateway = GatewayDirectory(config).build("stripe", public, secrets)
    assert getattr(gateway, "base", None) == "http://127.0.0.1:12111"
