"""Shared steps of the HIS sync tests: hospital settings of the demo HIS, local dates."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from guahao.core.audit import SYSTEM
from guahao.core.models import ClinicSession, Period, SlotPool
from guahao.core.plugins.hospital import configure_hospital_plugin
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from guahao.tenants.service import get_city


async def demo_settings(rt, city, hospital_id: int, **settings):
    """Store the demo HIS's settings of one hospital; returns the city's fresh context."""
    with use_city(city):
        async with rt.db.transaction() as s:
            await configure_hospital_plugin(s, SYSTEM, hospital_id, "demo_his", host=rt.plugins, settings=settings)
    return await get_city(rt.db, city.slug)


def local_today(city):
    return utcnow().astimezone(city.tz).date()


def next_weekday(city, offset: int = 1):
    """A Monday-to-Saturday date at least ``offset`` days ahead (the demo HIS's days)."""
    day = local_today(city) + timedelta(days=offset)
    return day + timedelta(days=1) if day.weekday() == 6 else day


async def sessions_of(rt, city, hospital_id: int, half_day: str = "pm") -> list[ClinicSession]:
    with use_city(city):
        async with rt.db.transaction() as s:
            return list((await s.scalars(
                select(ClinicSession).where(ClinicSession.hospital_id == hospital_id, ClinicSession.half_day == half_day)
                .order_by(ClinicSession.date, ClinicSession.doctor_id)
            )).all())


async def periods_and_pools(rt, city, session_id: int) -> list[tuple[Period, dict[str, SlotPool]]]:
    with use_city(city):
        async with rt.db.transaction() as s:
            periods = (await s.scalars(select(Period).where(Period.session_id == session_id).order_by(Period.start))).all()
            out = []
            for p in periods:
                pools = (await s.scalars(select(SlotPool).where(SlotPool.period_id == p.id))).all()
                out.append((p, {str(x.pool): x for x in pools}))
            return out
