"""Creating schedules: a doctor's session with its periods and pools, times made concrete.

Sessions are local dates in the city's time zone; every stored instant is UTC. A session's
public release instant follows R2.5: ``window_days`` before the date, at ``release_time``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.models import ClinicSession, Doctor, Hospital, Period, PoolKind, RegistrationType, SlotPool
from guahao.tenants.context import require_city

HALF_DAY_HOURS = {"am": (8, 12), "pm": (13, 17), "evening": (18, 21)}


def local_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def release_instant(day: date, tz: ZoneInfo, window_days: int, release_time: time) -> datetime:
    """When public slots for ``day`` open: ``window_days`` earlier at ``release_time`` local."""
    return local_to_utc(day - timedelta(days=window_days), release_time, tz)


@dataclass
class PeriodSpec:
    """One period of a session: local start/end and units per pool."""

    start: time
    end: time
    pools: dict[str, int] = field(default_factory=lambda: {"public": 1})


def even_periods(half_day: str, count: int, pools: dict[str, int]) -> list[PeriodSpec]:
    """Split a half-day into ``count`` equal periods with the same pool sizes."""
    start_h, end_h = HALF_DAY_HOURS[half_day]
    total = (end_h - start_h) * 60
    step = total // count
    out = []
    for i in range(count):
        a = start_h * 60 + i * step
        b = a + step
        out.append(PeriodSpec(time(a // 60, a % 60), time(b // 60, b % 60), dict(pools)))
    return out


async def create_session(
    s: AsyncSession,
    *,
    hospital: Hospital,
    doctor: Doctor,
    campus_id: int,
    registration_type: RegistrationType,
    day: date,
    half_day: str,
    periods: list[PeriodSpec],
    fee_fen: int | None = None,
    window_days: int | None = None,
    release_time: time | None = None,
    pool_release_hours_before: int | None = None,
) -> ClinicSession:
    """Create a session, its periods and their pools in the caller's transaction.

    Window and release time default to the hospital's override, then the city's rules.
    Reserved pools (on-site, in-clinic, referral) may be released to the public pool
    ``pool_release_hours_before`` hours before each period.
    """
    city = require_city()
    tz = city.tz
    window = window_days or hospital.booking_window_days or city.rules.booking_window_days
    rtime = release_time or hospital.release_time or city.rules.release_time
    if not periods:
        raise ValueError("a session needs at least one period")
    cs = ClinicSession(
        hospital_id=hospital.id,
        campus_id=campus_id,
        department_id=doctor.department_id,
        doctor_id=doctor.id,
        registration_type_id=registration_type.id,
        date=day,
        half_day=half_day,
        fee_fen=registration_type.fee_fen if fee_fen is None else fee_fen,
        starts_at=local_to_utc(day, periods[0].start, tz),
        ends_at=local_to_utc(day, periods[-1].end, tz),
        release_at=release_instant(day, tz, window, rtime),
    )
    s.add(cs)
    await s.flush()
    for spec in periods:
        p = Period(
            session_id=cs.id,
            start=spec.start,
            end=spec.end,
            starts_at=local_to_utc(day, spec.start, tz),
            ends_at=local_to_utc(day, spec.end, tz),
        )
        s.add(p)
        await s.flush()
        for kind, capacity in spec.pools.items():
            kind = PoolKind(kind)
            release = None
            if kind != PoolKind.public and pool_release_hours_before is not None:
                release = p.starts_at - timedelta(hours=pool_release_hours_before)
            s.add(SlotPool(period_id=p.id, session_id=cs.id, pool=kind, capacity=capacity, release_to_public_at=release))
    await s.flush()
    return cs
