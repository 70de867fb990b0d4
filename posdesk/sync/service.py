"""The sync service: one thread with its own asyncio loop that keeps a terminal in step with its companion.

Two tasks run on the loop:

- the **relay** sends the outbox when woken (:meth:`SyncService.wake`) and on a timer (retries);
- the **consumer** catches up from the stored cursor with ``GET /events?after=N`` pages, then follows the
  event stream, applying each event in one local transaction with the cursor.

On every connect, before the outbox is pushed, and on every ``store.settings_changed`` event while
connected, the store's settings are brought in step
(:func:`posdesk.sync.settings_reconciliation.reconcile_store_settings`: a change made here is pushed, one made on
another terminal is adopted).

Callbacks (``on_state``, ``on_tickets_changed``, ``on_settings_changed``, ``on_notice``) are called on the
sync thread; the GUI bridges them to
the UI thread with a Qt signal. Nothing here imports Qt.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import threading
from collections.abc import Callable

import httpx

from posdesk.core.events import EventType
from posdesk.store.cursor import EventCursor
from posdesk.store.database import Database
from posdesk.store.outbox import Outbox
from posdesk.sync.applying import apply_event
from posdesk.sync.client import CompanionClient, CompanionError, CompanionUnavailable
from posdesk.sync.relay import relay_once
from posdesk.sync.settings_reconciliation import reconcile_store_settings

log = logging.getLogger(__name__)

RETRY_MIN = 0.5
RETRY_MAX = 10.0
RELAY_TICK = 2.0  # seconds between outbox checks when nothing wakes the relay


class ConnectionState(enum.StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    CATCHING_UP = "catching_up"


class SyncService:
    """Keeps one terminal's cache in step with its companion store. ``start()`` once, ``stop()`` once."""

    def __init__(
        self,
        db: Database,
        companion_url: str,
        credential: str,
        *,
        on_state: Callable[[ConnectionState], None] = lambda _state: None,
        on_tickets_changed: Callable[[set[str]], None] = lambda _ids: None,
        on_settings_changed: Callable[[], None] = lambda: None,
        on_notice: Callable[[str], None] = lambda _text: None,
        store_key: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.db = db
        self.companion_url = companion_url.rstrip("/")
        self._credential = credential
        self._on_state = on_state
        self._on_tickets_changed = on_tickets_changed
        self._on_settings_changed = on_settings_changed
        self._on_notice = on_notice
        self.cursor = EventCursor(db, store_key or self.companion_url)
        self._transport = transport
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping: asyncio.Event | None = None
        self._started = threading.Event()
        self.state = ConnectionState.OFFLINE

    # -- control (any thread) ------------------------------------------------------------------
    def start(self) -> None:
        """Start syncing; again after :meth:`stop` (a reconnect) with a new loop."""
        if self._thread is not None:
            raise RuntimeError("sync service already started")
        self._started.clear()  # a restart's stop() must reach the new loop, not the last one
        self._loop = self._wake = self._stopping = None
        self._thread = threading.Thread(target=self._run, name="posdesk-sync", daemon=True)
        self._thread.start()
        self._started.wait(5)

    def stop(self, timeout: float = 5.0) -> None:
        thread = self._thread
        if thread is None:
            return
        # Stopped right after start (or start's wait ran out under load): the loop and its stop signal
        # exist once the thread has started; signalling before then would leave the thread running.
        self._started.wait(timeout)
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout)
        if thread.is_alive():
            log.warning("the sync thread did not stop within %.0f s", timeout)
        self._thread = None

    def wake(self) -> None:
        """New outbox work: send it now rather than at the next tick."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    # -- the loop --------------------------------------------------------------------------------
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._started.set()
        client = CompanionClient(self.companion_url, self._credential, transport=self._transport)
        relay_task = asyncio.create_task(self._relay_loop(client), name="relay")
        consume_task = asyncio.create_task(self._consume_loop(client), name="consumer")
        await self._stopping.wait()
        for task in (relay_task, consume_task):
            task.cancel()
        await asyncio.gather(relay_task, consume_task, return_exceptions=True)
        await client.aclose()

    def _set_state(self, state: ConnectionState) -> None:
        if state is not self.state:
            self.state = state
            try:
                self._on_state(state)
            except Exception:  # a broken listener must not stop syncing
                log.exception("state listener failed")

    async def _relay_loop(self, client: CompanionClient) -> None:
        assert self._wake is not None
        while True:
            try:
                result = await relay_once(self.db, client)
                if result.sent or result.rejected:
                    log.info("outbox: %d sent, %d refused, %d pending", result.sent, result.rejected, result.pending)
                for notice in result.notices:
                    self._notify(self._on_notice, notice)
                more_now = result.reachable and (result.sent + result.rejected) > 0 and result.pending > 0
            except Exception:
                log.exception("outbox relay round failed")
                more_now = False
            if more_now:
                continue
            # asyncio.timeout, not wait_for: Python 3.11's wait_for returns, swallowing the cancel, when a
            # stop() arrives as the wake is set; the relay then looped on and the thread never ended.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(RELAY_TICK):
                    await self._wake.wait()
            self._wake.clear()

    async def _consume_loop(self, client: CompanionClient) -> None:
        delay = RETRY_MIN
        while True:
            try:
                await self._catch_up(client)
                self._set_state(ConnectionState.ONLINE)
                delay = RETRY_MIN
                await self._reconcile_settings(client)
                if self._wake is not None:
                    with self.db.session() as session:
                        Outbox(session).retry_now()  # entries backed off while it was down: due now
                    self._wake.set()  # reconnected: push whatever waited while offline
                # aclosing: a stop closes the stream here, not in a finalizer after the loop has closed
                async with contextlib.aclosing(client.stream(self.cursor.get())) as events:
                    async for event in events:
                        self._apply(event)
                        if event.type is EventType.STORE_SETTINGS_CHANGED:
                            await self._reconcile_settings(client)  # a manager saved on another terminal
                raise CompanionUnavailable("event stream ended")
            except CompanionError as exc:
                log.info("companion unreachable (%s); retrying in %.1f s", exc, delay)
            except Exception:
                log.exception("event consumer failed; retrying")
            self._set_state(ConnectionState.OFFLINE)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)

    async def _reconcile_settings(self, client: CompanionClient) -> None:
        """Push this terminal's newer store settings or adopt the store's (before the outbox drains)."""
        try:
            result = await reconcile_store_settings(self.db, client)
        except CompanionError:
            raise
        except Exception:  # a settings problem must not keep tickets from closing
            log.exception("store settings not reconciled")
            return
        if result.outcome != "in_step":
            log.info("store settings: %s", result.outcome)
        if result.outcome == "adopted":
            self._notify(self._on_settings_changed)

    def _notify(self, listener: Callable[..., None], *args: object) -> None:
        try:
            listener(*args)
        except Exception:  # a broken listener must not stop syncing
            log.exception("sync listener failed")

    async def _catch_up(self, client: CompanionClient) -> None:
        first = True
        while True:
            events, last_id = await client.events_after(self.cursor.get())
            if first and events:
                self._set_state(ConnectionState.CATCHING_UP)
            first = False
            for event in events:
                self._apply(event)
            if not events or self.cursor.get() >= last_id:
                return

    def _apply(self, event: object) -> None:
        from posdesk.core.events import Event

        assert isinstance(event, Event)
        changed: set[str] = set()

        def change(session: object) -> None:
            changed.update(apply_event(session, event))  # type: ignore[arg-type]

        if self.cursor.apply(event.id, change) and changed:
            try:
                self._on_tickets_changed(changed)
            except Exception:
                log.exception("tickets-changed listener failed")
