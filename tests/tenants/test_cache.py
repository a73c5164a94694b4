"""The TTL cache: single-flight loads, expiry, stale answers while refreshing, off at 0."""

import asyncio

from guahao.tenants.cache import TtlCache


async def test_many_waiters_share_one_load():
    calls = 0

    async def load():
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return calls

    cache: TtlCache[int] = TtlCache(10)
    results = await asyncio.gather(*(cache.get("k", load) for _ in range(200)))
    assert results == [1] * 200 and calls == 1


async def test_entries_expire_and_ttl_zero_always_loads():
    calls = 0

    async def load():
        nonlocal calls
        calls += 1
        return calls

    cache: TtlCache[int] = TtlCache(0.05)
    assert await cache.get("k", load) == 1
    assert await cache.get("k", load) == 1
    await asyncio.sleep(0.06)
    assert await cache.get("k", load) == 2
    off: TtlCache[int] = TtlCache(0)
    assert [await off.get("k", load) for _ in range(2)] == [3, 4]


async def test_stale_value_answers_while_one_caller_refreshes():
    gate = asyncio.Event()
    values = iter([1, 2])

    async def load():
        v = next(values)
        if v == 2:
            await gate.wait()
        return v

    cache: TtlCache[int] = TtlCache(0.01, serve_stale=True)
    assert await cache.get("k", load) == 1
    await asyncio.sleep(0.02)
    assert await cache.get("k", load) == 1  # stale, refresh started in the background
    gate.set()
    await asyncio.sleep(0.01)
    assert await cache.get("k", load) == 2


async def test_a_cached_absence_or_a_long_expired_value_is_never_served_stale():
    values = iter([None, "created", "renamed"])

    async def load():
        return next(values)

    cache: TtlCache[str | None] = TtlCache(0.01, serve_stale=True)
    assert await cache.get("k", load) is None  # no such city yet
    await asyncio.sleep(0.02)
    assert await cache.get("k", load) == "created"  # found at once, not after a refresh
    await asyncio.sleep(0.15)  # past ten lifetimes: too old to answer with
    assert await cache.get("k", load) == "renamed"


async def test_a_failed_load_is_not_cached():
    attempts = 0

    async def load():
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("database down")
        return "ok"

    cache: TtlCache[str] = TtlCache(10)
    try:
        await cache.get("k", load)
    except RuntimeError:
        pass
    assert await cache.get("k", load) == "ok"
