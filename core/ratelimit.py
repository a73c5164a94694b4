"""Request limits against scalpers (号贩子, R4.4): registration, log-in, SMS codes, search and
booking, counted per client address, member, phone and device (kiosk terminal).

The rules and their defaults are in ``tenants.rate_limits`` (``GUAHAO_RATE_LIMITS`` changes
them for the deployment). :class:`RateLimiter` counts them with the ``limits`` package in a
sliding window (the current and the previous window's counts, weighted: one cheap script per
count, where a moving window keeps every hit's time): in Redis (``async+redis://`` at
``settings.redis_url``, keys under ``guahao[:<arq namespace>]:ratelimit``) when the
deployment has Redis, so every web and API process shares one count; in the process's memory
otherwise (the embedded demo).

When Redis does not answer (refused, or slower than ``REDIS_TIMEOUT``), the choice is per rule:
searches go through unlimited (a warning is logged: reads must not stop because the counter is
away), while registration, log-in, SMS codes and booking are counted in the process's own
memory, so a Redis outage never lifts their protection.

A refusal is :class:`RateLimited`: 429, code ``rate_limited``, a Chinese sentence with the
seconds to wait, ``details.retry_after`` / ``details.scope`` and a ``Retry-After`` header.
Identifiers (addresses, phones, device ids) are kept in the counters only as keyed hashes.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from collections.abc import Iterable

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string
from redis.asyncio import BlockingConnectionPool
from starlette.requests import Request

from guahao.core.errors import DomainError
from guahao.tenants.crypto import cipher
from guahao.tenants.rate_limits import DEFAULT_RATE_LIMITS, check_rate_limits, scope_of

log = logging.getLogger("guahao.ratelimit")

REDIS_TIMEOUT = 1.0  # seconds a count waits for Redis before the rule's outage choice applies
REDIS_RETRY = 5.0  # after Redis failed, seconds before it is asked again
REDIS_CONNECTIONS = 64  # per process: counts are short scripts, a few connections carry thousands a second
FAIL_OPEN = frozenset({"search_ip"})  # rules that let requests through while Redis is away


class RateLimited(DomainError):
    """Too many requests for one rule: wait ``retry_after`` seconds."""

    status = 429

    def __init__(self, retry_after: int, scope: str):
        super().__init__("rate_limited", f"操作过于频繁，请 {retry_after} 秒后再试。",
                         details={"retry_after": retry_after, "scope": scope})
        self.headers = {"Retry-After": str(retry_after)}


def client_ip(request: Request) -> str:
    """The client address (after the trusted-proxy middleware), "" when unknown."""
    return request.client.host if request.client else ""


def _storage_uri(redis_url: str) -> str:
    return "async+" + redis_url  # redis:// → async+redis://, rediss:// → async+rediss://


def key_prefix(settings) -> str:
    ns = str(settings.extra.get("arq_namespace", "") or "")  # the namespace of core.jobs' queue
    return f"guahao:{ns}:ratelimit" if ns else "guahao:ratelimit"


class RateLimiter:
    """Counts the rules of ``settings`` (see the module docstring).

    Parameters:
        settings: the rules (``settings.rate_limit``), Redis (``redis_url``) and namespace.
    """

    def __init__(self, settings):
        check_rate_limits(dict(settings.rate_limits))
        self.rules: dict[str, list[RateLimitItem]] = {
            name: parse_many(settings.rate_limit(name)) for name in DEFAULT_RATE_LIMITS
        }
        self.memory = SlidingWindowCounterRateLimiter(MemoryStorage())
        self.shared: SlidingWindowCounterRateLimiter | None = None
        self._redis_down_until = 0.0
        self._warned_until = 0.0
        if settings.redis_url:
            # A few connections, waited for (not hundreds opened at the release instant, which
            # Redis and the event loop answer too slowly).
            pool = BlockingConnectionPool.from_url(
                settings.redis_url, max_connections=REDIS_CONNECTIONS, timeout=REDIS_TIMEOUT,
                socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT,
            )
            storage = storage_from_string(
                _storage_uri(settings.redis_url), implementation="redispy", key_prefix=key_prefix(settings),
                connection_pool=pool,
            )
            self.shared = SlidingWindowCounterRateLimiter(storage)

    async def hit(self, city_id: int, *checks: tuple[str, str | int | None]) -> None:
        """Count one request under each ``(rule, identifier)``; a rule without an identifier
        (unknown address, no device cookie) is skipped. Raise :class:`RateLimited` at the first
        window that is full: the windows counted before it keep the refused request (a script
        that keeps knocking stays limited), those after it are not touched. One round trip to
        Redis per window: the booking rush pays two or three per booking."""
        for name, ident in checks:
            if ident in (None, ""):
                continue
            key = _hashed(city_id, name, ident)
            for item in self.rules[name]:
                if not await self._call(name, "hit", item, str(city_id), name, key):
                    raise await self._refusal(name, item, city_id, key)

    async def _refusal(self, name: str, item: RateLimitItem, city_id: int, ident: str) -> RateLimited:
        stats = await self._call(name, "get_window_stats", item, str(city_id), name, ident)
        reset = getattr(stats, "reset_time", 0) or time.time() + item.get_expiry()
        return RateLimited(max(1, math.ceil(reset - time.time())), scope_of(name))

    async def _call(self, name: str, method: str, item: RateLimitItem, *identifiers: str):
        if self.shared is not None and time.monotonic() >= self._redis_down_until:
            try:
                return await asyncio.wait_for(getattr(self.shared, method)(item, *identifiers), REDIS_TIMEOUT)
            except Exception as exc:  # noqa: BLE001 — any storage failure is an outage here
                now = time.monotonic()
                if now >= self._warned_until:  # once per outage spell, not once per waiting request
                    self._warned_until = now + REDIS_RETRY
                    log.warning("Redis unreachable for rate limits (%s): %r; counting in this process for %.0f s",
                                name, exc, REDIS_RETRY)
                self._redis_down_until = now + REDIS_RETRY
        if self.shared is not None and name in FAIL_OPEN:  # Redis is away: searches go through
            return None if method == "get_window_stats" else True
        return await getattr(self.memory, method)(item, *identifiers)

def _hashed(city_id: int, name: str, ident: str | int) -> str:
    """A keyed hash of an identifier: no address or phone in the clear in the counters."""
    return cipher().lookup_hash(f"ratelimit\x00{city_id}\x00{scope_of(name)}\x00{ident}")[:32]


_limiters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def limiter(rt) -> RateLimiter:
    """The limiter of a runtime (made on first use)."""
    found = _limiters.get(rt)
    if found is None:
        found = _limiters[rt] = RateLimiter(rt.settings)
    return found


async def check(rt, city_id: int, checks: Iterable[tuple[str, str | int | None]]) -> None:
    """Count one request of ``city_id`` under ``checks`` with the runtime's limiter."""
    await limiter(rt).hit(city_id, *checks)
