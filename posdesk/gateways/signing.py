"""Timestamped HMAC-SHA256 webhook signatures, in the shape Stripe uses.

Header: ``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{raw_body}")>``. Verification works on
the raw bytes received (a re-serialised body changes them, so it fails) and refuses a timestamp more
than ``tolerance`` seconds away from now, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from posdesk.gateways.base import BadSignature

TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, raw_body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + raw_body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, raw_body: bytes, timestamp: int | None = None) -> str:
    """The signature header value for ``raw_body``."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={signature(secret, t, raw_body)}"


def verify(
    secret: str, raw_body: bytes, header: str | None, *, tolerance: int = TOLERANCE_SECONDS, now: float | None = None
) -> None:
    """Raise :class:`BadSignature` unless ``header`` signs ``raw_body`` with ``secret`` recently."""
    if not secret:
        raise BadSignature("no webhook secret is configured")
    if not header:
        raise BadSignature("missing signature header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise BadSignature("malformed signature header")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise BadSignature("signature timestamp outside the tolerance")
    expected = signature(secret, timestamp, raw_body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise BadSignature("signature does not match")
