"""Periodic work over every active city: the no-show sweep and the release of reserved pools.

Each city runs in its own transaction under its own context, so one city's failure is logged
and the others still run.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.models import City
from guahao.tenants.context import CityContext, use_city
from guahao.tenants.resolver import city_context

log = logging.getLogger("guahao.jobs")


async def active_cities(rt) -> list[CityContext]:
    async with rt.db.transaction() as s:
        rows = (await s.scalars(select(City).where(City.active.is_(True)).order_by(City.id))).all()
    return [city_context(c) for c in rows]


async def for_each_city(rt, what: str, work: Callable[[AsyncSession], Awaitable[int]]) -> int:
    """Run ``work`` in a transaction per active city; returns the sum of what it counted."""
    total = 0
    for city in await active_cities(rt):
        with use_city(city):
            try:
                async with rt.db.transaction() as s:
                    total += await work(s)
            except Exception:  # logged; the next city and the next run still happen
                log.exception("%s failed for city %s", what, city.slug)
    return total


async def sweep_no_shows(rt, *, now: datetime | None = None) -> int:
    """Mark bookings not checked in by session end as no-shows (R4.1), in every city."""
    from guahao.core.booking import engine

    async def work(s: AsyncSession) -> int:
        return len(await engine.mark_no_shows(s, now=now))

    return await for_each_city(rt, "no-show sweep", work)


async def release_pools(rt, *, now: datetime | None = None) -> int:
    """Give unused reserved units to the public pool once their release time passed (R2.4)."""
    from guahao.core.booking import engine

    async def work(s: AsyncSession) -> int:
        return int(await engine.release_reserved_pools(s, now=now) or 0)

    return await for_each_city(rt, "reserved pool release", work)


async def refresh_report_rollups(rt) -> int:
    """Rebuild the last closed days of every city's report rollups (R13); reports read the
    days not rolled up yet from the live tables, so a missed run costs speed, not accuracy."""
    from guahao.core.reports import refresh_rollups

    async def work(s: AsyncSession) -> int:
        return sum((await refresh_rollups(s)).rows.values())

    return await for_each_city(rt, "report rollup refresh", work)
