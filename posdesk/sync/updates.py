"""Update notices on the POS: the companion's signed policy, checked, pinned, and remembered.

After connecting, the POS asks its companion for the store's update policy (``GET /api/v1/updates``,
:mod:`posdesk.companion.updates`): the minimum and recommended POS versions, the installer's URL and
SHA-256, signed with the companion's Ed25519 key. The first policy pins that key for the companion
(trust on first use, like SSH); later ones signed by any other key are ignored. The last good policy is
kept in ``update-policy.json`` so a terminal below the minimum refuses to start even while offline.

:func:`notice_for` turns a policy into what the cashier sees: nothing, "an update is available", or
"this version can no longer be used" (the POS then refuses to run).
"""

from __future__ import annotations

import base64
import json
import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from posdesk import __version__, paths

log = logging.getLogger(__name__)
POLICY_FILE = "update-policy.json"


class UpdateRefused(ValueError):
    """The policy could not be trusted (bad signature, another key than the pinned one, malformed)."""


class Urgency(StrEnum):
    AVAILABLE = "available"
    REQUIRED = "required"


@dataclass(frozen=True, slots=True)
class Policy:
    """The store's update policy: the lowest version allowed to run, the one recommended, and its installer."""

    minimum: str | None
    recommended: str | None
    url: str
    sha256: str


@dataclass(frozen=True, slots=True)
class UpdateNotice:
    """What to tell the cashier about updating: how urgent it is, to which version, and where from."""

    urgency: Urgency
    version: str
    url: str
    sha256: str
    running: str

    def text(self) -> str:
        where = f" from {self.url}" if self.url else " (ask your IT for the installer)"
        check = f" (SHA-256 {self.sha256})" if self.sha256 else ""
        if self.urgency is Urgency.REQUIRED:
            return (
                f"This version of posdesk ({self.running}) can no longer be used at this store: "
                f"version {self.version} or newer is required. Install it{where}{check}; "
                "the tickets on this terminal are kept and sent once it runs."
            )
        return f"An update is available: posdesk {self.version}{where}{check}."


def version_key(version: str) -> tuple[int, ...]:
    """``"1.10.2"`` -> ``(1, 10, 2)``, ``"0.2.0rc1"`` -> ``(0, 2, 0)``: enough to order releases."""
    numbers = [int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3]]
    return tuple(numbers + [0] * (3 - len(numbers)))


def notice_for(policy: Policy, running: str = __version__) -> UpdateNotice | None:
    """What to tell the cashier about ``policy`` while running ``running`` (None: nothing)."""
    if policy.minimum and version_key(running) < version_key(policy.minimum):
        target = max(filter(None, (policy.minimum, policy.recommended)), key=version_key)
        return UpdateNotice(Urgency.REQUIRED, target, policy.url, policy.sha256, running)
    if policy.recommended and version_key(running) < version_key(policy.recommended):
        return UpdateNotice(Urgency.AVAILABLE, policy.recommended, policy.url, policy.sha256, running)
    return None


def verify(signed: dict[str, Any], pinned_key: str | None) -> Policy:
    """Check ``signed`` (the companion's answer) against ``pinned_key`` (or its own key the first time)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        document, signature, key = (str(signed[field]) for field in ("policy", "signature", "public_key"))
        if pinned_key is not None and key != pinned_key:
            raise UpdateRefused("the update policy is signed by another key than this companion's")
        Ed25519PublicKey.from_public_bytes(base64.b64decode(key)).verify(
            base64.b64decode(signature), document.encode("utf-8")
        )
        body = json.loads(document)
        return Policy(
            minimum=body.get("minimum") or None,
            recommended=body.get("recommended") or None,
            url=str(body.get("url") or ""),
            sha256=str(body.get("sha256") or ""),
        )
    except InvalidSignature:
        raise UpdateRefused("the update policy's signature does not match") from None
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, UpdateRefused):
            raise
        raise UpdateRefused(f"the update policy is malformed ({type(exc).__name__})") from None


def _policy_file(data_dir: Path | None) -> Path:
    return (data_dir or paths.data_dir()) / POLICY_FILE


def _stored(data_dir: Path | None) -> dict[str, Any]:
    try:
        stored = json.loads(_policy_file(data_dir).read_text("utf-8"))
        return stored if isinstance(stored, dict) else {}
    except (OSError, ValueError):
        return {}


def accept(signed: dict[str, Any], companion_url: str, data_dir: Path | None = None) -> Policy:
    """Verify a policy from ``companion_url`` (pinning its key the first time) and remember it."""
    stored = _stored(data_dir)
    pins: dict[str, str] = stored.get("keys", {}) if isinstance(stored.get("keys"), dict) else {}
    policy = verify(signed, pins.get(companion_url))
    pins[companion_url] = str(signed["public_key"])
    path = _policy_file(data_dir)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps({"keys": pins, "companion": companion_url, "last": signed}), "utf-8")
    partial.replace(path)
    return policy


def remembered(data_dir: Path | None = None) -> Policy | None:
    """The last policy accepted, verified again against its pinned key (None: none, or not trusted)."""
    stored = _stored(data_dir)
    try:
        return verify(stored["last"], stored["keys"][stored["companion"]])
    except (KeyError, TypeError, UpdateRefused):
        return None


def fetch(companion_url: str, credential: str, data_dir: Path | None = None) -> Policy:
    """Ask the companion for its policy and accept it (blocking: call off the UI thread).

    Raises :class:`~posdesk.sync.client.CompanionError` when the companion cannot be asked, and
    :class:`UpdateRefused` when its answer cannot be trusted.
    """
    import httpx

    from posdesk.sync.client import API, USER_AGENT, CompanionUnavailable, _check

    try:
        response = httpx.get(
            f"{companion_url.rstrip('/')}{API}/updates",
            headers={"Authorization": f"Bearer {credential}", "User-Agent": USER_AGENT},
            timeout=10,
        )
    except httpx.HTTPError as exc:
        raise CompanionUnavailable(str(exc) or type(exc).__name__) from exc
    return accept(_check(response).json(), companion_url, data_dir)
