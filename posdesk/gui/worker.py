"""A small operation runner: named operations on ONE background thread, results back by signal.

Every database write of the POS goes through the same single worker thread, so writes never race each
other and the UI thread never waits on the disk or the network. An operation is a plain callable; its
result (or exception) comes back on the UI thread through a queued signal and is handed to the
``on_done`` / ``on_error`` callbacks given when it was submitted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from posdesk.gui.qt import QObject, Signal, Slot

if TYPE_CHECKING:  # the pool (and concurrent.futures) is made with the first operation, after the first frame
    from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger(__name__)
T = TypeVar("T")


class Worker(QObject):
    """Runs operations one at a time off the UI thread.

    Signals:
        failed(str, str): an operation without its own ``on_error`` raised (operation name, message).
        idle(): the queue emptied (tests and the status bar use it).
    """

    failed = Signal(str, str)
    idle = Signal()
    _finished = Signal(object)

    def __init__(
        self, parent: QObject | None = None, *, thread_name: str = "posdesk-worker", threads: int = 1
    ) -> None:
        """One thread (the writer) by default; the network lane runs a few at once (see operations)."""
        super().__init__(parent)
        self._threads, self._thread_name = threads, thread_name
        self._pool: ThreadPoolExecutor | None = None
        self._pending = 0
        self._closed = False
        self._finished.connect(self._deliver)

    @property
    def _executor(self) -> ThreadPoolExecutor:
        """The thread pool, made for the first operation (the first frame runs none, so start-up does
        without concurrent.futures)."""
        if self._pool is None:
            if self._closed:  # as a pool that was shut down says
                raise RuntimeError("cannot schedule new futures after shutdown")
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix=self._thread_name)
        return self._pool

    @property
    def busy(self) -> bool:
        """True while an operation is queued, running, or its result is not yet delivered."""
        return self._pending > 0

    def run(
        self,
        name: str,
        operation: Callable[[], T],
        *,
        on_done: Callable[[T], Any] | None = None,
        on_error: Callable[[Exception], Any] | None = None,
    ) -> Future[T] | None:
        """Queue ``operation``; ``on_done(result)`` or ``on_error(exc)`` later run on the UI thread."""
        if self._closed:
            log.warning("worker closed; dropping operation %s", name)
            return None
        self._pending += 1

        def task() -> T:
            try:
                result = operation()
            except Exception as exc:
                log.exception("operation %s failed", name)
                self._finished.emit((name, None, exc, on_done, on_error))
                raise
            self._finished.emit((name, result, None, on_done, on_error))
            return result

        return self._executor.submit(task)

    def call(self, operation: Callable[[], T]) -> T:
        """Run ``operation`` on the worker thread and wait for it (start-up and shut-down only)."""
        return self._executor.submit(operation).result()

    @Slot(object)
    def _deliver(self, outcome: tuple[str, Any, Exception | None, Any, Any]) -> None:
        name, result, error, on_done, on_error = outcome
        self._pending -= 1
        try:
            if error is None:
                if on_done is not None:
                    on_done(result)
            elif on_error is not None:
                on_error(error)
            else:
                self.failed.emit(name, str(error) or type(error).__name__)
        except RuntimeError as exc:
            # The screen that asked was closed (its C++ object deleted) while the work ran: nobody to tell.
            if "already deleted" not in str(exc):
                raise
            log.debug("operation %s finished after its screen closed", name)
        finally:
            if self._pending == 0:
                self.idle.emit()

    def shutdown(self, *, wait: bool = True) -> None:
        """Finish queued work and stop the thread (callbacks still pending are dropped)."""
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=not wait)
