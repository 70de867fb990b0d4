"""Limits on how many messages go out, per client and per store, so a loop (or a stuck key) cannot spam.

A sliding window per key: a message counts for an hour against its client and for a minute (and a
day) against its store. Retrying the same ``message_id`` does not count twice. The class is pure
Python with an injectable clock, kept in process memory; with several companion workers each counts
on its own, so the effective ceiling is ``workers x limit`` -- still a ceiling, which is the point.

Usage::

    limits = MessageLimits(LimitPolicy(per_client_per_hour=5, per_store_per_minute=30))
    limits.acquire(store_id, client_id, message_id)   # raises RateLimited(reason, retry_after_s)
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from posdesk.messaging.base import RateLimited

HOUR, MINUTE, DAY = 3600.0, 60.0, 86400.0
K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    per_client_per_hour: int = 5
    per_store_per_minute: int = 30
    per_store_per_day: int = 2000

    def __post_init__(self) -> None:
        if min(self.per_client_per_hour, self.per_store_per_minute, self.per_store_per_day) < 1:
            raise ValueError("message limits must allow at least one message")


def _wait_text(seconds: float) -> str:
    if seconds < 90:
        whole = max(1, math.ceil(seconds))
        return f"{whole} second{'s' if whole != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    if minutes < 90:
        return f"{minutes} minutes"
    return f"{math.ceil(minutes / 60)} hours"


class _Window:
    """Timestamps of what was counted in the last ``span`` seconds, for one key."""

    __slots__ = ("stamps",)

    def __init__(self) -> None:
        self.stamps: deque[float] = deque()

    def prune(self, now: float, span: float) -> None:
        while self.stamps and self.stamps[0] <= now - span:
            self.stamps.popleft()

    def wait(self, now: float, span: float, limit: int) -> float | None:
        """Seconds until one more fits, or None when it fits now."""
        self.prune(now, span)
        if len(self.stamps) < limit:
            return None
        return self.stamps[len(self.stamps) - limit] + span - now


class MessageLimits:
    """Counts messages per client and per store; refuses with a reason the cashier can act on."""

    def __init__(
        self, policy: LimitPolicy | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy or LimitPolicy()
        self._clock = clock
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], _Window] = {}
        self._store_minute: dict[str, _Window] = {}
        self._store_day: dict[str, _Window] = {}
        self._counted: dict[str, float] = {}  # message_id -> when it was counted (retries are free)
        self._last_sweep = clock()

    def check(self, store_id: str, client_id: str, message_id: str | None = None) -> RateLimited | None:
        """The refusal a send would get now, or None when it may go. Counts nothing."""
        with self._lock:
            return self._refusal(self._clock(), store_id, client_id, message_id)

    def acquire(self, store_id: str, client_id: str, message_id: str | None = None) -> None:
        """Count one message, or raise :class:`~posdesk.messaging.base.RateLimited` without counting it."""
        with self._lock:
            now = self._clock()
            refusal = self._refusal(now, store_id, client_id, message_id)
            if refusal is not None:
                raise refusal
            if message_id is not None and message_id in self._counted:
                return
            self._clients.setdefault((store_id, client_id), _Window()).stamps.append(now)
            self._store_minute.setdefault(store_id, _Window()).stamps.append(now)
            self._store_day.setdefault(store_id, _Window()).stamps.append(now)
            if message_id is not None:
                self._counted[message_id] = now
            self._sweep(now)

    def _refusal(
        self, now: float, store_id: str, client_id: str, message_id: str | None
    ) -> RateLimited | None:
        if message_id is not None and message_id in self._counted and self._counted[message_id] > now - DAY:
            return None  # a retry of a message already counted
        policy = self.policy
        windows = (
            (
                self._clients.get((store_id, client_id)),
                HOUR,
                policy.per_client_per_hour,
                "This client has already been sent {limit} messages in the last hour.",
            ),
            (
                self._store_minute.get(store_id),
                MINUTE,
                policy.per_store_per_minute,
                "The store has sent {limit} messages in the last minute.",
            ),
            (
                self._store_day.get(store_id),
                DAY,
                policy.per_store_per_day,
                "The store has reached its limit of {limit} messages a day.",
            ),
        )
        for window, span, limit, refusal in windows:
            wait = (window or _Window()).wait(now, span, limit)
            if wait is not None:
                return RateLimited(
                    f"{refusal.format(limit=limit)} Try again in {_wait_text(wait)}.", retry_after_s=wait
                )
        return None

    def _sweep(self, now: float) -> None:
        """Forget keys with nothing left in their window (at most once a minute), so memory stays small."""
        if now - self._last_sweep < MINUTE:
            return
        self._last_sweep = now
        _forget_empty(self._clients, now, HOUR)
        _forget_empty(self._store_minute, now, MINUTE)
        _forget_empty(self._store_day, now, DAY)
        for message_id, counted_at in list(self._counted.items()):
            if counted_at <= now - DAY:
                del self._counted[message_id]


def _forget_empty(windows: dict[K, _Window], now: float, span: float) -> None:
    for key in list(windows):
        windows[key].prune(now, span)
        if not windows[key].stamps:
            del windows[key]
