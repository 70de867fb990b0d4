"""The Settings form's rules, without Qt: gateways and their fields, masks, tip presets."""

from __future__ import annotations

import base64
from decimal import Decimal, InvalidOperation

from posdesk.core.money import Money, MoneyFormatError
from posdesk.core.tips import TipPreset

GATEWAYS = (("simulator", "Simulator (training)"), ("stripe", "Stripe"), ("cloud9", "Cloud9"))
GATEWAY_FIELDS = {
    "simulator": (),
    "stripe": (
        ("publishable_key", "Publishable key"),
        ("secret_key", "Secret key"),
        ("webhook_secret", "Webhook secret"),
    ),
    "cloud9": (("merchant_id", "Merchant ID"), ("api_key", "API key")),
}
PUBLIC_FIELDS = frozenset({"publishable_key", "merchant_id"})  # ids the companion may show back, masked
GATEWAY_KEY = "gateway"  # settings row: {"name": ..., "masks": {field: mask}}
NO_KEYRING = (
    "No keyring is available on this computer, so the terminal's credential cannot be stored safely. "
    "Keep it for this session only: the terminal must be paired again after a restart."
)


def mask_secret(secret: str) -> str:
    """ "sk_live_abcdef1234" -> "sk_live_…1234": enough to recognise it, too little to use it."""
    secret = secret.strip()
    if len(secret) <= 8:
        return "…" + secret[-2:] if secret else ""
    prefix = secret[: secret.rfind("_") + 1] if "_" in secret[:12] else secret[:3]
    return f"{prefix}…{secret[-4:]}"


def parse_tip_preset(text: str, currency: str, locale: str) -> TipPreset:
    """ "15%" -> 15 percent, "2.00" -> a fixed amount; ValueError with a message otherwise."""
    text = text.strip()
    if text.endswith("%"):
        try:
            return TipPreset(percent=Decimal(text[:-1].strip()) / 100)
        except (InvalidOperation, ValueError):
            raise ValueError(f"{text!r} is not a tip percent such as 18%") from None
    try:
        return TipPreset(amount=Money.parse(text, currency, locale))
    except (MoneyFormatError, ValueError):
        raise ValueError(f"{text!r} is not a tip such as 18% or 5.00") from None


MAX_LOGO_BYTES = 100 * 1024  # the companion refuses more (posdesk.companion.stores)
_IMAGE_TYPES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"RIFF", "image/webp"))


def logo_data_url(image: bytes) -> str:
    """The logo as the store settings carry it (a base64 data: URL); ValueError for what is not a PNG,
    JPEG or WebP image of at most 100 KB."""
    if len(image) > MAX_LOGO_BYTES:
        raise ValueError(f"The logo is {len(image) // 1024} KB; choose one of at most 100 KB")
    for magic, media_type in _IMAGE_TYPES:
        if image.startswith(magic) and (media_type != "image/webp" or image[8:12] == b"WEBP"):
            return f"data:{media_type};base64," + base64.b64encode(image).decode("ascii")
    raise ValueError("The logo must be a PNG, JPEG or WebP image")
