"""Calls to the public API, counted for metering (meter ``api.third_party_calls``).

Every request to ``/api/v1/{city}/…`` (not the platform-wide ``/api/v1/docs`` and
``/api/v1/openapi.json``) answered with a status below 500 is one call of the client that the
``X-Guahao-Client`` header names (trimmed; ``unknown`` without one). Counting writes nothing to
the database on the request path:

- with Redis, ``HINCRBY`` (and ``SADD`` into the index of open buckets) into a hash per city and
  UTC minute (``guahao[:ns]:api_calls:<city id>:<YYYYMMDDHHMM>``, field = client), sent after
  the response went out by a task of the process that pipelines every call counted meanwhile
  (:class:`RedisCalls`);
- without Redis, a counter in the process's memory (per runtime).

:func:`flush_api_calls` (every minute: a cron job of the worker, or the embedded runner) reports
each closed minute bucket with :func:`guahao.core.usage.report_usage`, one usage per client,
under the source id ``api.third_party_calls:<city id>:<bucket>[:<process>]:<client>``, and only
then deletes the bucket (Redis) or drops it from memory. A flush that dies between the two
reports the same bucket again under the same source ids, which the ledger counts once. The
``<process>`` part (memory buckets only) tells apart the counters of several processes.

A bucket is closed :data:`CLOSE_AFTER` after its minute ended (time for calls counted at the
minute's end, and for clocks of several servers that differ a little). Calls counted in memory
are lost if their process dies before a flush; the embedded runner flushes every bucket,
open ones too, when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
import weakref
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from guahao.tenants.clock import utcnow
from guahao.tenants.context import CityContext, platform_scope, use_city
from guahao.tenants.middleware import city_slug_from_path
from guahao.tenants.models import City
from guahao.tenants.resolver import city_context

from .usage import report_usage

log = logging.getLogger("guahao.usage")

METER = "api.third_party_calls"
CLIENT_HEADER = b"x-guahao-client"
UNKNOWN = "unknown"
MAX_CLIENT_CHARS = 60
BUCKET_FORMAT = "%Y%m%d%H%M"  # the UTC minute a call was answered in
CLOSE_AFTER = timedelta(seconds=15)
FLUSH_EVERY_SECONDS = 60.0
API_PREFIX = "/api/v1/"


def client_name(raw: bytes | None) -> str:
    """The client a request names in ``X-Guahao-Client``: trimmed, control characters removed,
    at most :data:`MAX_CLIENT_CHARS` characters; ``unknown`` when empty or absent."""
    if not raw:
        return UNKNOWN
    text = raw.decode("utf-8", errors="replace")
    text = "".join(c for c in text if c.isprintable()).strip()[:MAX_CLIENT_CHARS].strip()
    return text or UNKNOWN


def bucket_of(at: datetime) -> str:
    """The minute bucket of a moment (UTC, ``YYYYMMDDHHMM``)."""
    return at.astimezone(UTC).strftime(BUCKET_FORMAT)


def bucket_start(bucket: str) -> datetime:
    return datetime.strptime(bucket, BUCKET_FORMAT).replace(tzinfo=UTC)


def is_closed(bucket: str, now: datetime) -> bool:
    """Whether no call can be counted in ``bucket`` any more (its minute ended long enough ago)."""
    return bucket_start(bucket) + timedelta(minutes=1) + CLOSE_AFTER <= now


def source_id(city_id: int, bucket: str, client: str, process: str = "") -> str:
    """The ledger source id of one client's calls in one city and minute."""
    return f"{METER}:{city_id}:{bucket}:" + (f"{process}:" if process else "") + client


# --- counting ---------------------------------------------------------------------------------


class MemoryCalls:
    """One process's counts, ``(city id, bucket, client) → calls``, for runtimes without Redis.

    ``process`` is part of every source id this counter reports: unique per counter, so two
    processes (or a restarted one) never report under each other's ids.
    """

    def __init__(self) -> None:
        self.process = f"p{os.getpid()}-{secrets.token_hex(4)}"
        self.counts: dict[tuple[int, str, str], int] = defaultdict(int)

    def add(self, city_id: int, bucket: str, client: str, n: int = 1) -> None:
        self.counts[(city_id, bucket, client)] += n

    def due(self, now: datetime, *, everything: bool = False) -> dict[tuple[int, str, str], int]:
        """The counts of closed buckets (of every bucket with ``everything``)."""
        return {k: n for k, n in list(self.counts.items()) if everything or is_closed(k[1], now)}

    def forget(self, reported: dict[tuple[int, str, str], int]) -> None:
        for key, n in reported.items():
            left = self.counts.get(key, 0) - n
            if left > 0:
                self.counts[key] = left
            else:
                self.counts.pop(key, None)


