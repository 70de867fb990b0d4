"""The terminal's companion credential, kept in the OS keyring (service ``posdesk``), never in a file.

Headless Linux often has no keyring backend. Then :meth:`CredentialVault.save` raises
:class:`NoKeyringAvailable`; the settings dialog says so and can keep the credential in memory for
this run only (:meth:`CredentialVault.keep_for_session`).
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)
SERVICE = "posdesk"


class NoKeyringAvailable(RuntimeError):
    """This system has no usable keyring: the credential cannot be stored permanently."""


def keyring_available() -> bool:
    """False when keyring would fail or silently drop writes (the ``fail`` and ``null`` backends)."""
    import keyring.errors
    from keyring.backends import fail as fail_backend
    from keyring.backends import null as null_backend

    try:
        backend = keyring.get_keyring()
    except keyring.errors.KeyringError:
        return False
    return not isinstance(backend, fail_backend.Keyring | null_backend.Keyring)


class CredentialVault:
    """Reads and writes one terminal's credential, keyed by ``account`` (the store and terminal ids)."""

    def __init__(self) -> None:
        self._session: dict[str, str] = {}

    def load(self, account: str) -> str | None:
        if account in self._session:
            return self._session[account]
        import keyring.errors  # on first use: the POS starts without it

        try:
            return keyring.get_password(SERVICE, account)
        except keyring.errors.KeyringError:
            log.warning("keyring unavailable while reading the terminal credential")
            return None

    def save(self, account: str, credential: str) -> None:
        """Store permanently; raise :class:`NoKeyringAvailable` when the system has no keyring."""
        if not keyring_available():
            raise NoKeyringAvailable("No keyring is available on this computer")
        import keyring.errors

        try:
            keyring.set_password(SERVICE, account, credential)
        except keyring.errors.KeyringError as exc:  # NoKeyringError, PasswordSetError, locked...
            raise NoKeyringAvailable(f"The keyring refused the credential: {type(exc).__name__}") from None
        self._session.pop(account, None)

    def keep_for_session(self, account: str, credential: str) -> None:
        """Keep the credential in memory only: the terminal must be paired again after a restart."""
        self._session[account] = credential

    def is_session_only(self, account: str) -> bool:
        return account in self._session
