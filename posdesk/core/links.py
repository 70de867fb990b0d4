"""Invoice links are capabilities: unguessable tokens, stored only as a hash."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets

TOKEN_BYTES = 24  # 192 bits, above the 128-bit floor
TOKEN_LENGTH = 32  # URL-safe base64 of 24 bytes, no padding
_TOKEN_TEXT = re.compile(r"[A-Za-z0-9_-]{32}")
# 32 symbols drawn from 64 show about 25 different ones; fewer than 12 happens by chance about once in
# 10^12 tokens, and is what "AAAA…", "abcabc…" or a counter look like.
MIN_DISTINCT_SYMBOLS = 12


def new_link_token() -> str:
    """A fresh URL-safe link token from :mod:`secrets`."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def is_well_formed_token(token: object) -> bool:
    """Whether ``token`` looks like :func:`new_link_token`'s: 192 bits in URL-safe base64, not an
    obviously low-entropy string (an uploaded token is a capability the companion will honour)."""
    if not isinstance(token, str) or not _TOKEN_TEXT.fullmatch(token):
        return False
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
    except (binascii.Error, ValueError):
        return False
    return len(raw) == TOKEN_BYTES and len(set(token)) >= MIN_DISTINCT_SYMBOLS


def hash_token(token: str) -> str:
    """The stored form of a token (SHA-256, hex). Tokens carry 192 random bits, so no salt is needed."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)


def pay_url(base_url: str, token: str) -> str:
    """The link the client opens: ``<companion>/pay/<token>``."""
    return f"{base_url.rstrip('/')}/pay/{token}"
