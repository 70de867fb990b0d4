"""The languages the payment page speaks: the one list the POS offers the manager, the companion
accepts in a store's settings and renders pages in (a catalog each in ``companion/i18n``)."""

from __future__ import annotations

# In the page's language menu, each in its own language.
PAGE_LANGUAGE_NAMES = {"en": "English", "es": "Español", "fr": "Français"}
PAGE_LANGUAGES: tuple[str, ...] = tuple(PAGE_LANGUAGE_NAMES)
DEFAULT_PAGE_LANGUAGE = "en"
