"""The POS's configuration: the few environment variables it reads, read here and nowhere else.

The POS keeps its real settings (companion address, receipt text, tips) in its database, edited on the
Settings screen; the environment only says where files go and how to run:

``POSDESK_DATA_DIR``             where the local database, logs and crash reports go (tests and
                                 ``--data-dir`` set it; default: the platform's user data folder)
``POSDESK_LOG_LEVEL``            ``DEBUG``, ``INFO`` (default), ``WARNING``, ``ERROR`` or ``CRITICAL``
``POSDESK_STARTUP_PROBE``        ``1``: print a "ready" line once the window is interactive, then quit
                                 (``bench/startup.py``)
``POSDESK_SELF_TEST_TRACEBACK``  ``1``: ``--self-test`` prints the traceback of a failed step
``POSDESK_SEND_CRASH_REPORTS``   ``1``: send crash reports to the companion (IT's opt-in; off by default,
                                 :mod:`posdesk.crash`)

The companion reads the first two through :mod:`posdesk.paths` and :mod:`posdesk.logs` as well; its own
variables are in :mod:`posdesk.companion.config`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


class ConfigError(RuntimeError):
    """A setting cannot be used; the message names the variable and says what it takes."""


@dataclass(frozen=True, slots=True)
class PosConfig:
    """What the POS is told by its environment (``POSDESK_*`` variables): see :meth:`from_env`."""

    data_dir: Path | None = None  # None: the platform's user data folder
    log_level: int = logging.INFO
    startup_probe: bool = False
    self_test_traceback: bool = False
    send_crash_reports: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PosConfig:
        env = os.environ if env is None else env
        folder = env.get("POSDESK_DATA_DIR", "").strip()
        level = env.get("POSDESK_LOG_LEVEL", "").strip().upper() or "INFO"
        if level not in LOG_LEVELS:
            raise ConfigError(f"POSDESK_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {level!r}")
        return cls(
            data_dir=Path(folder).expanduser() if folder else None,
            log_level=logging.getLevelNamesMapping()[level],
            startup_probe=flag(env, "POSDESK_STARTUP_PROBE"),
            self_test_traceback=flag(env, "POSDESK_SELF_TEST_TRACEBACK"),
            send_crash_reports=flag(env, "POSDESK_SEND_CRASH_REPORTS"),
        )


def flag(env: Mapping[str, str], variable: str) -> bool:
    """A yes/no variable: ``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off`` (or unset)."""
    text = env.get(variable, "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{variable} must be 1, true, yes or on (or 0, false, no, off), not {text!r}")
