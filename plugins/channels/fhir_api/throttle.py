"""A client's request rate (per minute, a moving window in this process's memory, with the
``limits`` package) and its daily booking quota (successful bookings since the city's
midnight, counted from the API's own booking rows)."""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta, timezone

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from sqlalchemy import func, select

from guahao.plugin_api import city_session, utcnow

from .clients import Caller
from .errors import FhirError
from .models import FhirBooking

_limiter = MovingWindowRateLimiter(MemoryStorage())


async def admit(city, caller: Caller) -> None:
    """Count one request of the client; a 429 with ``Retry-After`` past its rate per minute."""
    item = RateLimitItemPerMinute(max(caller.rate_per_minute, 1))
    key = (city.slug, caller.client_id)
    if await _limiter.hit(item, *key):
        return
    reset, _left = await _limiter.get_window_stats(item, *key)
    wait = max(1, math.ceil(reset - time.time()))
    raise FhirError(429, "throttled", "rate_limited",
                    f"请求过于频繁，请 {wait} 秒后再试。/ Too many requests; retry in {wait} s.",
                    headers={"Retry-After": str(wait)})


TOKEN_RATE = RateLimitItemPerMinute(20)  # token requests a minute from one address (each costs a hash)


async def admit_token_request(city, address: str) -> int | None:
    """Count one token request from ``address``; the seconds to wait when over
    :data:`TOKEN_RATE` (every request verifies an Argon2id hash, so they are bounded)."""
    key = (city.slug, "token", address or "-")
    if await _limiter.hit(TOKEN_RATE, *key):
        return None
    reset, _left = await _limiter.get_window_stats(TOKEN_RATE, *key)
    return max(1, math.ceil(reset - time.time()))


def _midnight(city, now: datetime) -> datetime:
    local = now.astimezone(city.tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc)


async def bookings_today(rt, city, client_id: str) -> int:
    """The client's successful bookings since the city's midnight."""
    since = _midnight(city, utcnow())
    async with city_session(rt, city) as s:
        return int(await s.scalar(select(func.count()).select_from(FhirBooking)
                                  .where(FhirBooking.client_id == client_id, FhirBooking.created_at >= since)) or 0)


async def check_quota(rt, city, caller: Caller) -> None:
    """A 429 with ``Retry-After`` (seconds to the city's next midnight) once the client made
    its daily quota of bookings."""
    if await bookings_today(rt, city, caller.client_id) < caller.daily_quota:
        return
    now = utcnow()
    wait = max(1, math.ceil((_midnight(city, now) + timedelta(days=1) - now).total_seconds()))
    raise FhirError(429, "throttled", "quota_exceeded",
                    f"今日预约配额（{caller.daily_quota} 个）已用完。/ The daily booking quota "
                    f"({caller.daily_quota}) is used up.", headers={"Retry-After": str(wait)})
