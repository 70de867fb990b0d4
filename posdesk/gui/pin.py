"""The manager PIN: stored only as a salted, slow hash and compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

ALGORITHM = "pbkdf2_sha256"
ITERATIONS = 240_000
MIN_LENGTH = 4


class PinError(ValueError):
    """A PIN that cannot be used; the message is for the manager."""


def check_new_pin(pin: str, confirm: str) -> None:
    if not pin.isdigit() or len(pin) < MIN_LENGTH:
        raise PinError(f"The PIN needs at least {MIN_LENGTH} digits")
    if pin != confirm:
        raise PinError("The two PINs differ")


def hash_pin(pin: str, *, iterations: int = ITERATIONS) -> str:
    """``pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>``; a fresh 16-byte salt every time."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return f"{ALGORITHM}${iterations}${salt.hex()}${digest.hex()}"


def verify_pin(pin: str, stored: str) -> bool:
    """True when ``pin`` matches ``stored``; malformed stored values never match."""
    try:
        algorithm, iterations, salt_hex, digest_hex = stored.split("$")
        if algorithm != ALGORITHM:
            return False
        digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt_hex), int(iterations))
    except (ValueError, AttributeError):
        return False
    return hmac.compare_digest(digest.hex(), digest_hex)
