"""Failed-login throttle: 5 failures lock a login of a city for 15 minutes."""

from datetime import UTC, datetime, timedelta

import pytest

from guahao.core.members.throttle import MemoryLoginThrottle, TooManyAttempts
from guahao.tenants.clock import frozen

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


async def fail(throttle, n, *, city=1, login="13800138000"):
    for _ in range(n):
        await throttle.check(city, login)
        await throttle.failed(city, login)


async def test_fifth_failure_locks_for_fifteen_minutes():
    t = MemoryLoginThrottle()
    with frozen(T0):
        await fail(t, 4)
        await t.check(1, "13800138000")  # four failures: still allowed
        await t.failed(1, "13800138000")
        with pytest.raises(TooManyAttempts) as exc:
            await t.check(1, "13800138000")
        assert exc.value.status == 429 and exc.value.code == "too_many_attempts"
        assert exc.value.headers["Retry-After"] == "901"
    with frozen(T0 + timedelta(minutes=14)):
        with pytest.raises(TooManyAttempts):
            await t.check(1, "13800138000")
    with frozen(T0 + timedelta(minutes=15, seconds=1)):
        await t.check(1, "13800138000")


async def test_lock_is_per_city_and_per_login():
    t = MemoryLoginThrottle()
    with frozen(T0):
        await fail(t, 5, city=1, login="11010519491231002x")
        with pytest.raises(TooManyAttempts):
            await t.check(1, "11010519491231002X")  # same login, other case
        await t.check(2, "11010519491231002X")
        await t.check(1, "13800138000")


async def test_success_forgets_failures_and_old_failures_expire():
    t = MemoryLoginThrottle()
    with frozen(T0):
        await fail(t, 4)
        await t.succeeded(1, "13800138000")
        await fail(t, 4)
        await t.check(1, "13800138000")
    with frozen(T0 + timedelta(minutes=16)):
        await fail(t, 4)  # the earlier four are outside the window
        await t.check(1, "13800138000")


async def test_memory_is_bounded():
    t = MemoryLoginThrottle(max_entries=10)
    with frozen(T0):
        for i in range(50):
            await t.failed(1, f"login{i}")
    assert len(t._entries) <= 10
