"""Optional error tracking for the hosted companion: Sentry (or a Sentry-compatible service such as
GlitchTip), as the FastAPI project template's ``SENTRY_DSN``. Off unless ``POSDESK_SENTRY_DSN`` is set.

Unhandled errors are sent with the release (``posdesk-companion@<version>``) and
``POSDESK_SENTRY_ENVIRONMENT``; no personal data (``send_default_pii`` off, no local variables, no request
bodies, no performance tracing), and every string of an event passes :func:`posdesk.logs.redact` first, so a link
token in a URL or a key in an error message never leaves. Needs the ``sentry`` extra
(``pip install 'posdesk[companion,sentry]'``; the container image has it).
"""

from __future__ import annotations

import logging
from typing import Any

from posdesk import __version__
from posdesk.logs import redact

log = logging.getLogger("posdesk.companion")
_started_with: str | None = None


def scrub(value: Any) -> Any:
    """``value`` (an event, or part of one) with every string redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub(item) for item in value)
    return value


def _before_send(event: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
    # The command line may carry --database-url with its password: never sent, redacted or not.
    event.get("extra", {}).pop("sys.argv", None)
    scrubbed: dict[str, Any] = scrub(event)
    return scrubbed


def start(dsn: str, environment: str = "production") -> bool:
    """Start sending errors when ``dsn`` (``POSDESK_SENTRY_DSN``) is set; True when it does. Once per process."""
    global _started_with
    if not dsn or dsn == _started_with:
        return bool(dsn)
    try:
        import sentry_sdk
    except ImportError:
        log.warning(
            "POSDESK_SENTRY_DSN is set but sentry-sdk is not installed "
            "(pip install 'posdesk[companion,sentry]'): errors are only logged"
        )
        return False
    sentry_sdk.init(
        dsn=dsn,
        release=f"posdesk-companion@{__version__}",
        environment=environment,
        send_default_pii=False,
        # A frame's local variables hold link tokens (a route's ``token``), credentials and gateway
        # replies in plain form, where no pattern can find them: never sent.
        include_local_variables=False,
        max_request_body_size="never",
        traces_sample_rate=0.0,
        before_send=_before_send,  # type: ignore[arg-type]
    )
    _started_with = dsn
    log.info("error tracking on (Sentry)")
    return True
