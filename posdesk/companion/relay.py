"""Crossing workers and hosts on PostgreSQL: ``LISTEN`` for the ``NOTIFY`` that every event append sends.

:func:`posdesk.companion.events.append_event` calls ``pg_notify(PG_CHANNEL, store_id)`` inside the
appending transaction, so PostgreSQL delivers it at commit, to every companion process listening on
the same database. :class:`PgRelay` turns each into :meth:`EventBus.notify`, which wakes that process's
event streams at once. The streams also poll every second, so a lost connection here only slows them.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.engine import make_url

from posdesk.companion.events import PG_CHANNEL, EventBus

log = logging.getLogger("posdesk.companion.relay")

RECONNECT_DELAY = 2.0


def libpq_url(sqlalchemy_url: str) -> str:
    """``postgresql+psycopg://...`` -> ``postgresql://...`` as libpq takes it."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


class PgRelay:
    """A daemon thread holding one ``LISTEN`` connection; :meth:`stop` ends it within about a second."""

    def __init__(self, database_url: str, bus: EventBus) -> None:
        self._url = libpq_url(database_url)
        self._bus = bus
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="posdesk-pg-relay", daemon=True)
        self.listening = threading.Event()  # set while a LISTEN connection is up (tests wait on it)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg

        said_lost = False  # one line per outage, not one per reconnection attempt
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {PG_CHANNEL}")
                    self.listening.set()
                    if said_lost:
                        log.info("event relay listening again")
                        said_lost = False
                    while not self._stopping.is_set():
                        for notice in conn.notifies(timeout=1.0):
                            self._bus.notify(notice.payload)
            except Exception as exc:  # the database went away: streams keep polling; reconnect soon
                self.listening.clear()
                if not said_lost:
                    log.warning(
                        "event relay lost its PostgreSQL connection (%s); reconnecting", type(exc).__name__
                    )
                    said_lost = True
                self._stopping.wait(RECONNECT_DELAY)
        self.listening.clear()
