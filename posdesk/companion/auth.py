"""Terminal pairing and credentials.

A manager runs ``posdesk-companion create-store`` (or ``pairing-code``) and types the one-time code
into the POS; the POS exchanges it for a credential (a bearer token) that it keeps in the OS keyring.
Codes and credentials are stored only as SHA-256 hashes: both carry enough randomness that a salt
adds nothing, and a database leak then gives nobody a working credential.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from posdesk.companion.models import PairingCode, Terminal, utcnow

PAIRING_CODE_LIFETIME = timedelta(hours=24)
# Crockford's base32 without I, L, O, U: nothing a cashier can misread when typing it in.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12  # 60 bits: with rate-limited attempts and a 24 h life, not guessable
CREDENTIAL_PREFIX = "pdt_"


class PairingError(ValueError):
    """The pairing code is wrong, used or expired (deliberately not saying which)."""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalize_code(code: str) -> str:
    """Upper case without spaces or dashes, so ``abcd-efgh-jkmn`` and ``ABCDEFGHJKMN`` match."""
    return "".join(ch for ch in code.upper() if ch not in " -\t")


def format_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def new_pairing_code(session: Session, store_id: str, *, now: datetime | None = None) -> str:
    """Make a one-time pairing code for ``store_id`` (valid 24 h) and return it, formatted ``XXXX-XXXX-XXXX``."""
    now = now or utcnow()
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    session.add(
        PairingCode(code_hash=_digest(code), store_id=store_id, expires_at=now + PAIRING_CODE_LIFETIME)
    )
    return format_code(code)


def hash_credential(credential: str) -> str:
    return _digest(credential)


def pair_terminal(
    session: Session, code: str, name: str, *, now: datetime | None = None
) -> tuple[Terminal, str]:
    """Use ``code`` once: create a terminal of its store and return it with its new credential."""
    now = now or utcnow()
    code_hash = _digest(normalize_code(code))
    # A conditional update takes the code exactly once even when two terminals race with it.
    taken = session.execute(
        update(PairingCode)
        .where(
            PairingCode.code_hash == code_hash, PairingCode.used_at.is_(None), PairingCode.expires_at > now
        )
        .values(used_at=now)
        .returning(PairingCode.store_id)
    ).scalar_one_or_none()
    if taken is None:
        raise PairingError("This pairing code is not valid. Ask for a new code and try again.")
    credential = CREDENTIAL_PREFIX + secrets.token_urlsafe(32)
    terminal = Terminal(
        id=uuid.uuid4().hex,
        store_id=taken,
        name=name.strip()[:200] or "Terminal",
        credential_hash=hash_credential(credential),
        created_at=now,
    )
    session.add(terminal)
    session.flush()
    return terminal, credential


def terminal_for_credential(session: Session, credential: str) -> Terminal | None:
    """The active terminal holding ``credential``, or None."""
    if not credential.startswith(CREDENTIAL_PREFIX) or len(credential) > 200:
        return None
    return session.scalars(
        select(Terminal).where(
            Terminal.credential_hash == hash_credential(credential), Terminal.revoked_at.is_(None)
        )
    ).one_or_none()
