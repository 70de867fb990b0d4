"""How the payment page presents the business: its logo, its colour and how to reach it.

The manager sets these in the POS (Settings > Business); they reach the companion with the store's
settings. A brand colour too light for white text is darkened until the page's buttons and links keep
WCAG AA contrast (4.5:1 on white), so no setting can make the page unreadable.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from posdesk.companion.stores import StoreSettings
from posdesk.core.text import without_bidi_controls

AA = 4.5


@dataclass(frozen=True, slots=True)
class Brand:
    name: str
    address: str = ""
    phone: str = ""
    email: str = ""
    accent: str = ""  # the brand colour as used on the page ("" keeps the page's own)
    logo_url: str = ""  # "" shows the business's initial

    @property
    def style(self) -> str:
        """The page's accent colours for this brand (an inline style, allowed by its hash)."""
        if not self.accent:
            return ""
        return f":root{{--accent:{self.accent};--accent-soft:{_mix_with_white(self.accent, 0.9)}}}"

    @property
    def style_hash(self) -> str:
        digest = hashlib.sha256(self.style.encode()).digest()
        return "'sha256-" + base64.b64encode(digest).decode() + "'"


def brand_of(settings: StoreSettings, logo_url: str) -> Brand:
    return Brand(
        name=without_bidi_controls(settings.business_name),
        address=without_bidi_controls(settings.address),
        phone=settings.phone,
        email=settings.email,
        accent=readable_on_white(settings.brand_color) if settings.brand_color else "",
        logo_url=logo_url if settings.logo else "",
    )


def logo_version(settings: StoreSettings) -> str:
    """A short fingerprint of the logo, so a new logo is fetched at once despite caching."""
    return hashlib.sha256(settings.logo.encode()).hexdigest()[:12]


def logo_bytes(settings: StoreSettings) -> tuple[bytes, str] | None:
    """The logo's image and media type, or None when the store has none."""
    if not settings.logo:
        return None
    kind, _, data = settings.logo.partition(";base64,")
    return base64.b64decode(data), kind.removeprefix("data:")


def _channels(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _luminance(color: str) -> float:
    def linear(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = _channels(color)
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


def contrast(one: str, other: str) -> float:
    """The WCAG contrast ratio of two "#rrggbb" colours."""
    light, dark = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def readable_on_white(color: str) -> str:
    """``color``, darkened in small steps until white on it (and it on white) reads at AA."""
    r, g, b = _channels(color)
    shade = color
    while contrast(shade, "#ffffff") < AA:
        r, g, b = int(r * 0.92), int(g * 0.92), int(b * 0.92)
        shade = f"#{r:02x}{g:02x}{b:02x}"
    return shade


def _mix_with_white(color: str, white: float) -> str:
    r, g, b = _channels(color)
    mixed = (round(c + (255 - c) * white) for c in (r, g, b))
    return "#" + "".join(f"{c:02x}" for c in mixed)
