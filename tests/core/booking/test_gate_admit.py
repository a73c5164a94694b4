"""``admit``: the mark is read and the idempotency key noted in one go, only for an open period."""

from __future__ import annotations

import os

from guahao.core.booking.gate import MemoryGate, RedisGate


async def test_memory_gate_admits_open_periods_and_notes_their_keys():
    g = MemoryGate()
    assert await g.admit(1, 10, "member:1", "k1")
    assert await g.may_have_booked(1, "member:1", "k1")
    await g.mark_sold_out(1, 10)
    assert not await g.admit(1, 10, "member:1", "k2")
    assert not await g.may_have_booked(1, "member:1", "k2")  # refused: nothing noted
    assert await g.admit(1, 11, "member:1", None)


async def test_redis_gate_admits_with_one_script(redis):
    a, b = RedisGate(), RedisGate()
    await a.connect(redis)
    await b.connect(redis)
    city = 2 * 10**6 + os.getpid()
    assert await a.admit(city, 1, "member:1", "k1")
    assert await b.may_have_booked(city, "member:1", "k1")  # the note is shared
    await b.mark_sold_out(city, 1)
    assert not await a.admit(city, 1, "member:1", "k2")  # another process's mark
    assert not await b.may_have_booked(city, "member:1", "k2")  # refused: nothing noted
    await b.clear(city, 1)
    await redis.delete(a._booked_key(city, "member:1", "k1"))


class BrokenRedis:
    def register_script(self, *a):
        raise ConnectionError("redis down")


async def test_redis_gate_admit_fails_open():
    g = RedisGate()
    await g.connect(BrokenRedis())
    assert await g.admit(1, 10, "member:1", "k")  # the database decides
    assert await g.may_have_booked(1, "member:1", "other")  # a note was lost: look everything up
