"""The sold-out gate: turns away requests for an empty pool before they reach the database.

The database stays the single source of truth; the gate only remembers, for a few seconds,
that a pool was found full, so the slot-release rush does not queue thousands of doomed
transactions. Any release of a unit clears the mark at once.
"""

from __future__ import annotations

import time

from tenants.settings import Settings

SOLD_OUT_TTL = 3.0


class MemoryGate:
    """In-process gate for the embedded mode (one process)."""

    def __init__(self, ttl: float = SOLD_OUT_TTL):
        self.ttl = ttl
        self._marks: dict[tuple[int, int], float] = {}

    async def connect(self, redis) -> None:  # same interface as RedisGate
        return None

    async def is_sold_out(self, city_id: int, pool_id: int) -> bool:
        until = self._marks.get((city_id, pool_id))
        return until is not None and until > time.monotonic()

    async def mark_sold_out(self, city_id: int, pool_id: int) -> None:
        self._marks[(city_id, pool_id)] = time.monotonic() + self.ttl

    async def clear(self, city_id: int, pool_id: int) -> None:
        self._marks.pop((city_id, pool_id), None)


class RedisGate(MemoryGate):
    """Gate shared by every web process through Redis (keys expire by themselves)."""

    def __init__(self, ttl: float = SOLD_OUT_TTL):
        super().__init__(ttl)
        self.redis = None

    async def connect(self, redis) -> None:
        self.redis = redis

    @staticmethod
    def _key(city_id: int, pool_id: int) -> str:
        return f"guahao:soldout:{city_id}:{pool_id}"

    async def is_sold_out(self, city_id: int, pool_id: int) -> bool:
        if self.redis is None:
            return await super().is_sold_out(city_id, pool_id)
        return bool(await self.redis.exists(self._key(city_id, pool_id)))

    async def mark_sold_out(self, city_id: int, pool_id: int) -> None:
        if self.redis is None:
            return await super().mark_sold_out(city_id, pool_id)
        await self.redis.set(self._key(city_id, pool_id), b"1", px=int(self.ttl * 1000))

    async def clear(self, city_id: int, pool_id: int) -> None:
        await super().clear(city_id, pool_id)
        if self.redis is not None:
            await self.redis.delete(self._key(city_id, pool_id))


def make_gate(settings: Settings) -> MemoryGate:
    return RedisGate() if settings.redis_url else MemoryGate()
