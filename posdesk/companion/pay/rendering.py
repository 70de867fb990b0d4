"""Jinja2 for the payment page: autoescaped templates, translated, with the gateway's CSP origins.

Templates live in ``posdesk/companion/templates``; a gateway driver may ship its card-field partials in
``posdesk/gateways/<kind>/templates`` (the Simulator does), found by the same loader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from posdesk import gateways
from posdesk.companion.i18n import LANGUAGES, Translator
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


def render(
    request: Request,
    template: str,
    t: Translator,
    *,
    status_code: int = 200,
    integration: PageIntegration | None = None,
    languages: tuple[str, ...] = ("en",),
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` for one response; pages are never cached (they show a live balance)."""
    if integration is not None:
        request.state.csp_extra = {
            "script-src": list(integration.script_origins),
            "frame-src": list(integration.frame_origins),
            "connect-src": list(integration.connect_origins),
        }
    html = environment.get_template(template).render(
        _=t,
        t=t,
        lang=t.lang,
        languages=[(code, LANGUAGES[code]) for code in languages if code in LANGUAGES],
        integration=integration,
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
