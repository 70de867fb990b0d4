"""A store: its settings (what the payment page and the re-pricing need) and its promotions.

Both live as JSON on the :class:`~posdesk.companion.models.Store` row, in the same wire form the POS
sends with ``PUT /api/v1/settings`` and ``PUT /api/v1/promotions``; this module reads and checks them.
Decimals travel as strings ("0.15"), amounts as integer minor units in the store's currency.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from posdesk.companion.models import Store, StoreEventCounter
from posdesk.core.attributes import field_values
from posdesk.core.catalog import ItemKind
from posdesk.core.currencies import check_gateway_currency, check_store_currency
from posdesk.core.languages import PAGE_LANGUAGES
from posdesk.core.money import Money, validate_currency
from posdesk.core.pricing import Promotion
from posdesk.core.tips import DEFAULT_PRESETS, TipPolicy, TipPreset

SUPPORTED_LANGUAGES = PAGE_LANGUAGES
MAX_PRESETS = 6
MAX_PROMOTIONS = 500
MAX_LINK_EXPIRY_HOURS = 24 * 90
MAX_LOGO_CHARS = 140_000  # about 100 KB of image, base64-encoded
LOGO_TYPES = ("data:image/png", "data:image/jpeg", "data:image/webp")  # never SVG: it can carry script


class SettingsError(ValueError):
    """A settings or promotions document is invalid; the message names the field."""


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """What a store decides about its invoices and payment page."""

    business_name: str
    currency: str
    address: str = ""
    default_locale: str = "en"
    languages: tuple[str, ...] = SUPPORTED_LANGUAGES
    tips_allowed: bool = True
    tip_presets: tuple[TipPreset, ...] = DEFAULT_PRESETS
    tip_max_rate: Decimal = Decimal(1)
    surcharge_rate: Decimal = Decimal(0)
    link_expiry_hours: int = 72
    card_on_file_for_memberships: bool = False
    phone: str = ""
    email: str = ""
    brand_color: str = ""  # "#rrggbb"; the page darkens it where white text on it would be hard to read
    logo: str = ""  # a PNG, JPEG or WebP as a data: URL (the page serves it at /pay/<token>/logo)
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys this version does not know, kept as sent

    def tip_policy(self) -> TipPolicy:
        return TipPolicy(allowed=self.tips_allowed, presets=self.tip_presets, max_rate=self.tip_max_rate)

    @classmethod
    def of(cls, store: Store) -> StoreSettings:
        """The settings of ``store`` (defaults for anything not set)."""
        raw = dict(store.settings or {})
        raw.setdefault("business_name", store.name)
        raw["currency"] = store.currency
        return cls.from_wire(raw)

    # -- wire form ---------------------------------------------------------------------------------
    def to_wire(self) -> dict[str, Any]:
        return {
            **self.extra,
            **field_values(
                self,
                leaving=("extra",),
                languages=list(self.languages),
                tip_presets=[_preset_to_wire(p) for p in self.tip_presets],
                tip_max_rate=str(self.tip_max_rate),
                surcharge_rate=str(self.surcharge_rate),
            ),
        }

    @classmethod
    def from_wire(cls, raw: Any) -> StoreSettings:
        if not isinstance(raw, Mapping):
            raise SettingsError("settings: expected an object")
        currency = _text(raw, "currency", required=True)
        try:
            validate_currency(currency)
        except ValueError as exc:
            raise SettingsError(f"settings.currency: {exc}") from None
        languages = raw.get("languages", list(SUPPORTED_LANGUAGES))
        if not isinstance(languages, list) or not languages or not all(isinstance(x, str) for x in languages):
            raise SettingsError("settings.languages: must be a non-empty list of language codes")
        unknown = [x for x in languages if x not in SUPPORTED_LANGUAGES]
        if unknown:
            raise SettingsError(
                f"settings.languages: unsupported {unknown}; supported: {list(SUPPORTED_LANGUAGES)}"
            )
        default_locale = _text(raw, "default_locale") or languages[0]
        if default_locale.split("_")[0] not in languages:
            raise SettingsError("settings.default_locale: must be one of the enabled languages")
        presets_raw = raw.get("tip_presets")
        presets: tuple[TipPreset, ...] = DEFAULT_PRESETS
        if presets_raw is not None:
            if not isinstance(presets_raw, list) or len(presets_raw) > MAX_PRESETS:
                raise SettingsError(f"settings.tip_presets: must be a list of at most {MAX_PRESETS} presets")
            presets = tuple(_preset_from_wire(item, currency, i) for i, item in enumerate(presets_raw))
        expiry = raw.get("link_expiry_hours", 72)
        if (
            isinstance(expiry, bool)
            or not isinstance(expiry, int)
            or not 1 <= expiry <= MAX_LINK_EXPIRY_HOURS
        ):
            raise SettingsError(
                f"settings.link_expiry_hours: must be a whole number from 1 to {MAX_LINK_EXPIRY_HOURS}"
            )
        surcharge = _rate(raw, "surcharge_rate", "0")
        if surcharge >= 1:
            raise SettingsError("settings.surcharge_rate: must be less than 1")
        tip_max = _rate(raw, "tip_max_rate", "1")
        if tip_max <= 0:
            raise SettingsError("settings.tip_max_rate: must be more than 0")
        known = {
            "business_name", "address", "currency", "default_locale", "languages", "tips_allowed",
            "tip_presets", "tip_max_rate", "surcharge_rate", "link_expiry_hours", "card_on_file_for_memberships",
            "phone", "email", "brand_color", "logo",
        }  # fmt: skip
        return cls(
            business_name=_text(raw, "business_name", required=True, limit=200),
            currency=currency,
            address=_text(raw, "address", limit=500),
            default_locale=default_locale,
            languages=tuple(languages),
            tips_allowed=_flag(raw, "tips_allowed", True),
            tip_presets=presets,
            tip_max_rate=tip_max,
            surcharge_rate=surcharge,
            link_expiry_hours=expiry,
            card_on_file_for_memberships=_flag(raw, "card_on_file_for_memberships", False),
            phone=_text(raw, "phone", limit=40),
            email=_text(raw, "email", limit=200),
            brand_color=_brand_color(raw),
            logo=_logo(raw),
            extra={k: v for k, v in raw.items() if k not in known and isinstance(k, str) and len(k) <= 60},
        )


def _text(raw: Mapping[str, Any], name: str, *, required: bool = False, limit: int = 100) -> str:
    value = raw.get(name)
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            raise SettingsError(f"settings.{name}: is required")
        return ""
    if not isinstance(value, str):
        raise SettingsError(f"settings.{name}: must be a string")
    if required and not value.strip():
        raise SettingsError(f"settings.{name}: must not be empty")
    if len(value) > limit:
        raise SettingsError(f"settings.{name}: is longer than {limit} characters")
    return value


def _brand_color(raw: Mapping[str, Any]) -> str:
    value = _text(raw, "brand_color", limit=7).strip().lower()
    if value and not re.fullmatch(r"#[0-9a-f]{6}", value):
        raise SettingsError('settings.brand_color: must be a colour such as "#1a7f5a"')
    return value


def _logo(raw: Mapping[str, Any]) -> str:
    value = _text(raw, "logo", limit=MAX_LOGO_CHARS).strip()
    if not value:
        return ""
    kind, _, data = value.partition(";base64,")
    if kind not in LOGO_TYPES:
        raise SettingsError("settings.logo: must be a PNG, JPEG or WebP image as a base64 data: URL")
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise SettingsError("settings.logo: is not valid base64") from None
    return value


def _flag(raw: Mapping[str, Any], name: str, default: bool) -> bool:
    value = raw.get(name, default)
    if not isinstance(value, bool):
        raise SettingsError(f"settings.{name}: must be true or false")
    return value


def _rate(raw: Mapping[str, Any], name: str, default: str, where: str = "settings") -> Decimal:
    value = raw.get(name, default)
    if not isinstance(value, str):
        raise SettingsError(f'{where}.{name}: must be a decimal string such as "0.15"')
    try:
        rate = Decimal(value)
    except InvalidOperation:
        raise SettingsError(f"{where}.{name}: is not a decimal number") from None
    if not rate.is_finite() or not Decimal(0) <= rate <= Decimal(1):
        raise SettingsError(f"{where}.{name}: must be between 0 and 1")
    return rate


def _amount(raw: Mapping[str, Any], name: str, currency: str, where: str) -> Money:
    value = raw.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 10**9:
        raise SettingsError(f"{where}.{name}: must be a positive whole number of minor units")
    return Money(value, currency)


def _preset_to_wire(preset: TipPreset) -> dict[str, Any]:
    if preset.percent is not None:
        return {"percent": str(preset.percent)}
    assert preset.amount is not None
    return {"amount": preset.amount.minor}


def _preset_from_wire(raw: Any, currency: str, index: int) -> TipPreset:
    where = f"settings.tip_presets[{index}]"
    if not isinstance(raw, Mapping) or len({"percent", "amount"} & set(raw)) != 1:
        raise SettingsError(f'{where}: must be {{"percent": "0.15"}} or {{"amount": 500}}')
    try:
        if "percent" in raw:
            return TipPreset(percent=_rate(raw, "percent", "0", where))
        return TipPreset(amount=_amount(raw, "amount", currency, where))
    except ValueError as exc:
        if isinstance(exc, SettingsError):
            raise
        raise SettingsError(f"{where}: {exc}") from None


# -- promotions ------------------------------------------------------------------------------------
def promotion_from_wire(raw: Any, currency: str, index: int = 0) -> Promotion:
    where = f"promotions[{index}]"
    if not isinstance(raw, Mapping):
        raise SettingsError(f"{where}: expected an object")
    code = raw.get("code")
    if not isinstance(code, str) or not code.strip() or len(code) > 40:
        raise SettingsError(f"{where}.code: must be a text of 1 to 40 characters")
    name = raw.get("name", code)
    if not isinstance(name, str) or len(name) > 200:
        raise SettingsError(f"{where}.name: must be a text of at most 200 characters")
    has_percent = raw.get("percent") is not None
    if has_percent == (raw.get("amount") is not None):
        raise SettingsError(f"{where}: give either percent or amount")
    kinds_raw = raw.get("eligible_kinds", [])
    if not isinstance(kinds_raw, list):
        raise SettingsError(f"{where}.eligible_kinds: must be a list")
    try:
        kinds = frozenset(ItemKind(kind) for kind in kinds_raw)
    except ValueError:
        raise SettingsError(
            f"{where}.eligible_kinds: unknown kind; known: {[k.value for k in ItemKind]}"
        ) from None
    for flag in ("stackable", "active"):
        if not isinstance(raw.get(flag, True), bool):
            raise SettingsError(f"{where}.{flag}: must be true or false")
    try:
        return Promotion(
            code=code.strip().upper(),
            name=name,
            percent=_rate(raw, "percent", "0", where) if has_percent else None,
            amount=None if has_percent else _amount(raw, "amount", currency, where),
            stackable=raw.get("stackable", True),
            eligible_kinds=kinds,
            active=raw.get("active", True),
        )
    except SettingsError:
        raise
    except ValueError as exc:
        raise SettingsError(f"{where}: {exc}") from None


def promotions_from_wire(raw: Any, currency: str) -> dict[str, Promotion]:
    """Read a list of promotions (the body of ``PUT /promotions``); codes must be unique."""
    if not isinstance(raw, list) or len(raw) > MAX_PROMOTIONS:
        raise SettingsError(f"promotions: must be a list of at most {MAX_PROMOTIONS} promotions")
    result: dict[str, Promotion] = {}
    for index, item in enumerate(raw):
        promotion = promotion_from_wire(item, currency, index)
        if promotion.code in result:
            raise SettingsError(f"promotions[{index}].code: {promotion.code} appears twice")
        result[promotion.code] = promotion
    return result


def promotions(store: Store) -> dict[str, Promotion]:
    """The store's promotions by code, as :func:`posdesk.core.pricing.price_lines` takes them."""
    return stored_promotions(store.promotions or {}, store.currency)


