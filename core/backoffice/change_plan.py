"""What a schedule change (停诊/调班, R8) will do, booking by booking, before anyone confirms it.

One planner serves the preview and the change itself, so the console shows exactly what
``suspend``/``move`` then do. A move puts each booking in the target session's period with the
same position (the 3rd period → the 3rd period), or the nearest period with a free unit of the
same pool; a booking that finds no room, a member who already holds a booking in the target
session, and an open waitlist offer are cancelled. Checked-in bookings are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.catalogue.schedule import PeriodSpec, even_periods, local_to_utc
from guahao.core.models import (
    HOLDING,
    Booking,
    BookingStatus,
    ClinicSession,
    Doctor,
    Member,
    Period,
    SlotPool,
    WaitlistEntry,
    WaitlistStatus,
)
from guahao.tenants.context import require_city

from .scope import mask_name, mask_phone

AFFECTED = (BookingStatus.pending_payment, BookingStatus.confirmed, BookingStatus.offered)
OPEN_WAITLIST = (WaitlistStatus.waiting, WaitlistStatus.offered)
HALF_DAY_NAMES = {"am": "上午", "pm": "下午", "evening": "晚上"}


class AffectedBooking(BaseModel):
    """One booking holding a unit of the session and what the change does to it.

    ``why`` says why a move cancels it: ``no_room`` (the target has no free unit of its pool),
    ``already_booked`` (the member holds a booking in the target session) or ``offer`` (an
    unaccepted waitlist offer)."""

    booking_id: str
    member_id: int
    member_name: str  # masked
    phone: str  # masked
    status: str
    channel: str
    pool: str
    start: str  # local HH:MM
    end: str
    refund: bool  # paid online: the fee is given back
    action: Literal["cancel", "move"]
    why: str = ""
    target_period_id: int | None = None  # None while the target session does not exist yet
    target_start: str | None = None
    target_end: str | None = None


class AffectedWaitlist(BaseModel):
    """A member queued for the session: their place is cancelled."""

    entry_id: int
    member_id: int
    member_name: str
    phone: str
    status: str


class TargetInfo(BaseModel):
    """Where a move goes; ``session_id`` is None when the move creates the session."""

    session_id: int | None
    doctor_id: int
    doctor_name: str
    date: date
    half_day: str
    creates: bool


class ChangePlan(BaseModel):
    kind: Literal["suspend", "move"]
    session_id: int
    hospital_id: int
    doctor_id: int
    doctor_name: str
    date: date
    half_day: str
    session_status: str
    target: TargetInfo | None = None
    bookings: list[AffectedBooking] = []
    waitlist: list[AffectedWaitlist] = []
    checked_in_kept: int = 0

    @property
    def moved(self) -> int:
        return sum(1 for b in self.bookings if b.action == "move")

    @property
    def cancelled(self) -> int:
        return sum(1 for b in self.bookings if b.action == "cancel")


@dataclass
class TargetPeriod:
    """A period of the target session: real (``period_id``) or yet to be created."""

    start: time
    end: time
    starts_at: datetime
    ends_at: datetime
    period_id: int | None = None
    pools: dict[str, list] = field(default_factory=dict)  # kind → [pool_id | None, free units]


@dataclass
class Target:
    doctor: Doctor
    day: date
    half_day: str
    session: ClinicSession | None
    periods: list[TargetPeriod]
    holders: set[int]  # members holding a booking in the target session


def when_text(day: date, half_day: str, start: time | None = None, end: time | None = None) -> str:
    """``2025年3月5日上午 08:00-08:30`` for messages and the console."""
    text = f"{day.year}年{day.month}月{day.day}日{HALF_DAY_NAMES.get(str(half_day), '')}"
    return f"{text} {start:%H:%M}-{end:%H:%M}" if start and end else text


async def source_periods(s: AsyncSession, session_id: int) -> list[Period]:
    return list((await s.scalars(select(Period).where(Period.session_id == session_id).order_by(Period.start))).all())


async def source_pools(s: AsyncSession, session_id: int, *, lock: bool = False) -> list[SlotPool]:
    stmt = select(SlotPool).where(SlotPool.session_id == session_id).order_by(SlotPool.id)
    if lock:
        stmt = stmt.with_for_update(key_share=True)
    return list((await s.scalars(stmt)).all())


def period_specs(periods: list[Period], pools: list[SlotPool], half_day: str, new_half_day: str) -> list[PeriodSpec]:
    """The source's periods for a new session: same times on the same half-day, else the new
    half-day split into as many equal periods; each keeps its pools' original capacities."""
    by_period: dict[int, dict[str, int]] = {}
    for p in pools:
        by_period.setdefault(p.period_id, {})[str(p.pool)] = p.capacity
    caps = [by_period.get(p.id, {"public": 0}) for p in periods]
    if str(half_day) == str(new_half_day):
        return [PeriodSpec(p.start, p.end, dict(c)) for p, c in zip(periods, caps, strict=False)]
    specs = even_periods(str(new_half_day), len(periods), {})
    for spec, c in zip(specs, caps, strict=False):
        spec.pools = dict(c)
    return specs


