"""Turning doctors' weekly rosters into sessions, periods and pools, in bulk.

:func:`core.catalogue.schedule.create_session` flushes once per period, which is right for
one session from the back office and far too slow for a whole city's fortnight. This module
builds the same rows with the same time rules (``local_to_utc``, ``release_instant``,
``even_periods``) and writes each table with one multi-row insert.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.catalogue.schedule import even_periods, local_to_utc, release_instant
from guahao.core.models import ClinicSession, Period, PoolKind, SlotPool
from guahao.tenants.context import CityContext

from .data import TITLE_TYPE, WEEKLY_SESSIONS

PERIODS_PER_HALF_DAY = {"am": 8, "pm": 8, "evening": 6}  # 30-minute periods
# Reserved units go back to the public pool this long before their period (R2.4).
RESERVED_RELEASE = timedelta(hours=24)


@dataclass(frozen=True)
class RosterDoctor:
    """What the roster needs to know about a doctor (ids already assigned)."""

    id: int
    key: str  # stable across databases: hospital code, department code, name
    hospital_id: int
    hospital_kind: str
    hospital_level: int
    department_id: int
    title: str
    campus_ids: tuple[int, ...]
    type_ids: dict[str, int]  # registration type code → id
    fees: dict[str, int]
    evening: bool


def weekly_pattern(doctor: RosterDoctor, seed: int) -> list[tuple[int, str]]:
    """The (weekday, half-day) slots a doctor sees outpatients, the same every week."""
    rng = random.Random(f"{seed}:{doctor.key}")
    slots = [(wd, hd) for wd in range(6) for hd in ("am", "pm")]
    if doctor.hospital_kind != "community":
        slots.append((6, "am"))  # 周日上午门诊
    chosen = sorted(rng.sample(slots, WEEKLY_SESSIONS[doctor.title]))
    if doctor.evening and doctor.title in ("attending", "resident") and rng.random() < 0.35:
        chosen.append((rng.randrange(5), "evening"))
    return chosen


def pools_for(doctor: RosterDoctor, type_code: str) -> dict[str, int]:
    """Units per period by pool: experts keep one for follow-ups booked in the clinic,
    specialists at tertiary hospitals one for community referrals, general clinics some for
    walk-ins."""
    if type_code == "expert":
        return {"public": 2, "clinic": 1}
    if type_code == "specialist":
        pools = {"public": 3, "onsite": 1}
        if doctor.hospital_level == 3:
            pools["referral"] = 1
        return pools
    return {"public": 3 if doctor.hospital_kind == "community" else 4, "onsite": 2}


def _type_of(doctor: RosterDoctor) -> str:
    code = TITLE_TYPE[doctor.title]
    if code not in doctor.type_ids:  # community centres have no expert clinics
        code = "specialist" if "specialist" in doctor.type_ids and code == "expert" else "general"
    return code


async def insert_schedule(
    s: AsyncSession,
    city: CityContext,
    doctors: list[RosterDoctor],
    days: list[date],
    *,
    seed: int,
) -> tuple[int, int, int]:
    """Create every doctor's sessions on ``days``; returns (sessions, periods, pools) added.

    Release instants follow the city's rules (R2.5), so a session ``window`` days away opens
    at the release time, exactly as it would for a real hospital. Each table is written with
    one multi-row insert; the ids the database gave are read back before the next one.
    """
    if not days or not doctors:
        return 0, 0, 0
    session_rows, specs = _session_rows(city, doctors, days, seed=seed)
    if not session_rows:
        return 0, 0, 0
    await s.execute(insert(ClinicSession.__table__), session_rows)

    first, last = min(days), max(days)
    created = await s.execute(
        select(ClinicSession.id, ClinicSession.doctor_id, ClinicSession.date, ClinicSession.half_day).where(
            ClinicSession.date >= first, ClinicSession.date <= last
        )
    )
    period_rows, pool_specs = _period_rows(city, created, specs)
    await s.execute(insert(Period.__table__), period_rows)

    new_sessions = {row["session_id"] for row in period_rows}
    made = await s.execute(
        select(Period.id, Period.session_id, Period.start, Period.starts_at)
        .join(ClinicSession, ClinicSession.id == Period.session_id)
        .where(ClinicSession.date >= first, ClinicSession.date <= last)
    )
    pool_rows = _pool_rows(city, made, new_sessions, pool_specs)
    await s.execute(insert(SlotPool.__table__), pool_rows)
    return len(session_rows), len(period_rows), len(pool_rows)


def _session_rows(
    city: CityContext, doctors: list[RosterDoctor], days: list[date], *, seed: int
) -> tuple[list[dict], dict[tuple[int, date, str], tuple]]:
    """The session rows of every doctor's weekly pattern on ``days``, and by (doctor id, day,
    half-day) the day and its periods (``even_periods``) for :func:`_period_rows`."""
    tz = city.tz
    window = city.rules.booking_window_days
    rtime = city.rules.release_time
    session_rows: list[dict] = []
    specs: dict[tuple[int, date, str], tuple] = {}
    for doc in doctors:
        pattern = weekly_pattern(doc, seed)
        type_code = _type_of(doc)
        for day in days:
            for weekday, half_day in pattern:
                if day.weekday() != weekday:
                    continue
                periods = even_periods(half_day, PERIODS_PER_HALF_DAY[half_day], pools_for(doc, type_code))
                # Doctors of two-campus hospitals alternate between them through the week.
                campus = doc.campus_ids[(weekday + (half_day != "am")) % len(doc.campus_ids)]
                session_rows.append(
                    dict(
                        city_id=city.id,
                        hospital_id=doc.hospital_id,
                        campus_id=campus,
                        department_id=doc.department_id,
                        doctor_id=doc.id,
                        registration_type_id=doc.type_ids[type_code],
                        date=day,
                        half_day=half_day,
                        fee_fen=doc.fees[type_code],
                        status="open",
                        status_reason="",
                        starts_at=local_to_utc(day, periods[0].start, tz),
                        ends_at=local_to_utc(day, periods[-1].end, tz),
                        release_at=release_instant(day, tz, window, rtime),
                    )
                )
                specs[(doc.id, day, half_day)] = (day, periods)
    return session_rows, specs


def _period_rows(
    city: CityContext, created, specs: dict[tuple[int, date, str], tuple]
) -> tuple[list[dict], dict[tuple[int, object], dict[str, int]]]:
    """The period rows of the sessions just inserted (``created``: id, doctor id, date and
    half-day of the sessions in the date range; those not in ``specs`` existed before), and
    the units by pool of each, keyed by (session id, start time)."""
    tz = city.tz
    period_rows: list[dict] = []
    pool_specs: dict[tuple[int, object], dict[str, int]] = {}
    for session_id, doctor_id, day, half_day in created:
        spec = specs.get((doctor_id, day, half_day))
        if spec is None:  # a session that existed before this run
            continue
        for p in spec[1]:
            period_rows.append(
                dict(
                    city_id=city.id,
                    session_id=session_id,
                    start=p.start,
                    end=p.end,
                    starts_at=local_to_utc(day, p.start, tz),
                    ends_at=local_to_utc(day, p.end, tz),
                )
            )
            pool_specs[(session_id, p.start)] = p.pools
    return period_rows, pool_specs


def _pool_rows(
    city: CityContext, made, new_sessions: set[int], pool_specs: dict[tuple[int, object], dict[str, int]]
) -> list[dict]:
    """The pool rows of the periods just inserted (``made``: id, session id, start and start
    instant of the periods in the date range; those of sessions not in ``new_sessions``
    existed before). Reserved pools go back to the public one ``RESERVED_RELEASE`` before
    their period."""
    pool_rows: list[dict] = []
    for period_id, session_id, start, starts_at in made:
        if session_id not in new_sessions:
            continue
        for kind, capacity in pool_specs[(session_id, start)].items():
            reserved = kind in (PoolKind.clinic, PoolKind.referral)
            pool_rows.append(
                dict(
                    city_id=city.id,
                    period_id=period_id,
                    session_id=session_id,
                    pool=kind,
                    capacity=capacity,
                    booked=0,
                    release_to_public_at=starts_at - RESERVED_RELEASE if reserved else None,
                )
            )
    return pool_rows
