"""The payment page's guards: a CSRF token per link, and refusing cross-site form posts.

The CSRF token is an HMAC of the link's token hash with the companion's secret key, so it needs no
storage, differs per link, and cannot be made without the key. Cross-site posts are also refused by
their ``Sec-Fetch-Site`` and ``Origin`` headers (modern browsers send them; a form posted from another
site says so).
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from starlette.datastructures import FormData

from posdesk.companion.config import CompanionConfig


def csrf_token(config: CompanionConfig, token_hash: str) -> str:
    return hmac.new(config.secret_key.encode(), f"pay-form:{token_hash}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(config: CompanionConfig, token_hash: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(csrf_token(config, token_hash), presented or "")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin_post(request: Request, config: CompanionConfig) -> bool:
    """False for a post another site made (by ``Sec-Fetch-Site`` or ``Origin``)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True  # an older browser: the CSRF token still has to match
    if origin == "null":
        # With ``Referrer-Policy: no-referrer`` browsers send ``Origin: null`` on form posts; they also
        # send Sec-Fetch-Site, which then decides.
        return site == "same-origin"
    allowed = {_origin(config.public_url), _origin(str(request.base_url))}
    host = request.headers.get("host")
    if host:
        allowed.add(f"{request.url.scheme}://{host}".lower())
    return origin.lower() in allowed


async def checked_form(request: Request, token: str) -> FormData:
    """The posted form of the link ``token``, after the cross-site and CSRF checks (403 otherwise)."""
    from posdesk.companion.deps import get_config
    from posdesk.core.links import hash_token

    config = get_config(request)
    if not same_origin_post(request, config):
        raise HTTPException(403, "Cross-site form posts are refused")
    form = await request.form()
    presented = form.get("csrf")
    if not csrf_ok(config, hash_token(token), presented if isinstance(presented, str) else None):
        raise HTTPException(403, "This form has expired. Reload the page and try again.")
    return form


def form_text(form: FormData, name: str, limit: int = 200) -> str:
    """A posted text field, trimmed and cut to ``limit`` characters ("" when absent)."""
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""
