"""Failed-login throttling: after too many failures for one key, refuse it for a while.

The interface is three calls (``check``, ``failed``, ``succeeded``) on a key of a city: the
in-process counter serves one web process; :class:`RedisLoginThrottle` shares the count between
every process that serves a city, so a guesser cannot spread tries over workers, and counts
in-process while Redis is down. :func:`for_runtime` picks one.

A member log-in (:class:`LoginAttempt`) counts under three keys at once: the login in its normal
form (``13800000000``, ``+86 138 0000 0000`` and ``138-0000-0000`` are one login), the member
it names (a phone and an ID number are one member), and the client address with a higher limit
(one address guessing at many members). Any of them locked refuses the attempt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from redis.exceptions import RedisError

from guahao.core.errors import DomainError
from guahao.tenants.clock import utcnow

log = logging.getLogger("guahao.members")
T = TypeVar("T")

MAX_FAILURES = 5
IP_MAX_FAILURES = 30  # many people may share one address (a hospital's Wi-Fi, a carrier's NAT)
LOCKOUT = timedelta(minutes=15)
KEY_LENGTH = 100


class TooManyAttempts(DomainError):
    status = 429

    def __init__(self, retry_after: int):
        super().__init__(
            "too_many_attempts",
            "登录失败次数过多，请稍后再试",
            details={"retry_after_seconds": retry_after},
        )
        self.headers = {"Retry-After": str(retry_after)}


class LoginThrottle(Protocol):
    """Counts failures per (city, key)."""

    async def check(self, city_id: int, login: str) -> None:
        """Raise :class:`TooManyAttempts` while the key is locked."""

    async def failed(self, city_id: int, login: str, *, limit: int | None = None) -> None:
        """Record a failure; the ``limit``-th (default: the throttle's own) within ``LOCKOUT``
        locks the key."""

    async def succeeded(self, city_id: int, login: str) -> None:
        """Forget the failures of a key that just succeeded."""


class MemoryLoginThrottle:
    """In-process :class:`LoginThrottle` (one web process, or a first line of defence).

    Parameters:
        max_failures: failures within ``lockout`` that lock the login.
        lockout: how long failures are counted and how long a lock lasts.
        max_entries: bound on remembered logins, so junk logins cannot exhaust memory.
    """

    def __init__(self, max_failures: int = MAX_FAILURES, lockout: timedelta = LOCKOUT, max_entries: int = 100_000):
        self.max_failures = max_failures
        self.lockout = lockout
        self.max_entries = max_entries
        # (city, login) → (failures, first failure at, locked until)
        self._entries: dict[tuple[int, str], tuple[int, datetime, datetime | None]] = {}

    @staticmethod
    def _key(city_id: int, login: str) -> tuple[int, str]:
        return city_id, login.strip().upper()[:KEY_LENGTH]

    async def check(self, city_id: int, login: str) -> None:
        entry = self._entries.get(self._key(city_id, login))
        if entry is None or entry[2] is None:
            return
        left = (entry[2] - utcnow()).total_seconds()
        if left > 0:
            raise TooManyAttempts(int(left) + 1)

    async def failed(self, city_id: int, login: str, *, limit: int | None = None) -> None:
        now = utcnow()
        key = self._key(city_id, login)
        count, first, _ = self._entries.get(key, (0, now, None))
        if now - first > self.lockout:
            count, first = 0, now
        count += 1
        locked = now + self.lockout if count >= (limit or self.max_failures) else None
        if key not in self._entries and len(self._entries) >= self.max_entries:
            self._prune(now)
        self._entries[key] = (count, first, locked)

    async def succeeded(self, city_id: int, login: str) -> None:
        self._entries.pop(self._key(city_id, login), None)

    def _prune(self, now: datetime) -> None:
        stale = [k for k, (_, first, locked) in self._entries.items() if (locked or first + self.lockout) <= now]
        for k in stale:
            del self._entries[k]
        if len(self._entries) >= self.max_entries:  # all fresh: drop the oldest half
            for k in sorted(self._entries, key=lambda k: self._entries[k][1])[: self.max_entries // 2]:
                del self._entries[k]


# KEYS[1] failure counter, KEYS[2] lock; ARGV[1] max failures, ARGV[2] lockout in ms.
# One script, so two processes counting the same login at once cannot both miss the lock.
_FAILED_LUA = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if count >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
  redis.call('DEL', KEYS[1])
end
return count
"""


class RedisLoginThrottle:
    """:class:`LoginThrottle` in Redis, shared by every web and API process.

    A failure counter lives ``lockout`` from the first failure; the ``max_failures``-th sets a
    lock key that lives ``lockout``. Time is Redis's own clock.

    While Redis does not answer (refused, reset, or slower than ``REDIS_TIMEOUT``) the count
    goes on in ``fallback``, the process's own counter, so a Redis outage neither stops member
    log-in nor lifts the limit; locks set then are still checked once Redis is back.

    Parameters:
        redis: a ``redis.asyncio`` client (the runtime's arq pool is one).
        max_failures: failures within ``lockout`` that lock the login.
        lockout: how long failures are counted and how long a lock lasts.
        prefix: key prefix (tests use their own).
        fallback: the in-process throttle used while Redis is unreachable (default: one of its own).
    """

    def __init__(self, redis, max_failures: int = MAX_FAILURES, lockout: timedelta = LOCKOUT,
                 prefix: str = "guahao:login", fallback: LoginThrottle | None = None):
        self.redis = redis
        self.max_failures = max_failures
        self.lockout_ms = int(lockout.total_seconds() * 1000)
        self.prefix = prefix
        self.fallback = fallback or MemoryLoginThrottle(max_failures, lockout)
        self._failed = redis.register_script(_FAILED_LUA)

    def _keys(self, city_id: int, login: str) -> tuple[str, str]:
        base = f"{self.prefix}:{city_id}:{login.strip().upper()[:KEY_LENGTH]}"
        return f"{base}:failures", f"{base}:locked"

    async def check(self, city_id: int, login: str) -> None:
        await self.fallback.check(city_id, login)  # a lock counted while Redis was away
        left_ms = await redis_or_none(self.redis.pttl(self._keys(city_id, login)[1]))
        if left_ms is not None and left_ms > 0:
            raise TooManyAttempts(left_ms // 1000 + 1)

    async def failed(self, city_id: int, login: str, *, limit: int | None = None) -> None:
        args = [limit or self.max_failures, self.lockout_ms]
        if await redis_or_none(self._failed(keys=list(self._keys(city_id, login)), args=args)) is None:
            await self.fallback.failed(city_id, login, limit=limit)

    async def succeeded(self, city_id: int, login: str) -> None:
        await self.fallback.succeeded(city_id, login)
        await redis_or_none(self.redis.delete(self._keys(city_id, login)[0]))


REDIS_TIMEOUT = 1.0  # seconds a throttle waits for Redis before counting in-process
REDIS_DOWN = (RedisError, OSError, asyncio.TimeoutError)


async def redis_or_none(call: Awaitable[T]) -> T | None:
    """The result of a Redis call, or ``None`` (logged) when Redis is unreachable or too slow."""
    try:
        return await asyncio.wait_for(call, REDIS_TIMEOUT)
    except REDIS_DOWN as exc:
        log.warning("Redis unreachable, counting log-in failures in this process: %r", exc)
        return None


@dataclass(frozen=True)
class LoginAttempt:
    """The keys one member log-in counts under.

    Parameters:
        city_id: the city logged into.
        login: the login in its normal form (see ``core.members.service.login_key``); it holds
            no phone or ID number in the clear.
        ip: the client address ("" when unknown): counted with ``IP_MAX_FAILURES``, and never
            forgiven by a success (a guesser's own account would clear it).
        member_id: the member the login names, once known.
    """

    city_id: int
    login: str
    ip: str = ""
    member_id: int | None = None

    def _keys(self) -> list[tuple[str, int | None]]:
        keys: list[tuple[str, int | None]] = [(f"login:{self.login}", None)]
        if self.member_id is not None:
            keys.append((f"member:{self.member_id}", None))
        if self.ip:
            keys.append((f"ip:{self.ip}", IP_MAX_FAILURES))
        return keys

    async def check(self, throttle: LoginThrottle) -> None:
        """Raise :class:`TooManyAttempts` when any key of the attempt is locked."""
        for key, _ in self._keys():
            await throttle.check(self.city_id, key)

    async def failed(self, throttle: LoginThrottle) -> None:
        for key, limit in self._keys():
            await throttle.failed(self.city_id, key, limit=limit)

    async def succeeded(self, throttle: LoginThrottle) -> None:
        for key, limit in self._keys():
            if limit is None:
                await throttle.succeeded(self.city_id, key)


def for_runtime(rt, fallback: LoginThrottle) -> LoginThrottle:
    """The shared throttle when the runtime has Redis (counting in ``fallback`` while Redis is
    unreachable), else ``fallback`` (in-process)."""
    redis = getattr(rt, "redis", None)
    return RedisLoginThrottle(redis, fallback=fallback) if redis is not None else fallback
