"""The payment page's languages: English (the message ids themselves), Spanish and French.

Catalogs are JSON files beside this module mapping each English message to its translation; a message
missing from a catalog shows in English (a test checks none is missing). Placeholders are
``{name}`` and filled after translation, so word order can change per language.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime

from posdesk.core.languages import DEFAULT_PAGE_LANGUAGE, PAGE_LANGUAGE_NAMES
from posdesk.core.money import Money

LANGUAGES = PAGE_LANGUAGE_NAMES
DEFAULT_LANGUAGE = DEFAULT_PAGE_LANGUAGE


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    if lang == DEFAULT_LANGUAGE or lang not in LANGUAGES:
        return {}
    text = resources.files(__package__).joinpath(f"{lang}.json").read_text(encoding="utf-8")
    data: dict[str, str] = json.loads(text)
    return data


def pick_language(asked: str | None, enabled: tuple[str, ...], default: str, accept: str | None = None) -> str:
    """The page's language: the one asked for if the store enabled it, else the browser's, else the store's."""
    choices = [lang for lang in enabled if lang in LANGUAGES] or [DEFAULT_LANGUAGE]
    if asked is not None and asked in choices:
        return asked
    for part in (accept or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if asked is None and code in choices:
            return code
    base = default.split("_")[0]
    return base if base in choices else choices[0]


@functools.cache
def babel_locale(lang: str, region_hint: str = "") -> str:
    """``es`` with an invoice locale of ``en_US`` formats as ``es_US`` when Babel knows it."""
    region = region_hint.split("_")[1] if "_" in region_hint else ""
    for candidate in (f"{lang}_{region}" if region else "", lang):
        if not candidate:
            continue
        try:
            Locale.parse(candidate)
            return candidate
        except (UnknownLocaleError, ValueError):
            continue
    return "en_US"


@functools.lru_cache(maxsize=4096)
def _money_text(amount: Money, locale: str) -> str:
    # A page shows about ten amounts and the same ones on every view; Babel's formatting is the page's
    # most expensive pure function. Money is an immutable value, so its text per locale never changes.
    return amount.format(locale)


@dataclass(frozen=True, slots=True)
class Translator:
    """Translates and formats for one page view."""

    lang: str
    locale: str

    def __call__(self, message: str, **values: Any) -> str:
        text = catalog(self.lang).get(message, message)
        return text.format(**values) if values else text

    def money(self, amount: Money) -> str:
        return _money_text(amount, self.locale)

    def datetime(self, value: Any) -> str:
        return str(format_datetime(value, "medium", locale=self.locale))


def translator(lang: str, invoice_locale: str = "en_US") -> Translator:
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    return Translator(lang, babel_locale(lang, invoice_locale))
