"""JSON forms of core values the store keeps in JSON columns: catalog details, promotions, tip presets.

Money in JSON is integer minor units (the currency is stored beside it), rates are decimal strings,
sets are sorted lists, times ISO 8601. Readers ignore keys they do not know, so older and newer files
both load.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from posdesk.core.catalog import DETAILS_TYPES, ItemDetails, ItemKind
from posdesk.core.money import Money
from posdesk.core.tips import TipPolicy, TipPreset


def details_to_json(details: ItemDetails) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for f in fields(details):
        value = getattr(details, f.name)
        if isinstance(value, frozenset):
            value = sorted(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        result[f.name] = value
    return result


def details_from_json(kind: ItemKind, raw: dict[str, Any]) -> ItemDetails:
    cls = DETAILS_TYPES[kind]
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in raw:
            continue
        value = raw[f.name]
        if f.name in ("start", "session_start") and value is not None:
            value = datetime.fromisoformat(value)
        elif f.name in ("covers_service_ids", "service_ids"):
            value = frozenset(value)
        values[f.name] = value
    details: ItemDetails = cls(**values)
    return details


def tip_policy_to_json(policy: TipPolicy) -> dict[str, Any]:
    return {
        "allowed": policy.allowed,
        "presets": [
            {"percent": str(p.percent)}
            if p.percent is not None
            else {"amount": p.amount.minor if p.amount else 0}
            for p in policy.presets
        ],
        "max_rate": str(policy.max_rate),
    }


def tip_policy_from_json(raw: dict[str, Any], currency: str) -> TipPolicy:
    presets = tuple(
        TipPreset(percent=Decimal(str(p["percent"])))
        if p.get("percent") is not None
        else TipPreset(amount=Money(int(p["amount"]), currency))
        for p in raw.get("presets", ())
    )
    defaults = TipPolicy()
    return TipPolicy(
        allowed=bool(raw.get("allowed", defaults.allowed)),
        presets=presets if "presets" in raw else defaults.presets,
        max_rate=Decimal(str(raw.get("max_rate", defaults.max_rate))),
    )
