"""The companion's configuration: one typed object, read from the environment here and nowhere else.

:meth:`CompanionConfig.from_env` reads every variable (the table is in ``docs/companion.md``) and refuses
a value it cannot use with the variable's name. The object is handed to :func:`create_app`, which hands
its parts on (the Communicator's channels, the Stripe API base); with several workers the object itself
is given to each worker process, never the environment rewritten.

Outside demo mode the companion refuses to start with a missing or placeholder secret and says which
(the full-stack-fastapi-template habit): a hosted companion with a default key would let anyone forge
webhooks or read gateway credentials.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from posdesk import paths
from posdesk.config import ConfigError as ConfigError  # the error of both programs' configurations
from posdesk.config import PosConfig, flag
from posdesk.messaging import MessagingConfigError, email_settings, sms_settings
from posdesk.messaging.email import SmtpSettings
from posdesk.messaging.limits import LimitPolicy
from posdesk.messaging.sms import TwilioSettings

PLACEHOLDERS = {"", "changeme", "change-me", "secret", "placeholder", "xxx", "test"}
MIN_SECRET_LENGTH = 32
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8700"
SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class UpdatePolicy:
    """The POS versions the operator asks terminals to run (``GET /api/v1/updates`` signs it)."""

    minimum: str | None = None  # terminals below it refuse to run
    recommended: str | None = None  # terminals below it say an update is available
    url: str = ""  # where the installer is
    sha256: str = ""  # the installer's hash


def default_database_url() -> str:
    return f"sqlite+pysqlite:///{paths.data_dir() / 'companion.db'}"


@dataclass(frozen=True, slots=True)
class CompanionConfig:
    """Everything the companion needs to run. Secrets never appear in ``repr``."""

    database_url: str = field(default_factory=default_database_url)
    public_url: str = DEFAULT_PUBLIC_URL  # base of the links clients open
    secret_key: str = field(default="", repr=False)  # signs page forms, encrypts gateway secrets at rest
    simulator_webhook_secret: str = field(default="", repr=False)
    demo: bool = False
    rate_limit_per_minute: int = 120  # payment page requests per client address
    max_body_bytes: int = 256 * 1024
    # The operator's Stripe API address for every store (a Stripe mock in tests); "" = Stripe's, or the
    # store's own setting where the driver allows one.
    stripe_api_base: str = ""
    cloud9_api_url: str = ""  # likewise for Cloud9 (a Cloud9 stand-in on another host)
    email: SmtpSettings | None = field(default=None, repr=False)  # the Communicator's channels, when set
    sms: TwilioSettings | None = field(default=None, repr=False)
    message_limits: LimitPolicy = field(default_factory=LimitPolicy)
    update_policy: UpdatePolicy = field(default_factory=UpdatePolicy)
    sentry_dsn: str = field(default="", repr=False)  # error tracking, off when empty
    sentry_environment: str = "production"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> CompanionConfig:
        """Read the environment (or ``env``); ``overrides`` that are not None win (command-line options)."""
        env = os.environ if env is None else env
        PosConfig.from_env(env)  # the data folder and log level, which both programs read, are usable
        values: dict[str, object] = {
            "database_url": env.get("DATABASE_URL") or default_database_url(),
            "public_url": _url(env, "POSDESK_PUBLIC_URL") or DEFAULT_PUBLIC_URL,
            "secret_key": env.get("POSDESK_SECRET_KEY", ""),
            "simulator_webhook_secret": env.get("POSDESK_SIMULATOR_WEBHOOK_SECRET", ""),
            "demo": flag(env, "POSDESK_DEMO"),
            "stripe_api_base": _url(env, "POSDESK_STRIPE_API_BASE"),
            "cloud9_api_url": _url(env, "POSDESK_CLOUD9_API_URL"),
        }
        for name, variable in (
            ("rate_limit_per_minute", "POSDESK_RATE_LIMIT_PER_MINUTE"),
            ("max_body_bytes", "POSDESK_MAX_BODY_BYTES"),
        ):
            if env.get(variable):
                values[name] = _positive(env, variable)
        limits = {
            name: _positive(env, variable)
            for name, variable in (
                ("per_client_per_hour", "POSDESK_MESSAGES_PER_CLIENT_PER_HOUR"),
                ("per_store_per_minute", "POSDESK_MESSAGES_PER_STORE_PER_MINUTE"),
                ("per_store_per_day", "POSDESK_MESSAGES_PER_STORE_PER_DAY"),
            )
            if env.get(variable)
        }
        values["message_limits"] = LimitPolicy(**limits)
        values["update_policy"] = _update_policy(env)
        values["sentry_dsn"] = env.get("POSDESK_SENTRY_DSN", "").strip()
        values["sentry_environment"] = env.get("POSDESK_SENTRY_ENVIRONMENT", "").strip() or "production"
        try:
            values["email"] = email_settings(env)
            values["sms"] = sms_settings(env)
        except MessagingConfigError as exc:  # names the variable already
            raise ConfigError(str(exc)) from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def for_demo(cls, database_url: str, public_url: str) -> CompanionConfig:
        """Demo and tests: fresh random secrets, never placeholders."""
        return cls(
            database_url=database_url,
            public_url=public_url,
            secret_key=secrets.token_urlsafe(32),
            simulator_webhook_secret=secrets.token_urlsafe(32),
            demo=True,
        )

    def checked(self) -> CompanionConfig:
        """Return self, or raise :class:`ConfigError` naming every missing or placeholder secret."""
        problems = []
        for name, env_name in (
            ("secret_key", "POSDESK_SECRET_KEY"),
            ("simulator_webhook_secret", "POSDESK_SIMULATOR_WEBHOOK_SECRET"),
        ):
            value = getattr(self, name)
            if value.strip().lower() in PLACEHOLDERS or len(value) < MIN_SECRET_LENGTH:
                problems.append(
                    f"{env_name} must be set to a random value of at least {MIN_SECRET_LENGTH} characters"
                )
        if problems and not self.demo:
            raise ConfigError("; ".join(problems))
        return self


def _positive(env: Mapping[str, str], variable: str) -> int:
    text = env[variable].strip()
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{variable} must be a whole number above 0, not {text!r}")
    return int(text)


def _url(env: Mapping[str, str], variable: str) -> str:
    text = env.get(variable, "").strip().rstrip("/")
    if text and (urlsplit(text).scheme not in ("http", "https") or not urlsplit(text).hostname):
        raise ConfigError(f"{variable} must be an http:// or https:// address, not {text!r}")
    return text


def _update_policy(env: Mapping[str, str]) -> UpdatePolicy:
    sha256 = env.get("POSDESK_POS_UPDATE_SHA256", "").strip().lower()
    if sha256 and not SHA256.match(sha256):
        raise ConfigError(f"POSDESK_POS_UPDATE_SHA256 must be 64 hexadecimal digits, not {sha256!r}")
    return UpdatePolicy(
        minimum=env.get("POSDESK_POS_MINIMUM_VERSION", "").strip() or None,
        recommended=env.get("POSDESK_POS_RECOMMENDED_VERSION", "").strip() or None,
        url=_url(env, "POSDESK_POS_UPDATE_URL"),
        sha256=sha256,
    )
