"""Gateway credentials encrypted at rest (Fernet), with a key derived from ``POSDESK_SECRET_KEY``.

Changing ``POSDESK_SECRET_KEY`` makes stored gateway secrets unreadable: the manager enters them again
(the API says so instead of failing obscurely).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"posdesk companion gateway secrets v1"


class SecretsUnreadable(RuntimeError):
    """Stored secrets cannot be decrypted with this key (the secret key changed)."""


class SecretsBox:
    """Seals and opens a JSON object of strings."""

    def __init__(self, secret_key: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
            secret_key.encode("utf-8")
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, values: dict[str, str]) -> bytes:
        return self._fernet.encrypt(json.dumps(values, sort_keys=True).encode("utf-8"))

    def open(self, sealed: bytes | None) -> dict[str, str]:
        if not sealed:
            return {}
        try:
            raw: Any = json.loads(self._fernet.decrypt(sealed))
        except InvalidToken:
            raise SecretsUnreadable(
                "The stored gateway credentials cannot be read (the companion's secret key changed). "
                "Enter them again."
            ) from None
        return {str(k): str(v) for k, v in raw.items()}
