"""A small in-process cache with a time to live and single-flight loading.

When thousands of requests arrive in the same second (slot release), a miss is loaded once
and every waiting request shares the result. With ``serve_stale`` an expired entry keeps
answering while one request refreshes it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable, Generic, Hashable, TypeVar

T = TypeVar("T")
STALE_FACTOR = 10


class TtlCache(Generic[T]):
    """Parameters:
        ttl: seconds an entry is fresh; 0 turns the cache off (every call loads).
        serve_stale: answer with the expired value while one caller refreshes it — for at most
            ``STALE_FACTOR`` × ``ttl``, and never a cached absence (``None``): a city created a
            moment ago must be found on the next request, not after a refresh.
        max_entries: the oldest entries are dropped beyond this many.
    """

    def __init__(self, ttl: float, *, serve_stale: bool = False, max_entries: int = 10_000):
        self.ttl = ttl
        self.serve_stale = serve_stale
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, T]] = {}
        self._loading: dict[Hashable, asyncio.Future] = {}

    def invalidate(self, key: Hashable | None = None) -> None:
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)

    async def get(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        if self.ttl <= 0:
            return await load()
        hit = self._entries.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        pending = self._loading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._fill(key, load))
            self._loading[key] = pending
        if (
            hit is not None
            and self.serve_stale
            and hit[1] is not None
            and time.monotonic() - hit[0] < self.ttl * STALE_FACTOR
        ):
            return hit[1]
        return await asyncio.shield(pending)

    async def _fill(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        try:
            value = await load()
            if len(self._entries) >= self.max_entries:
                for old in list(self._entries)[: self.max_entries // 10 or 1]:
                    self._entries.pop(old, None)
            self._entries[key] = (time.monotonic(), value)
            return value
        finally:
            self._loading.pop(key, None)
