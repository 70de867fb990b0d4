"""The companion's configuration: read once at start, from the command line and the environment.

Outside demo mode the companion refuses to start with a missing or placeholder secret and says which
(the full-stack-fastapi-template habit): a hosted companion with a default key would let anyone forge
webhooks or read gateway credentials.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field

from posdesk import paths

PLACEHOLDERS = {"", "changeme", "change-me", "secret", "placeholder", "xxx", "test"}
MIN_SECRET_LENGTH = 32


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says what to set."""


def default_database_url() -> str:
    return f"sqlite+pysqlite:///{paths.data_dir() / 'companion.db'}"


@dataclass(frozen=True, slots=True)
class CompanionConfig:
    """Everything the companion needs to run. Secrets never appear in ``repr``."""

    database_url: str = field(default_factory=default_database_url)
    public_url: str = "http://127.0.0.1:8700"  # base of the links clients open
    secret_key: str = field(default="", repr=False)  # signs page forms, encrypts gateway secrets at rest
    simulator_webhook_secret: str = field(default="", repr=False)
    demo: bool = False
    rate_limit_per_minute: int = 120  # payment page requests per client address
    max_body_bytes: int = 256 * 1024

    @classmethod
    def from_env(cls, **overrides: object) -> CompanionConfig:
        env = os.environ
        values: dict[str, object] = {
            "database_url": env.get("DATABASE_URL") or default_database_url(),
            "public_url": env.get("POSDESK_PUBLIC_URL", "http://127.0.0.1:8700"),
            "secret_key": env.get("POSDESK_SECRET_KEY", ""),
            "simulator_webhook_secret": env.get("POSDESK_SIMULATOR_WEBHOOK_SECRET", ""),
            "demo": env.get("POSDESK_DEMO", "").lower() in {"1", "true", "yes"},
        }
        for name, env_name in (
            ("rate_limit_per_minute", "POSDESK_RATE_LIMIT_PER_MINUTE"),
            ("max_body_bytes", "POSDESK_MAX_BODY_BYTES"),
        ):
            if env.get(env_name):
                try:
                    values[name] = int(env[env_name])
                except ValueError:
                    raise ConfigError(f"{env_name} must be a whole number") from None
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
                problems.append(f"{env_name} must be set to a random value of at least {MIN_SECRET_LENGTH} characters")
        if problems and not self.demo:
            raise ConfigError("; ".join(problems))
        return self
