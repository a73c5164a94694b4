"""The Redis login throttle: the same rules as the in-process one, shared between processes."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import timedelta

import pytest

from guahao.core.members.throttle import MemoryLoginThrottle, RedisLoginThrottle, TooManyAttempts, for_runtime


@pytest.fixture
async def redis():
    """Two connections to the real Redis of ``REDIS_URL``, as two web processes would have."""
    from arq import create_pool
    from arq.connections import RedisSettings

    settings = RedisSettings.from_dsn(os.environ["REDIS_URL"])
    one, two = await create_pool(settings), await create_pool(settings)
    yield one, two
    await one.aclose()
    await two.aclose()


@pytest.fixture
def prefix() -> str:
    return f"test:login:{uuid.uuid4().hex[:10]}"


async def test_failures_in_two_processes_add_up_to_one_lock(redis, prefix):
    a, b = RedisLoginThrottle(redis[0], prefix=prefix), RedisLoginThrottle(redis[1], prefix=prefix)
    for throttle in (a, b, a, b):
        await throttle.check(1, "13800138000")
        await throttle.failed(1, "13800138000")
    await b.check(1, "13800138000")  # four failures: still allowed
    await a.failed(1, "13800138000")
    for throttle in (a, b):
        with pytest.raises(TooManyAttempts) as exc:
            await throttle.check(1, "13800138000")
        assert exc.value.status == 429 and int(exc.value.headers["Retry-After"]) in (900, 901)
    await a.check(2, "13800138000")  # another city
    await a.check(1, "13900139000")  # another login


async def test_concurrent_failures_lock_exactly_once(redis, prefix):
    throttles = [RedisLoginThrottle(redis[i % 2], prefix=prefix) for i in range(12)]
    await asyncio.gather(*(t.failed(7, "11010519491231002x") for t in throttles))
    with pytest.raises(TooManyAttempts):
        await throttles[0].check(7, "11010519491231002X")  # same login, other case
    failures = await redis[0].get(f"{prefix}:7:11010519491231002X:failures")
    assert failures is None or int(failures) < 5  # the lock reset the count


async def test_success_forgets_failures(redis, prefix):
    t = RedisLoginThrottle(redis[0], prefix=prefix)
    for _ in range(4):
        await t.failed(1, "13800138000")
    await t.succeeded(1, "13800138000")
    for _ in range(4):
        await t.failed(1, "13800138000")
    await t.check(1, "13800138000")


async def test_lock_and_count_expire(redis, prefix):
    t = RedisLoginThrottle(redis[0], max_failures=2, lockout=timedelta(milliseconds=300), prefix=prefix)
    await t.failed(1, "x")
    await asyncio.sleep(0.4)
    await t.failed(1, "x")  # the first failure is outside the window
    await t.check(1, "x")
    await t.failed(1, "x")
    with pytest.raises(TooManyAttempts) as exc:
        await t.check(1, "x")
    assert exc.value.headers["Retry-After"] == "1"
    await asyncio.sleep(0.4)
    await t.check(1, "x")


async def test_for_runtime_shares_only_with_redis(redis):
    memory = MemoryLoginThrottle()

    class Rt:
        pass

    rt = Rt()
    rt.redis = None
    assert for_runtime(rt, memory) is memory
    rt.redis = redis[0]
    assert isinstance(for_runtime(rt, memory), RedisLoginThrottle)