_memory: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def memory_calls(rt) -> MemoryCalls:
    """The in-memory counter of a runtime (made on first use)."""
    counter = _memory.get(rt)
    if counter is None:
        counter = _memory[rt] = MemoryCalls()
    return counter


def _prefix(settings) -> str:
    ns = str(settings.extra.get("arq_namespace", "") or "")  # the namespace of core.jobs' queue
    return f"guahao:{ns}:api_calls" if ns else "guahao:api_calls"


def redis_key(settings, city_id: int, bucket: str) -> str:
    return f"{_prefix(settings)}:{city_id}:{bucket}"


def redis_index(settings) -> str:
    """The set of ``<city id>:<bucket>`` that have a hash in Redis."""
    return _prefix(settings)


class RedisCalls:
    """Counts on their way to Redis: a call adds to a tally in memory, and one task per process
    sends the tallies, a quarter of a second after the first call it has not sent, with one
    pipelined ``HINCRBY`` per city, minute and client (and ``SADD`` of the bucket into the
    index), so a thousand calls in the same moment make one round trip, not a thousand. While
    Redis cannot be reached the tallies wait and are sent when it can.
    """

    RETRY_SECONDS = 1.0
    GATHER_SECONDS = 0.25
    """How long a sending task waits for more calls before its first pipeline: a busy minute
    sends a few pipelines a second per process, not one per event-loop turn."""

    def __init__(self, rt) -> None:
        self.rt = weakref.ref(rt)
        self.tally: dict[tuple[int, str, str], int] = defaultdict(int)
        self.task: asyncio.Task | None = None
        self._warned = 0.0

    def add(self, city_id: int, bucket: str, client: str) -> None:
        self.tally[(city_id, bucket, client)] += 1
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._send(), name="guahao-api-calls")

    async def _send(self) -> None:
        await asyncio.sleep(self.GATHER_SECONDS)
        while self.tally:
            rt = self.rt()
            if rt is None or rt.redis is None:
                return
            batch, self.tally = self.tally, defaultdict(int)
            try:
                pipe = rt.redis.pipeline(transaction=False)
                for (city_id, bucket, client), n in batch.items():
                    pipe.hincrby(redis_key(rt.settings, city_id, bucket), client, n)
                    pipe.sadd(redis_index(rt.settings), f"{city_id}:{bucket}")
                await pipe.execute()
            except Exception as exc:  # kept and sent later: an answered call is never an error
                for key, n in batch.items():
                    self.tally[key] += n
                if time.monotonic() - self._warned > 60:
                    self._warned = time.monotonic()
                    log.warning("API calls not yet counted in Redis (%s: %s); retrying", type(exc).__name__, exc)
                await asyncio.sleep(self.RETRY_SECONDS)

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait (at most ``timeout`` seconds) until the tallies made so far are in Redis."""
        if self.task is not None and not self.task.done():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.task), timeout)


_redis_calls: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def redis_calls(rt) -> RedisCalls:
    sender = _redis_calls.get(rt)
    if sender is None:
        sender = _redis_calls[rt] = RedisCalls(rt)
    return sender


def count_call(rt, city_id: int, client: str, *, at: datetime | None = None) -> None:
    """Count one call of ``client`` in the city now (on its way to Redis when the runtime has it)."""
    bucket = bucket_of(at or utcnow())
    if rt.redis is None:
        memory_calls(rt).add(city_id, bucket, client)
    else:
        redis_calls(rt).add(city_id, bucket, client)


class ApiCallsMiddleware:
    """Pure ASGI middleware (inside the city middleware) counting calls of the public API.

    The count is made after the application answered, so it adds nothing to the response's
    time; an answer of 500 or above, or an exception, is not counted.
    """

    def __init__(self, app, rt):
        self.app = app
        self.rt = rt

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(API_PREFIX) or city_slug_from_path(path) is None:
            return await self.app(scope, receive, send)
        city = (scope.get("state") or {}).get("city")
        if city is None:
            return await self.app(scope, receive, send)
        status = 0

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, send_status)
        if 0 < status < 500:
            client = next((v for k, v in scope.get("headers", ()) if k == CLIENT_HEADER), None)
            count_call(self.rt, city.id, client_name(client))


# --- flushing ---------------------------------------------------------------------------------


async def _cities(rt, ids: set[int]) -> dict[int, CityContext]:
    with platform_scope("API call metering: the cities whose calls are reported"):
        async with rt.db.transaction() as s:
            rows = (await s.scalars(select(City).where(City.id.in_(ids)))).all()
    return {int(c.id): city_context(c) for c in rows}


async def _report(rt, found: dict[tuple[int, str, str], int], process: str = "") -> set[int]:
    """Report ``(city, bucket, client) → calls``, one transaction per city; returns the cities
    whose report committed (a city that fails is logged and tried again at the next flush)."""
    by_city: dict[int, list[tuple[str, str, int]]] = defaultdict(list)
    for (city_id, bucket, client), n in found.items():
        if n > 0:
            by_city[city_id].append((bucket, client, n))
    cities = await _cities(rt, set(by_city)) if by_city else {}
    done = {c for c in by_city if c not in cities}  # a city that no longer exists: nothing to report to
    for city_id in done:
        log.warning("API calls of unknown city %s dropped", city_id)
    for city_id, items in sorted(by_city.items()):
        if city_id not in cities:
            continue
        try:
            with use_city(cities[city_id]):
                async with rt.db.transaction() as s:
                    for bucket, client, n in sorted(items):
                        report_usage(s, meter=METER, quantity=n, source_id=source_id(city_id, bucket, client, process),
                                     occurred_at=bucket_start(bucket), dimensions={"client": client})
        except Exception:  # the buckets stay where they are and are reported next time
            log.exception("reporting API calls of city %s failed", city_id)
            continue
        done.add(city_id)
    return done


async def _flush_redis(rt, now: datetime) -> int:
    redis, index = rt.redis, redis_index(rt.settings)
    members = [m.decode() if isinstance(m, bytes) else str(m) for m in await redis.smembers(index)]
    closed = []
    for member in members:
        city_id, _, bucket = member.partition(":")
        if city_id.isdigit() and len(bucket) == 12 and bucket.isdigit() and is_closed(bucket, now):
            closed.append((int(city_id), bucket, member))
        elif not (city_id.isdigit() and bucket.isdigit()):
            await redis.srem(index, member)  # not ours
    found: dict[tuple[int, str, str], int] = {}
    for city_id, bucket, _ in closed:
        for client, n in (await redis.hgetall(redis_key(rt.settings, city_id, bucket))).items():
            name = client.decode() if isinstance(client, bytes) else str(client)
            found[(city_id, bucket, name)] = int(n)
    done = await _report(rt, found)
    for city_id, bucket, member in closed:  # reported (committed) first, deleted after
        if city_id in done or not any(k[0] == city_id for k in found):
            await _forget_redis(rt, city_id, bucket, member)
    return sum(1 for k in found if k[0] in done)


async def _forget_redis(rt, city_id: int, bucket: str, member: str) -> None:
    pipe = rt.redis.pipeline(transaction=True)
    pipe.delete(redis_key(rt.settings, city_id, bucket))
    pipe.srem(redis_index(rt.settings), member)
    await pipe.execute()


async def flush_api_calls(rt, *, now: datetime | None = None, everything: bool = False) -> int:
    """Report the calls of closed minute buckets for metering; returns how many usages
    (city × minute × client) were reported.

    Parameters:
        now: the time that decides which buckets are closed (default: the clock).
        everything: report the open buckets of this process's memory too (at shutdown).
    """
    now = now or utcnow()
    reported = 0
    sender = _redis_calls.get(rt)
    if sender is not None:
        await sender.settle()
    memory = _memory.get(rt)
    if memory is not None and memory.counts:
        found = memory.due(now, everything=everything)
        done = await _report(rt, found, memory.process)
        memory.forget({k: n for k, n in found.items() if k[0] in done})
        reported += sum(1 for k in found if k[0] in done)
    if rt.redis is not None:
        reported += await _flush_redis(rt, now)
    return reported
