"""The sold-out gate: turns away requests for an empty pool before they reach the database.

The database stays the single source of truth; the gate only remembers, for a few seconds,
that a period's public pool was found full, so the slot-release rush does not queue thousands
of doomed transactions. Any release of a unit clears the mark at once (marks also expire by
themselves after ``SOLD_OUT_TTL`` seconds, so a release made where no gate was at hand, e.g. in
a job, is seen within seconds).

Marks are keyed by ``(city id, period id)`` and mean "the public pool of this period": the
booking request names a period, so the gate is asked before any database work, without first
looking up the pool's id.

The gate also queues booking transactions of this process (``turn``): no more run at once than
the database pool can serve. A request first asks this process's own marks (free), queues,
and asks the shared gate when its turn comes, so requests that queued while their period sold
out never reach the database.

Last, it remembers which idempotency keys got a booking (``note_booked``): a retried request
for a sold-out period must get its stored booking back, not ``slot_full``, and only those keys
are worth a look-up in the database. The note is a hint that errs towards the look-up: when
the gate cannot tell (Redis down), it says "maybe".
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import OrderedDict
from typing import AsyncIterator

from guahao.tenants.settings import DEFAULT_POOL_SIZE, Settings

log = logging.getLogger("guahao.booking")

SOLD_OUT_TTL = 3.0
BOOKED_KEY_TTL = 24 * 3600.0
BOOKED_KEYS_IN_MEMORY = 100_000


def default_turns(pool_size: int = DEFAULT_POOL_SIZE) -> int:
    """As many booking transactions at once as the database pool has connections (its
    ``pool_size`` and as many again in overflow)."""
    return 2 * pool_size


def _key_digest(owner: str, key: str) -> str:
    return hashlib.sha256(f"{owner}\x00{key}".encode("utf-8")).hexdigest()[:32]


class MemoryGate:
    """In-process gate for the embedded mode (one process).

    Parameters:
        ttl: seconds a sold-out mark lasts unless cleared.
        turns: booking transactions of this process allowed at once (see ``turn``).
    """

    def __init__(self, ttl: float = SOLD_OUT_TTL, turns: int | None = None):
        self.ttl = ttl
        self.turns = turns or default_turns()
        self._marks: dict[tuple[int, int], float] = {}
        self._booked: OrderedDict[tuple[int, str], float] = OrderedDict()
        self._queue: asyncio.Semaphore | None = None
        self._queue_loop: asyncio.AbstractEventLoop | None = None

    async def connect(self, redis) -> None:  # same interface as RedisGate
        return None

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait for this process's turn to run a booking transaction."""
        loop = asyncio.get_running_loop()
        if self._queue is None or self._queue_loop is not loop:
            self._queue, self._queue_loop = asyncio.Semaphore(self.turns), loop
        async with self._queue:
            yield

    def seen_sold_out(self, city_id: int, period_id: int) -> bool:
        """This process's own recent mark: free to ask, so every request asks it first."""
        until = self._marks.get((city_id, period_id))
        return until is not None and until > time.monotonic()

    async def is_sold_out(self, city_id: int, period_id: int) -> bool:
        """Whether the period is marked sold out (by any process, for the Redis gate)."""
        return self.seen_sold_out(city_id, period_id)

    async def mark_sold_out(self, city_id: int, period_id: int) -> None:
        self._marks[(city_id, period_id)] = time.monotonic() + self.ttl

    async def clear(self, city_id: int, period_id: int) -> None:
        self._marks.pop((city_id, period_id), None)

    async def admit(self, city_id: int, period_id: int, owner: str, key: str | None) -> bool:
        """``is_sold_out`` and, for a period not sold out, ``note_booked`` (when there is a key)
        in one go: ``True`` when the request may go on to the database."""
        if await self.is_sold_out(city_id, period_id):
            return False
        if key is not None:
            await self.note_booked(city_id, owner, key)
        return True

    async def note_booked(self, city_id: int, owner: str, key: str) -> None:
        """An idempotency key is about to get a booking (called before the commit)."""
        item = (city_id, _key_digest(owner, key))
        self._booked[item] = time.monotonic() + BOOKED_KEY_TTL
        self._booked.move_to_end(item)
        while len(self._booked) > BOOKED_KEYS_IN_MEMORY:
            self._booked.popitem(last=False)

    async def may_have_booked(self, city_id: int, owner: str, key: str) -> bool:
        """``False`` only when the key surely got no booking (within ``BOOKED_KEY_TTL``)."""
        until = self._booked.get((city_id, _key_digest(owner, key)))
        return until is not None and until > time.monotonic()


