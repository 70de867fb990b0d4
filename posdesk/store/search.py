"""Search keys: the normalized forms of names, phones and emails that the store indexes.

A cashier types "rene", "René" or "RENE" and expects the same clients; so names are stored once more,
case-folded and without accents, and searched by prefix with a range query (``key >= p AND key < p+1``)
that an ordinary index answers without scanning the table.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_NON_DIGITS = re.compile(r"\D")


def name_key(text: str) -> str:
    """Case-folded, accent-free, single-spaced form of a name ("  René  Dupré" -> "rene dupre")."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped.casefold()).strip()


def phone_key(phone: str) -> str:
    """The digits of a phone number, as typed order ("(555) 010-2000" -> "5550102000")."""
    return _NON_DIGITS.sub("", phone)


def email_key(email: str) -> str:
    return email.strip().casefold()


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix`` (for a range query).

    SQLite compares text as UTF-8 bytes with the default collation, which orders like code points, so
    bumping the last code point by one gives the exclusive upper bound.
    """
    if not prefix:
        raise ValueError("an empty prefix has no upper bound")
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def looks_like_phone(text: str) -> bool:
    """True when the search text is a phone number or part of one (at least 3 digits, no letters)."""
    return len(phone_key(text)) >= 3 and not any(ch.isalpha() for ch in text)
