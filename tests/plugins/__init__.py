"""Shared pytest fixtures for every posdesk suite: real services on loopback, started for the tests.

Each module is a pytest plugin (load them all from ``tests/conftest.py`` with ``pytest_plugins``):

* :mod:`tests.plugins.postgres` -- ``postgres_url`` (session), ``postgres_db_url`` (a fresh database per
  test) and ``db_url`` (parametrized over SQLite and PostgreSQL).
* :mod:`tests.plugins.browser` -- ``browser`` (Debian's Chromium through Playwright, session) and
  ``phone_page`` (a phone-sized page whose context cannot reach anything but loopback).
* :mod:`tests.plugins.smtp` -- ``smtp_server`` (aiosmtpd on loopback that keeps what it receives) and
  ``smtp_server_factory`` (for STARTTLS).
* :mod:`tests.plugins.qr` -- ``decode_qr_png()``, a helper (not a fixture) that reads a QR code with zbarimg.

A missing external program skips the test locally and fails it in CI (``require_tool`` in
``tests/conftest.py``).
"""

from __future__ import annotations


def require_tool(name: str, path: str | None = None) -> str:
    """``tests.conftest.require_tool``, imported when first needed (the plugins load before conftest)."""
    from tests.conftest import require_tool as _require_tool

    return _require_tool(name, path)


def missing_requirement(message: str) -> None:
    """Skip locally, fail in CI -- for requirements that are not a program on PATH."""
    from tests.conftest import missing_requirement as _missing_requirement

    _missing_requirement(message)