def stored_promotions(stored: Mapping[str, Any], currency: str) -> dict[str, Promotion]:
    """Promotions from their stored form (code -> wire form without its code)."""
    return {
        code: promotion_from_wire({"code": code, **raw}, currency, i) for i, (code, raw) in enumerate(stored.items())
    }


def store_promotions_wire(values: Mapping[str, Promotion]) -> dict[str, Any]:
    """The stored form: code -> promotion wire form without its code."""
    return {
        code: {k: v for k, v in p.to_wire().items() if k != "code"} for code, p in values.items()
    }


# -- stores ----------------------------------------------------------------------------------------
def create_store(
    session: Session,
    name: str,
    currency: str,
    *,
    settings: Mapping[str, Any] | None = None,
    gateway_kind: str = "simulator",
) -> Store:
    """Create a store with its event counter; ``settings`` (wire form) are checked first."""
    name = name.strip()
    if not name or len(name) > 200:
        raise SettingsError("store name: must be a text of 1 to 200 characters")
    checked = StoreSettings.from_wire({"business_name": name, **(settings or {}), "currency": currency})
    try:
        check_store_currency(checked.currency)
        check_gateway_currency(gateway_kind, checked.currency)
    except ValueError as exc:
        raise SettingsError(f"store currency: {exc}") from None
    store = Store(
        id=uuid.uuid4().hex,
        name=name,
        currency=checked.currency,
        settings=checked.to_wire(),
        promotions={},
        gateway_kind=gateway_kind,
        gateway_public={},
    )
    session.add(store)
    session.flush()
    session.add(StoreEventCounter(store_id=store.id, last_id=0))
    session.flush()
    return store


def apply_settings(store: Store, settings: StoreSettings) -> None:
    store.settings = settings.to_wire()
    store.currency = settings.currency
    store.name = settings.business_name
