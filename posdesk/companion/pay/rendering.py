"""Jinja2 for the payment page: autoescaped templates, translated, with the gateway's CSP origins.

Templates live in ``posdesk/companion/templates``; a gateway driver may ship its card-field partials in
``posdesk/gateways/<kind>/templates`` (the Simulator does), found by the same loader.

A page rendered with ``keep=`` is kept (in this process, the last :data:`KEPT_PAGES`) under a key made
of everything its template reads: the caller's ``keep`` (the view, the link, its CSRF token...), the
template, the language and locale, the gateway's integration and the status. A payment, a new invoice
version, a changed card or setting changes the view, hence the key: a kept page is never stale, it is
just not asked for again and falls out. A gateway whose integration differs per render (Cloud9's seed)
is never served a kept page.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from posdesk import gateways
from posdesk.companion.i18n import LANGUAGES, Translator
from posdesk.companion.pay import page_memo
from posdesk.gateways.base import PageIntegration

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
GATEWAY_TEMPLATES = [p for p in sorted(Path(gateways.__file__).parent.glob("*/templates")) if p.is_dir()]

environment = Environment(
    loader=ChoiceLoader([FileSystemLoader(TEMPLATES), *(FileSystemLoader(p) for p in GATEWAY_TEMPLATES)]),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    # Templates ship inside the package and never change while the companion runs: compile each once
    # and skip the file-modification check Jinja otherwise makes on every render.
    auto_reload=False,
)
KEPT_PAGES = 512  # rendered pages kept per process (a page is about 7 KB)
_kept: OrderedDict[Hashable, bytes] = OrderedDict()
_kept_lock = threading.Lock()


def _integration_key(integration: PageIntegration | None) -> Hashable:
    if integration is None:
        return None
    config = tuple(sorted((name, repr(value)) for name, value in integration.client_config.items()))
    return (
        integration.partial,
        integration.script_origins,
        integration.frame_origins,
        integration.connect_origins,
        config,
        integration.simulated,
    )


def _kept_page(key: Hashable) -> bytes | None:
    with _kept_lock:
        html = _kept.get(key)
        if html is not None:
            _kept.move_to_end(key)
        return html


def _keep_page(key: Hashable, html: bytes) -> None:
    with _kept_lock:
        _kept[key] = html
        while len(_kept) > KEPT_PAGES:
            _kept.popitem(last=False)


def render(
    request: Request,
    template: str,
    t: Translator,
    *,
    status_code: int = 200,
    integration: PageIntegration | None = None,
    languages: tuple[str, ...] = ("en",),
    keep: Hashable | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` for one response. Browsers never cache a page (it shows a live balance); with
    ``keep``, the key of every value in ``context`` (the caller's promise), the rendered page is kept
    here and served again for the same key (see the module's docstring)."""
    if integration is not None:
        request.state.csp_extra = {
            "script-src": list(integration.script_origins),
            "frame-src": list(integration.frame_origins),
            "connect-src": list(integration.connect_origins),
        }
    brand = context.setdefault("brand", None)
    if brand is not None and brand.style:
        # The brand's colours, the page's one inline style: allowed by its hash, not by 'unsafe-inline'.
        extra = getattr(request.state, "csp_extra", None) or {}
        request.state.csp_extra = {**extra, "style-src": ["'self'", brand.style_hash]}
    key = None if keep is None else (template, keep, t, status_code, tuple(languages), _integration_key(integration))
    kept = _kept_page(key) if key is not None else None
    if kept is not None:
        page_memo.rendered_kept_page(request)
        return HTMLResponse(kept, status_code=status_code, headers={"Cache-Control": "no-store"})
    html = environment.get_template(template).render(
        _=t,
        t=t,
        lang=t.lang,
        languages=[(code, LANGUAGES[code]) for code in languages if code in LANGUAGES],
        integration=integration,
        **context,
    ).encode()
    if key is not None:
        _keep_page(key, html)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
