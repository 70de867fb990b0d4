"""The store's amount style kept in the data folder, so the next start writes amounts without Babel.

:mod:`posdesk.core.amount_style` says why. ``amount-styles.json`` holds the style of the store's currency
in the terminal's locale: :func:`load` remembers it before the window is built, :func:`keep` reads it
from Babel and writes it once the window is up, when the kept one is missing, for another pair, or from
another Babel (then the first frame formatted with Babel, as it always did).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from posdesk.core.amount_style import AmountStyle, babel_stamp, remember, remembered, style_from_babel

log = logging.getLogger(__name__)
FILE = "amount-styles.json"


def _kept_in(data_dir: Path) -> list[AmountStyle]:
    """The styles the data folder keeps (none when the file is missing or unreadable)."""
    try:
        raw = json.loads((data_dir / FILE).read_text(encoding="utf-8"))
        return [AmountStyle.from_json(item) for item in raw]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return []


def load(data_dir: Path) -> None:
    """Remember the kept styles read from the Babel installed now; a missing or unreadable file keeps none."""
    stamp = babel_stamp()
    remember(style for style in _kept_in(data_dir) if stamp and style.stamp == stamp)


def keep(data_dir: Path, locale: str, currency: str) -> None:
    """Read the style of ``currency`` in ``locale`` from Babel and keep it in ``data_dir``, unless that
    folder keeps it already (remembered in this process is not enough: it may have come from another)."""
    stamp = babel_stamp()
    kept = remembered(locale, currency)
    if not stamp or (kept is not None and kept.stamp == stamp and kept in _kept_in(data_dir)):
        return
    try:
        style = style_from_babel(locale, currency, stamp)
    except Exception as exc:  # an unknown locale or currency: Money.format says so where it is used
        log.info("no amount style for %s in %s: %s", currency, locale, exc)
        return
    if style is None:
        return
    remember([style])
    path = data_dir / FILE
    try:
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps([style.to_json()], ensure_ascii=False), encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:  # a read-only data folder: amounts are still written, by Babel, next time
        log.warning("cannot keep the amount style: %s", exc)
