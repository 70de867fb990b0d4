"""Whether the companion can reach its database, said once per change instead of once per failure.

While PostgreSQL is down every health probe, event stream, API request and background pass fails the
same way; a traceback for each would bury the one line an operator needs. :class:`DatabaseHealth` logs
one WARNING when the database becomes unreachable and one when it is back; the failures in between are
answered (503, a stream that ends, a pass that waits for the next) without a word.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

log = logging.getLogger("posdesk.companion.health")


def database_unavailable(exc: BaseException) -> bool:
    """True for the errors a stopped, restarting or unreachable database server raises."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class DatabaseHealth:
    """The database's reachability as this process last saw it. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reachable = True

    @property
    def reachable(self) -> bool:
        with self._lock:
            return self._reachable

    def failed(self, exc: BaseException) -> None:
        """A database call failed with ``exc`` (one of :func:`database_unavailable`'s errors)."""
        with self._lock:
            changed, self._reachable = self._reachable, False
        if changed:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            log.warning("database unreachable: %s: %s", type(exc).__name__, reason[0] if reason else "")

    def succeeded(self) -> None:
        """A database call worked."""
        with self._lock:
            changed, self._reachable = not self._reachable, True
        if changed:
            log.info("database reachable again")
