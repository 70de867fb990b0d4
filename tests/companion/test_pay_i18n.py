"""Every message the payment page can show exists in Spanish and French, with the same placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

import posdesk
from posdesk.companion.i18n import catalog, pick_language, translator
from posdesk.core.catalog import ItemKind
from posdesk.core.ticket import Coverage
from posdesk.gateways.simulator.cards import DECLINED_MESSAGE
from posdesk.gateways.simulator.driver import AUTH_FAILED_MESSAGE

ROOT = Path(posdesk.__file__).parent
SOURCES = [
    *(ROOT / "companion" / "templates").glob("*.html"),
    *(ROOT / "gateways").glob("*/templates/*.html"),
]


def page_messages() -> set[str]:
    found: set[str] = set()
    for path in SOURCES:
        found |= set(re.findall(r"""_\(\s*["']([^"']+)["']""", path.read_text()))
    for path in (ROOT / "companion" / "pay").glob("*.py"):
        found |= set(re.findall(r'\bt\(\s*"([^"]+)"', path.read_text()))
    found |= {kind.label for kind in ItemKind} | {coverage.label for coverage in Coverage}
    found |= {DECLINED_MESSAGE, AUTH_FAILED_MESSAGE}
    return found


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("lang", ["es", "fr"])
def test_catalog_is_complete(lang: str) -> None:
    messages = page_messages()
    assert len(messages) > 80
    missing = sorted(messages - set(catalog(lang)))
    assert missing == []
    for english, translated in catalog(lang).items():
        assert placeholders(english) == placeholders(translated), english


def test_language_choice_follows_the_store_then_the_browser() -> None:
    assert pick_language("fr", ("en", "es"), "en") == "en"  # not enabled by the store
    assert pick_language(None, ("en", "es"), "en", "es-MX,es;q=0.9") == "es"
    assert pick_language("es", ("en", "es"), "en") == "es"
    assert translator("es", "en_US")("Balance due") == "Saldo pendiente"
