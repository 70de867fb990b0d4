"""Text from people (client and business names) made safe to show on one line, anywhere."""

from __future__ import annotations

import re
import unicodedata

# Characters that change how text around them is displayed without being visible themselves: the
# bidirectional embeddings, overrides and isolates. A client name holding U+202E can make a link or an
# amount read backwards, so names lose them before they reach a header, an SMS or an HTML page.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
MAX_NAME_IN_MESSAGE = 60  # a 10 kB client name must not turn an SMS into eight segments


def single_line(value: str, max_length: int) -> str:
    """``value`` made safe for one line of display: controls (CR, LF, tab...) and bidi overrides turned
    into spaces, whitespace collapsed, cut to ``max_length`` characters (``...`` marks the cut).

    Used for client and business names in headers, SMS and message templates; escaping for HTML is
    separate.
    """
    cleaned = _BIDI_CONTROLS.sub(" ", value)
    cleaned = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in cleaned)
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > max_length:
        # Three dots, not "…": one character outside the GSM alphabet makes a whole SMS UCS-2, at
        # less than half the characters per segment.
        cleaned = cleaned[: max_length - 3].rstrip() + "..."
    return cleaned


def without_bidi_controls(value: str) -> str:
    """``value`` without bidi embeddings, overrides and isolates (each becomes a space), otherwise as it
    was: for names shown on the payment page, which also isolates them in ``<bdi>``."""
    return _BIDI_CONTROLS.sub(" ", value)