async def load_target(
    s: AsyncSession,
    *,
    doctor: Doctor,
    day: date,
    half_day: str,
    specs: list[PeriodSpec],
    lock: bool = False,
) -> Target:
    """The target session as it stands (pools locked when ``lock``), or as it would be created."""
    stmt = select(ClinicSession).where(
        ClinicSession.doctor_id == doctor.id, ClinicSession.date == day, ClinicSession.half_day == half_day
    )
    cs = await s.scalar(stmt.with_for_update(key_share=True) if lock else stmt)
    if cs is None:
        tz = require_city().tz
        periods = [
            TargetPeriod(spec.start, spec.end, local_to_utc(day, spec.start, tz), local_to_utc(day, spec.end, tz),
                         pools={k: [None, v] for k, v in spec.pools.items()})
            for spec in specs
        ]
        return Target(doctor, day, half_day, None, periods, set())
    periods = [TargetPeriod(p.start, p.end, p.starts_at, p.ends_at, p.id) for p in await source_periods(s, cs.id)]
    index = {p.period_id: p for p in periods}
    for pool in await source_pools(s, cs.id, lock=lock):
        index[pool.period_id].pools[str(pool.pool)] = [pool.id, max(pool.capacity - pool.booked, 0)]
    holders = set(
        (await s.scalars(select(Booking.member_id).where(Booking.session_id == cs.id, Booking.status.in_(HOLDING)))).all()
    )
    return Target(doctor, day, half_day, cs, periods, holders)


async def affected_bookings(s: AsyncSession, session_id: int, *, lock: bool = False, skip_locked: bool = False) -> list[Booking]:
    stmt = (
        select(Booking)
        .where(Booking.session_id == session_id, Booking.status.in_(AFFECTED))
        .order_by(Booking.starts_at, Booking.created_at, Booking.id)
    )
    if lock:
        stmt = stmt.with_for_update(skip_locked=skip_locked, key_share=True)
    return list((await s.scalars(stmt)).all())


async def open_waitlist(s: AsyncSession, session_id: int) -> list[WaitlistEntry]:
    stmt = select(WaitlistEntry).where(WaitlistEntry.session_id == session_id, WaitlistEntry.status.in_(OPEN_WAITLIST))
    return list((await s.scalars(stmt.order_by(WaitlistEntry.id))).all())


async def _people(s: AsyncSession, member_ids: set[int]) -> dict[int, tuple[str, str]]:
    if not member_ids:
        return {}
    rows = await s.execute(select(Member.id, Member.name, Member.phone).where(Member.id.in_(member_ids)))
    return {mid: (mask_name(name), mask_phone(phone)) for mid, name, phone in rows}


def _place(target: Target, index: int, pool: str, now: datetime) -> TargetPeriod | None:
    """The target period for the source period at ``index``: the same position, else the
    nearest (later first) with a free unit of ``pool``; it takes that unit."""
    if not target.periods:
        return None
    anchor = min(index, len(target.periods) - 1)
    order = sorted(range(len(target.periods)), key=lambda i: (abs(i - anchor), i < anchor))
    for i in order:
        tp = target.periods[i]
        slot = tp.pools.get(pool)
        if tp.starts_at > now and slot is not None and slot[1] > 0:
            slot[1] -= 1
            return tp
    return None


async def make_plan(
    s: AsyncSession,
    cs: ClinicSession,
    *,
    doctor_name: str,
    bookings: list[Booking],
    entries: list[WaitlistEntry],
    now: datetime,
    target: Target | None = None,
) -> ChangePlan:
    """Decide the fate of every booking and waitlist place (``target`` is None for 停诊)."""
    periods = await source_periods(s, cs.id)
    position = {p.id: i for i, p in enumerate(periods)}
    times = {p.id: p for p in periods}
    pool_kind = {p.id: str(p.pool) for p in await source_pools(s, cs.id)}
    people = await _people(s, {b.member_id for b in bookings} | {e.member_id for e in entries})
    plan = ChangePlan(
        kind="suspend" if target is None else "move",
        session_id=cs.id,
        hospital_id=cs.hospital_id,
        doctor_id=cs.doctor_id,
        doctor_name=doctor_name,
        date=cs.date,
        half_day=str(cs.half_day),
        session_status=str(cs.status),
    )
    if target is not None:
        plan.target = TargetInfo(
            session_id=target.session.id if target.session else None,
            doctor_id=target.doctor.id,
            doctor_name=target.doctor.name,
            date=target.day,
            half_day=str(target.half_day),
            creates=target.session is None,
        )
    for b in bookings:
        name, phone = people.get(b.member_id, ("", ""))
        p = times[b.period_id]
        row = AffectedBooking(
            booking_id=b.id, member_id=b.member_id, member_name=name, phone=phone, status=str(b.status),
            channel=b.channel, pool=pool_kind.get(b.pool_id, "public"), start=f"{p.start:%H:%M}", end=f"{p.end:%H:%M}",
            refund=b.payment_status == "paid", action="cancel",
        )
        if target is not None:
            if b.status == BookingStatus.offered:
                row.why = "offer"
            elif b.member_id in target.holders:
                row.why = "already_booked"
            else:
                tp = _place(target, position[b.period_id], row.pool, now)
                if tp is None:
                    row.why = "no_room"
                else:
                    row.action = "move"
                    row.target_period_id = tp.period_id
                    row.target_start, row.target_end = f"{tp.start:%H:%M}", f"{tp.end:%H:%M}"
        plan.bookings.append(row)
    for e in entries:
        name, phone = people.get(e.member_id, ("", ""))
        plan.waitlist.append(AffectedWaitlist(entry_id=e.id, member_id=e.member_id, member_name=name, phone=phone,
                                              status=str(e.status)))
    plan.checked_in_kept = len(
        (await s.scalars(select(Booking.id).where(Booking.session_id == cs.id, Booking.status == BookingStatus.checked_in))).all()
    )
    return plan
