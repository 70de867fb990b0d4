"""Message limits: a loop cannot spam a client or flood from a store; the refusal says when to retry."""

from __future__ import annotations

import pytest

from posdesk.messaging.base import RateLimited
from posdesk.messaging.limits import LimitPolicy, MessageLimits


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_client_limit_per_hour(clock: FakeClock) -> None:
    limits = MessageLimits(LimitPolicy(per_client_per_hour=3, per_store_per_minute=100), clock=clock)
    for n in range(3):
        limits.acquire("s1", "ada", f"m{n}")
        clock.now += 60
    with pytest.raises(RateLimited) as refused:
        limits.acquire("s1", "ada", "m3")
    assert "already been sent 3 messages in the last hour" in refused.value.reason
    assert "Try again in 57 minutes" in refused.value.reason  # the first expires 3600 s after it was sent
    assert refused.value.retry_after_s == pytest.approx(3600 - 180)
    limits.acquire("s1", "bob", "m4")  # another client is not affected
    clock.now += 3600 - 180
    limits.acquire("s1", "ada", "m3")  # the oldest left the window


def test_refused_message_is_not_counted(clock: FakeClock) -> None:
    limits = MessageLimits(LimitPolicy(per_client_per_hour=1, per_store_per_minute=100), clock=clock)
    limits.acquire("s1", "ada", "m0")
    for _ in range(50):  # a loop retrying a refused message does not push the window further
        with pytest.raises(RateLimited):
            limits.acquire("s1", "ada", "m-new")
    clock.now += 3600
    limits.acquire("s1", "ada", "m-new")


def test_store_limit_per_minute(clock: FakeClock) -> None:
    limits = MessageLimits(LimitPolicy(per_client_per_hour=10, per_store_per_minute=5), clock=clock)
    for n in range(5):
        limits.acquire("s1", f"client{n}", f"m{n}")
    with pytest.raises(
        RateLimited, match=r"The store has sent 5 messages in the last minute\. Try again in 60 seconds"
    ):
        limits.acquire("s1", "client9", "m9")
    limits.acquire("s2", "client9", "m10")  # another store is not affected
    clock.now += 30
    assert limits.check("s1", "client9") is not None
    clock.now += 30
    assert limits.check("s1", "client9") is None


def test_store_limit_per_day(clock: FakeClock) -> None:
    limits = MessageLimits(
        LimitPolicy(per_client_per_hour=100, per_store_per_minute=100, per_store_per_day=3), clock=clock
    )
    for n in range(3):
        limits.acquire("s1", f"c{n}", f"m{n}")
        clock.now += 600
    refusal = limits.check("s1", "c9")
    assert refusal is not None and "limit of 3 messages a day" in refusal.reason
    assert "Try again in 24 hours" in refusal.reason  # 23.5 hours, rounded up


def test_retrying_the_same_message_id_counts_once(clock: FakeClock) -> None:
    limits = MessageLimits(LimitPolicy(per_client_per_hour=2, per_store_per_minute=100), clock=clock)
    for _ in range(10):
        limits.acquire("s1", "ada", "same-message")
    limits.acquire("s1", "ada", "second")
    with pytest.raises(RateLimited):
        limits.acquire("s1", "ada", "third")
    limits.acquire("s1", "ada", "same-message")  # still allowed: it was counted already


def test_check_counts_nothing(clock: FakeClock) -> None:
    limits = MessageLimits(LimitPolicy(per_client_per_hour=1, per_store_per_minute=100), clock=clock)
    for _ in range(5):
        assert limits.check("s1", "ada") is None
    limits.acquire("s1", "ada")
    assert limits.check("s1", "ada") is not None


def test_idle_keys_are_forgotten(clock: FakeClock) -> None:
    limits = MessageLimits(LimitPolicy(), clock=clock)
    for n in range(200):
        limits.acquire("s1", f"c{n}", f"m{n}")
        clock.now += 20
    clock.now += 2 * 86400
    limits.acquire("s1", "late", "m-late")
    assert len(limits._clients) == 1 and len(limits._counted) == 1


def test_policy_must_allow_something() -> None:
    with pytest.raises(ValueError):
        LimitPolicy(per_client_per_hour=0)
