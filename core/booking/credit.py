"""Credit (预约信用, R4.3): no-shows counted in a window climb a ladder of suspensions.

The window is the calendar year of the no-show in the city's time zone (the default, like
Beijing's 114 platform: 1st no-show → 30 days, 2nd → 60, 3rd and later → 90), or a rolling
number of days when the city sets ``credit_window_days``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.models import Booking, BookingStatus, CreditEvent, Doctor, Hospital, Member
from guahao.tenants.clock import utcnow
from guahao.tenants.context import CityContext, require_city

from . import errors
from .events import notify


class CreditStatus(BaseModel):
    """A member's credit as they see it: whether they may book, and why not."""

    status: Literal["good", "suspended"]
    suspended_until: datetime | None = None
    reason: str = ""
    no_shows_in_window: int
    window: str  # "calendar_year:2025" or "rolling_days:90"
    window_starts_at: datetime
    next_penalty_days: int  # suspension the next no-show in this window would bring


def window_of(city: CityContext, at: datetime) -> tuple[datetime, datetime | None, str]:
    """The counting window that contains ``at``: (start, end or None, label)."""
    days = city.rules.credit_window_days
    if days is None:
        year = at.astimezone(city.tz).year
        start = datetime(year, 1, 1, tzinfo=city.tz).astimezone(UTC)
        end = datetime(year + 1, 1, 1, tzinfo=city.tz).astimezone(UTC)
        return start, end, f"calendar_year:{year}"
    return at - timedelta(days=days), None, f"rolling_days:{days}"


def penalty_days(city: CityContext, nth: int) -> int:
    """Days of suspension for the ``nth`` no-show in a window; the last step repeats."""
    ladder = city.rules.credit_ladder_days
    return ladder[min(max(nth, 1), len(ladder)) - 1]


async def count_no_shows(s: AsyncSession, member_id: int, start: datetime, end: datetime | None) -> int:
    """No-shows in ``[start, end)`` (a calendar year) or, with no ``end``, in ``(start, …)``
    (a rolling window: exactly N days ago is outside "the last N days")."""
    stmt = select(func.count()).select_from(Booking).where(
        Booking.member_id == member_id, Booking.status == BookingStatus.no_show
    )
    if end is not None:
        stmt = stmt.where(Booking.ends_at >= start, Booking.ends_at < end)
    else:
        stmt = stmt.where(Booking.ends_at > start)
    return int(await s.scalar(stmt) or 0)


async def credit_status(s: AsyncSession, member_id: int) -> CreditStatus:
    city = require_city()
    now = utcnow()
    member = await s.get(Member, member_id)
    if member is None:
        raise errors.BookingNotFound("会员")
    start, end, label = window_of(city, now)
    count = await count_no_shows(s, member_id, start, end)
    suspended = member.suspended_until is not None and member.suspended_until > now
    return CreditStatus(
        status="suspended" if suspended else "good",
        suspended_until=member.suspended_until if suspended else None,
        reason=member.suspension_reason if suspended else "",
        no_shows_in_window=count,
        window=label,
        window_starts_at=start,
        next_penalty_days=penalty_days(city, count + 1),
    )


async def apply_no_show(s: AsyncSession, booking: Booking, *, now: datetime) -> datetime | None:
    """Record the no-show in the member's credit and suspend them per the ladder.

    The booking must already be flushed as ``no_show`` so it counts. Returns the new
    ``suspended_until`` (``None`` when the ladder step is 0 days).
    """
    city = require_city()
    member = await s.scalar(select(Member).where(Member.id == booking.member_id).with_for_update())
    start, end, label = window_of(city, booking.ends_at)
    nth = await count_no_shows(s, member.id, start, end)
    days = penalty_days(city, nth)
    s.add(CreditEvent(member_id=member.id, booking_id=booking.id, kind="no_show", at=now, detail={"nth": nth, "window": label}))
    if days <= 0:
        return None
    until = now + timedelta(days=days)
    if member.suspended_until is not None and member.suspended_until > until:
        until = member.suspended_until
    reason = await _reason(s, booking, nth=nth, days=days, until=until, label=label, city=city)
    member.suspended_until = until
    member.suspension_reason = reason
    s.add(
        CreditEvent(
            member_id=member.id,
            booking_id=booking.id,
            kind="suspended",
            at=now,
            suspended_until=until,
            detail={"nth": nth, "days": days, "window": label, "reason": reason},
        )
    )
    notify(
        s,
        "credit_suspended",
        member_id=member.id,
        booking_id=booking.id,
        now=now,
        data={"suspended_until": until.isoformat(), "reason": reason},
    )
    return until


async def _reason(
    s: AsyncSession, booking: Booking, *, nth: int, days: int, until: datetime, label: str, city: CityContext
) -> str:
    names = (
        await s.execute(
            select(Hospital.name, Doctor.name)
            .join(Doctor, Doctor.hospital_id == Hospital.id)
            .where(Hospital.id == booking.hospital_id, Doctor.id == booking.doctor_id)
        )
    ).first()
    where = f"{names[0]}{names[1]}医生" if names else "医院"
    if city.rules.credit_window_days is None:
        span = f"{label.split(':', 1)[1]}年内"
    else:
        span = f"近{city.rules.credit_window_days}天内"
    text = (
        f"您{booking.session_date:%Y年%m月%d日}在{where}的预约未按时就诊，为{span}第{nth}次爽约，"
        f"预约资格暂停{days}天，至{errors.local_text(until, city.tz)}恢复。"
    )
    return text[:300]
