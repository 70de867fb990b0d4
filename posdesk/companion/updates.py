"""Which POS version each terminal runs, and the store's signed update policy for them.

Every POS request says ``User-Agent: posdesk/<version>``; :func:`record_version` keeps it on the terminal
(written only when it changes), so IT sees which terminals lag (``GET /api/v1/terminals``, :mod:`posdesk.companion.api.updates`).

The policy (``GET /api/v1/updates``) is the companion configuration's :class:`UpdatePolicy`, from:

* ``POSDESK_POS_MINIMUM_VERSION``: terminals below it refuse to run, and say where the update is;
* ``POSDESK_POS_RECOMMENDED_VERSION``: terminals below it show "an update is available";
* ``POSDESK_POS_UPDATE_URL`` and ``POSDESK_POS_UPDATE_SHA256``: where the installer is, and its hash.

It is signed with an Ed25519 key derived from the companion's ``POSDESK_SECRET_KEY`` (nothing more to
keep); a terminal pins the public key the first time it sees a policy and ignores any policy signed by
another key afterwards, so whoever sits between a terminal and its companion cannot send it to
another download (``posdesk.sync.updates`` on the POS).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import asdict

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import update

from posdesk.companion.config import UpdatePolicy
from posdesk.companion.database import Database
from posdesk.companion.models import Terminal, utcnow

__all__ = ["UpdatePolicy", "pos_version_of", "record_version", "signed_policy", "signing_key"]

VERSION_IN_USER_AGENT = re.compile(r"\bposdesk/([0-9][0-9A-Za-z.+-]{0,38})")


def pos_version_of(user_agent: str | None) -> str | None:
    """The POS version named in a ``User-Agent`` header, or None (a browser, curl, an old POS)."""
    found = VERSION_IN_USER_AGENT.search(user_agent or "")
    return found.group(1) if found else None


def record_version(db: Database, terminal: Terminal, user_agent: str | None) -> None:
    """Remember the version ``terminal`` runs when it differs from the one on record."""
    version = pos_version_of(user_agent)
    if version is None or version == terminal.app_version:
        return
    with db.write() as session:
        session.execute(
            update(Terminal)
            .where(Terminal.id == terminal.id)
            .values(app_version=version, version_seen_at=utcnow())
        )
    terminal.app_version = version


def signing_key(secret_key: str) -> Ed25519PrivateKey:
    """The companion's policy-signing key: derived from its secret key, so it survives restarts."""
    seed = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"posdesk", info=b"posdesk update policy v1"
    ).derive(secret_key.encode("utf-8"))
    return Ed25519PrivateKey.from_private_bytes(seed)


def signed_policy(policy: UpdatePolicy, secret_key: str, store_id: str) -> dict[str, str]:
    """The wire form: the policy as a JSON string, its signature, and the public key (base64)."""
    key = signing_key(secret_key)
    document = json.dumps(
        {**asdict(policy), "store_id": store_id, "issued_at": utcnow().isoformat()},
        sort_keys=True,
        separators=(",", ":"),
    )
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        "policy": document,
        "signature": base64.b64encode(key.sign(document.encode("utf-8"))).decode("ascii"),
        "public_key": base64.b64encode(public).decode("ascii"),
    }
