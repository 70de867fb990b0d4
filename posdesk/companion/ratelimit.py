"""Per-address rate limits (a token bucket per client address), for the payment page and pairing.

Limits live in this process's memory: with several workers each worker counts on its own, so the
effective limit is ``workers x rate``. That is enough against token probing (192-bit tokens) and
keeps the hot path free of database writes.

Use as a dependency::

    @router.get("/pay/{token}", dependencies=[Depends(limit_by_address)])
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request

log = logging.getLogger(__name__)
MAX_TRACKED = 50_000  # addresses remembered; the idlest half is dropped beyond this


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Allows ``per_minute`` requests per key on average, with bursts of up to ``burst``."""

    def __init__(
        self, per_minute: int, *, burst: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if per_minute <= 0:
            raise ValueError("a rate limit must allow at least one request a minute")
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else per_minute)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        """Take one request for ``key``: 0.0 when allowed, else the seconds to wait before retrying."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_TRACKED:
                    self._forget_idlest()
                bucket = self._buckets[key] = _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def _forget_idlest(self) -> None:
        by_age = sorted(self._buckets.items(), key=lambda item: item[1].updated)
        for key, _ in by_age[: len(by_age) // 2]:
            del self._buckets[key]


def client_address(request: Request) -> str:
    """The client's address (uvicorn applies X-Forwarded-For from trusted proxies: FORWARDED_ALLOW_IPS)."""
    address = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and address not in {hop.strip() for hop in forwarded.split(",")}:
        _warn_untrusted_proxy(address)
    return address


_warned_proxies: set[str] = set()


def _warn_untrusted_proxy(address: str) -> None:
    """A proxy sends X-Forwarded-For but is not trusted: say so once, with the setting that fixes it."""
    if address in _warned_proxies or len(_warned_proxies) > 16:
        return
    _warned_proxies.add(address)
    log.warning(
        "requests from %s carry X-Forwarded-For, but FORWARDED_ALLOW_IPS does not trust that address: "
        "every client behind it shares one rate limit and HSTS is not sent. If it is your proxy, set "
        "FORWARDED_ALLOW_IPS=%s (docs/deploy.md)",
        address,
        address,
    )


def enforce(limiter: RateLimiter, key: str) -> None:
    """Raise 429 with ``Retry-After`` when ``key`` is over its limit."""
    wait = limiter.hit(key)
    if wait > 0:
        raise HTTPException(
            status_code=429,
            detail="Too many requests. Please wait a moment and try again.",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )


async def limit_by_address(request: Request) -> None:
    """FastAPI dependency: the app's page limiter (``config.rate_limit_per_minute``) per client address.

    ``async`` although it never awaits: FastAPI runs a plain ``def`` dependency in the thread pool, a
    thread hop on every page request for a few microseconds of work under a lock.
    """
    enforce(request.app.state.rate_limiter, client_address(request))


async def limit_pairing(request: Request) -> None:
    """FastAPI dependency: pairing attempts are scarce (codes are short enough to type)."""
    enforce(request.app.state.pairing_limiter, client_address(request))