# KEYS: the period's mark, the key's note; ARGV: the note's lifetime in seconds.
_ADMIT_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[1])
return 0
"""


class RedisGate(MemoryGate):
    """Gate shared by every web process through Redis (keys expire by themselves).

    It fails open: when Redis does not answer, requests go on to the database, which
    decides anyway; an outage costs speed, never a booking. A process also keeps its own
    marks for ``LOCAL_TTL`` seconds, so the requests it turns away cost no Redis round trip;
    a release made by another process is therefore seen here within that second.
    """

    LOCAL_TTL = 1.0

    def __init__(self, ttl: float = SOLD_OUT_TTL, turns: int | None = None):
        super().__init__(min(ttl, self.LOCAL_TTL), turns)
        self.shared_ttl = ttl
        self.redis = None
        self._unsure_until = 0.0  # a note could not be written: answer "maybe" until then
        self._admit_script = None

    async def connect(self, redis) -> None:
        self.redis = redis

    @staticmethod
    def _key(city_id: int, period_id: int) -> str:
        return f"guahao:soldout:period:{city_id}:{period_id}"

    @staticmethod
    def _booked_key(city_id: int, owner: str, key: str) -> str:
        return f"guahao:booked-key:{city_id}:{_key_digest(owner, key)}"

    async def is_sold_out(self, city_id: int, period_id: int) -> bool:
        local = await super().is_sold_out(city_id, period_id)
        if local or self.redis is None:
            return local
        try:
            return bool(await self.redis.exists(self._key(city_id, period_id)))
        except Exception:
            log.warning("sold-out gate: redis unavailable, letting the request through", exc_info=True)
            return False

    async def admit(self, city_id: int, period_id: int, owner: str, key: str | None) -> bool:
        """One Redis round trip (a script): the mark is read, and the key noted only when the
        period is not marked."""
        if self.redis is None or key is None or self.seen_sold_out(city_id, period_id):
            return await super().admit(city_id, period_id, owner, key)
        try:
            if self._admit_script is None or self._admit_script[0] is not self.redis:
                self._admit_script = (self.redis, self.redis.register_script(_ADMIT_LUA))
            keys = [self._key(city_id, period_id), self._booked_key(city_id, owner, key)]
            marked = await self._admit_script[1](keys=keys, args=[int(BOOKED_KEY_TTL)])
        except Exception:
            log.warning("sold-out gate: redis unavailable, letting the request through", exc_info=True)
            self._unsure_until = time.monotonic() + BOOKED_KEY_TTL
            return True
        return not marked

    async def mark_sold_out(self, city_id: int, period_id: int) -> None:
        await super().mark_sold_out(city_id, period_id)
        if self.redis is None:
            return
        try:
            await self.redis.set(self._key(city_id, period_id), b"1", px=int(self.shared_ttl * 1000))
        except Exception:
            log.warning("sold-out gate: cannot mark period %s", period_id, exc_info=True)

    async def clear(self, city_id: int, period_id: int) -> None:
        await super().clear(city_id, period_id)
        if self.redis is not None:
            try:
                await self.redis.delete(self._key(city_id, period_id))
            except Exception:
                log.warning("sold-out gate: cannot clear period %s (expires by itself)", period_id, exc_info=True)

    async def note_booked(self, city_id: int, owner: str, key: str) -> None:
        if self.redis is None:
            return await super().note_booked(city_id, owner, key)
        try:
            await self.redis.set(self._booked_key(city_id, owner, key), b"1", ex=int(BOOKED_KEY_TTL))
        except Exception:
            log.warning("sold-out gate: cannot note a booked key; replays will be looked up", exc_info=True)
            self._unsure_until = time.monotonic() + BOOKED_KEY_TTL

    async def may_have_booked(self, city_id: int, owner: str, key: str) -> bool:
        if self.redis is None:
            return await super().may_have_booked(city_id, owner, key)
        if self._unsure_until > time.monotonic():
            return True
        try:
            return bool(await self.redis.exists(self._booked_key(city_id, owner, key)))
        except Exception:
            return True


def make_gate(settings: Settings) -> MemoryGate:
    """The Redis gate when Redis is configured (several processes), else the in-process one."""
    turns = default_turns(settings.db_pool_size)
    return RedisGate(turns=turns) if settings.redis_url else MemoryGate(turns=turns)
