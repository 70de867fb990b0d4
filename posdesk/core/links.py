"""Invoice links are capabilities: unguessable tokens, stored only as a hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 24  # 192 bits, above the 128-bit floor


def new_link_token() -> str:
    """A fresh URL-safe link token from :mod:`secrets`."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The stored form of a token (SHA-256, hex). Tokens carry 192 random bits, so no salt is needed."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)


def pay_url(base_url: str, token: str) -> str:
    """The link the client opens: ``<companion>/pay/<token>``."""
    return f"{base_url.rstrip('/')}/pay/{token}"
