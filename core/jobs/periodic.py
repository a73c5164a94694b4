"""Periodic work over every active city: the no-show sweep and the release of reserved pools.

Each city runs in its own transaction under its own context, so one city's failure is logged
and the others still run.

The no-show sweep (every five minutes, in the worker and in embedded mode) first asks for the
HIS pulls that are due (:func:`plan_his_pulls`): each is an outbox row of topic ``his.sync``
that ``core.his`` carries out, so a down HIS is retried with back-off and blocks nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Awaitable, Callable

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core import outbox
from guahao.core.models import Booking, BookingStatus, City, HisSyncRun, Hospital, OutboxMessage
from guahao.tenants.clock import utcnow
from guahao.tenants.context import CityContext, require_city, use_city
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


HIS_SYNC = "his.sync"  # the outbox topic of a pull from a hospital's HIS (handled by core.his)
HIS_NEAR_EVERY = timedelta(minutes=15)  # today's and tomorrow's schedule
HIS_NIGHTLY_HOUR = 2  # local hour from which the night's pull of the whole booking window is due
HIS_VISITS_AHEAD = timedelta(minutes=30)  # visits are pulled from shortly before a booking starts
HIS_RUNS_KEPT = timedelta(days=30)  # records of pulls older than this are dropped


async def _open_his_pulls(s: AsyncSession) -> set[tuple]:
    rows = (await s.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == HIS_SYNC, OutboxMessage.status.in_(("pending", "queued")))
    )).all()
    return {tuple(sorted((k, v) for k, v in (r.payload or {}).items() if k != "trigger")) for r in rows}


def _ask(s: AsyncSession, waiting: set[tuple], payload: dict) -> int:
    key = tuple(sorted((k, v) for k, v in payload.items() if k != "trigger"))
    if key in waiting:
        return 0
    waiting.add(key)
    outbox.emit(s, HIS_SYNC, payload)
    return 1


async def _plan_city_his_pulls(rt, s: AsyncSession, now: datetime) -> int:
    from .his_push import adapter_for

    city = require_city()
    plugins = await rt.plugins.for_city(city)
    if not plugins.his_adapters():
        return 0
    today = now.astimezone(city.tz).date()
    await s.execute(delete(HisSyncRun).where(HisSyncRun.started_at < now - HIS_RUNS_KEPT))
    waiting = await _open_his_pulls(s)
    last_near: dict[int, datetime] = {}
    last_nightly: dict[int, datetime] = {}
    for hospital_id, trigger, started in (await s.execute(
        select(HisSyncRun.hospital_id, HisSyncRun.trigger, func.max(HisSyncRun.started_at))
        .where(HisSyncRun.kind == "schedules").group_by(HisSyncRun.hospital_id, HisSyncRun.trigger)
    )).all():
        seen = last_nightly if trigger == "nightly" else last_near
        seen[hospital_id] = max(started, seen.get(hospital_id, started))
    visit_days = {
        (hospital_id, day) for hospital_id, day in (await s.execute(
            select(Booking.hospital_id, Booking.session_date).where(
                Booking.status == BookingStatus.confirmed, Booking.session_date >= today - timedelta(days=1),
                Booking.session_date <= today, Booking.starts_at <= now + HIS_VISITS_AHEAD,
            ).distinct()
        )).all()
    }
    asked = 0
    for hospital in (await s.scalars(select(Hospital).where(Hospital.active.is_(True)).order_by(Hospital.id))).all():
        try:
            adapter = adapter_for(plugins, hospital)
        except LookupError:  # its adapter is not enabled: its pushes show the problem
            continue
        if adapter is None:
            continue
        if adapter.supports("schedules"):
            nightly = last_nightly.get(hospital.id)
            if now.astimezone(city.tz).hour >= HIS_NIGHTLY_HOUR and (
                nightly is None or nightly.astimezone(city.tz).date() < today
            ):
                asked += _ask(s, waiting, {"hospital_id": hospital.id, "kind": "schedules", "trigger": "nightly"})
            near = max(last_near.get(hospital.id, datetime.min.replace(tzinfo=now.tzinfo)),
                       nightly or datetime.min.replace(tzinfo=now.tzinfo))
            if near <= now - HIS_NEAR_EVERY:
                asked += _ask(s, waiting, {"hospital_id": hospital.id, "kind": "schedules", "trigger": "every_15_min",
                                           "date_from": today.isoformat(),
                                           "date_to": (today + timedelta(days=1)).isoformat()})
        if adapter.supports("visits"):
            for hospital_id, day in sorted(visit_days):
                if hospital_id == hospital.id:
                    asked += _ask(s, waiting, {"hospital_id": hospital.id, "kind": "visits", "day": day.isoformat(),
                                               "trigger": "sweep"})
    return asked


async def plan_his_pulls(rt, *, now: datetime | None = None) -> int:
    """Ask, through the outbox, for the HIS pulls that are due in every city: a hospital whose
    adapter publishes schedules is pulled for the whole booking window once a night (from
    02:00 local) and for today and tomorrow every 15 minutes; one whose adapter reports visits
    is asked for the visits of a day (today, yesterday) while it has confirmed bookings that
    start within half an hour or have started. A pull already waiting is not asked twice."""
    at = now or utcnow()

    async def work(s: AsyncSession) -> int:
        return await _plan_city_his_pulls(rt, s, at)

    return await for_each_city(rt, "HIS pull planning", work)


async def plan_reconciliations(rt, *, now: datetime | None = None) -> int:
    """Ask, through the outbox, for yesterday's payment reconciliation of every provider with
    statements in every city, once a day from 10:00 local (``core.payments.reconcile``)."""
    from guahao.core.payments.reconcile.planning import plan_city

    at = now or utcnow()

    async def work(s: AsyncSession) -> int:
        return await plan_city(rt, s, at)

    return await for_each_city(rt, "payment reconciliation planning", work)


async def sweep_no_shows(rt, *, now: datetime | None = None) -> int:
    """Ask for the HIS pulls that are due (:func:`plan_his_pulls`), then mark bookings not
    checked in by session end as no-shows (R4.1), in every city."""
    from guahao.core.booking import engine

    await plan_his_pulls(rt, now=now)
    await plan_reconciliations(rt, now=now)

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
