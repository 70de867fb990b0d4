"""Work off the UI thread as small named operations, the way Anki's ``aqt.operations`` does.

- :class:`CollectionOp` changes the local cache. It runs on the ONE writer thread (:attr:`PosContext.worker`),
  so writes never race; when it succeeds, :attr:`PosContext.operation_did_execute` tells every screen
  what changed (an :class:`OpChanges`), and each screen decides whether that concerns it.
- :class:`QueryOp` reads, or calls the companion (:mod:`posdesk.sync.client`), on the network lane
  (:attr:`PosContext.network`): a slow companion never holds up a save.

Both hand their result (or exception) back on the UI thread to ``.success()`` / ``.failure()``; without
a failure handler the worker's ``failed`` signal reports it in the status bar. Screens never start
threads of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

if TYPE_CHECKING:
    from posdesk.gui.context import PosContext

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OpChanges:
    """What an operation changed, for screens to filter (Anki's ``OpChanges``)."""

    tickets: frozenset[str] = frozenset()
    payments: bool = False  # tenders, refunds, tips: the day summary and payment lists refresh
    settings: bool = False
    messages: bool = False

    def touches(self, ticket_id: str) -> bool:
        return ticket_id in self.tickets


class _Op(Generic[T]):
    def __init__(self, name: str, op: Callable[[], T]) -> None:
        self.name = name
        self._op = op
        self._success: Callable[[T], Any] | None = None
        self._failure: Callable[[Exception], Any] | None = None

    def success(self, on_success: Callable[[T], Any]) -> Self:
        self._success = on_success
        return self

    def failure(self, on_failure: Callable[[Exception], Any]) -> Self:
        self._failure = on_failure
        return self


class CollectionOp(_Op[T]):
    """A write to the local cache, on the writer thread; announces its :class:`OpChanges` when done."""

    def __init__(
        self,
        name: str,
        op: Callable[[], T],
        *,
        changes: Callable[[T], OpChanges] | OpChanges | None = None,
        initiator: object = None,
    ) -> None:
        super().__init__(name, op)
        self._changes = changes
        self._initiator = initiator

    def run_in_background(self, ctx: PosContext) -> None:
        def done(result: T) -> None:
            changes = self._changes(result) if callable(self._changes) else self._changes
            if self._success is not None:
                self._success(result)
            if changes is not None:
                ctx.operation_did_execute.emit(changes, self._initiator)

        ctx.worker.run(self.name, self._op, on_done=done, on_error=self._failure)


class QueryOp(_Op[T]):
    """A read or a companion call on the network lane; changes nothing others must hear about."""

    def run_in_background(self, ctx: PosContext) -> None:
        ctx.network.run(self.name, self._op, on_done=self._success, on_error=self._failure)
