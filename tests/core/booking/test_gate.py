"""The sold-out gate: marks, the admission queue, booked-key notes, Redis sharing and failing open."""

from __future__ import annotations

import asyncio
import os

import pytest

from guahao.core import idempotency
from guahao.core.booking import gate as gate_module
from guahao.core.booking.gate import MemoryGate, RedisGate
from guahao.core.errors import DomainError


async def test_marks_are_per_city_and_period_and_expire():
    g = MemoryGate(ttl=0.05)
    await g.mark_sold_out(1, 10)
    assert await g.is_sold_out(1, 10) and g.seen_sold_out(1, 10)
    assert not await g.is_sold_out(2, 10) and not await g.is_sold_out(1, 11)
    await asyncio.sleep(0.06)
    assert not await g.is_sold_out(1, 10)
    await g.mark_sold_out(1, 10)
    await g.clear(1, 10)
    assert not await g.is_sold_out(1, 10)


async def test_the_queue_lets_only_so_many_through_at_once():
    g = MemoryGate(turns=3)
    inside = peak = 0

    async def work():
        nonlocal inside, peak
        async with g.turn():
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(work() for _ in range(12)))
    assert peak == 3


async def test_booked_keys_are_remembered_per_city_and_owner(monkeypatch):
    monkeypatch.setattr(gate_module, "BOOKED_KEYS_IN_MEMORY", 3)
    g = MemoryGate()
    await g.note_booked(1, "member:1", "k")
    assert await g.may_have_booked(1, "member:1", "k")
    assert not await g.may_have_booked(1, "member:2", "k")
    assert not await g.may_have_booked(2, "member:1", "k")
    for i in range(3):
        await g.note_booked(1, "member:1", f"other-{i}")
    assert not await g.may_have_booked(1, "member:1", "k")  # the oldest note made room


class BrokenRedis:
    """Redis that does not answer."""

    async def exists(self, *a):
        raise ConnectionError("redis down")

    async def set(self, *a, **kw):
        raise ConnectionError("redis down")

    async def delete(self, *a):
        raise ConnectionError("redis down")


async def test_the_redis_gate_fails_open():
    g = RedisGate()
    await g.connect(BrokenRedis())
    await g.mark_sold_out(1, 10)  # logged, not raised; this process still remembers briefly
    assert await g.is_sold_out(1, 10)
    await g.clear(1, 10)
    assert not await g.is_sold_out(1, 10)  # Redis cannot say: let the database decide
    assert await g.may_have_booked(1, "member:1", "k")  # cannot say: look it up
    await g.note_booked(1, "member:1", "k")
    assert await g.may_have_booked(1, "member:1", "other")  # a note was lost: look everything up


async def test_processes_share_marks_and_notes_through_redis(redis):
    a, b = RedisGate(), RedisGate()
    await a.connect(redis)
    await b.connect(redis)
    city = 10**6 + os.getpid()
    await a.mark_sold_out(city, 1)
    assert await b.is_sold_out(city, 1)
    assert not b.seen_sold_out(city, 1)  # b's own marks know nothing of it
    await b.clear(city, 1)
    assert not await b.is_sold_out(city, 1)
    assert a.seen_sold_out(city, 1)  # a keeps its own mark for up to LOCAL_TTL, then asks Redis
    await asyncio.sleep(RedisGate.LOCAL_TTL + 0.05)
    assert not await a.is_sold_out(city, 1)
    await a.note_booked(city, "member:1", "k")
    assert await b.may_have_booked(city, "member:1", "k")
    assert not await b.may_have_booked(city, "member:1", "k2")
    await redis.delete(a._booked_key(city, "member:1", "k"))


def test_fingerprints_ignore_key_order_and_see_values():
    assert idempotency.fingerprint({"a": 1, "b": "x"}) == idempotency.fingerprint({"b": "x", "a": 1})
    assert idempotency.fingerprint({"a": 1}) != idempotency.fingerprint({"a": 2})


@pytest.mark.parametrize("key", ["a", "A-b_c.1~", "x" * 255])
def test_acceptable_keys(key):
    assert idempotency.check_key(key) == key


@pytest.mark.parametrize("key", ["", "x" * 256, "中文", "a b", "tab\t"])
def test_unacceptable_keys(key):
    with pytest.raises(DomainError) as err:
        idempotency.check_key(key)
    assert err.value.code == "invalid_idempotency_key"
