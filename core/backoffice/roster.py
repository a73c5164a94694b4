"""A session's booking list (R11.2) and staff check-in at the hospital.

Patients appear masked as on every staff screen (name, mobile and ID number); the list shows
each booking's status, channel, pool, period and check-in time.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel
from sqlalchemy import select

from guahao.core import audit
from guahao.core.audit import Actor
from guahao.core.booking import engine
from guahao.core.booking.views import booking_view
from guahao.core.models import Booking, Doctor, Member, Period, SlotPool

from . import scope


class RosterRow(BaseModel):
    booking_id: str
    member_name: str  # masked
    phone: str  # masked
    id_number: str  # masked
    status: str
    channel: str
    pool: str
    start: str  # local HH:MM
    end: str
    checked_in_at: datetime | None = None
    late: bool = False
    created_by: str


class Roster(BaseModel):
    session_id: int
    hospital_id: int
    doctor_name: str
    date: date
    half_day: str
    status: str
    status_reason: str
    rows: list[RosterRow]


async def session_bookings(rt, session_id: int, *, hospital_id: int | None = None) -> Roster:
    """Every booking of the session by period, then booking time (cancelled ones included)."""
    async with rt.db.transaction() as s:
        cs = await scope.clinic_session(s, session_id, hospital_id)
        doctor = await s.scalar(select(Doctor.name).where(Doctor.id == cs.doctor_id))
        found = await s.execute(
            select(Booking, Member.name, Member.phone, Member.id_number_masked, Period.start, Period.end, SlotPool.pool)
            .join(Member, Member.id == Booking.member_id)
            .join(Period, Period.id == Booking.period_id)
            .join(SlotPool, SlotPool.id == Booking.pool_id)
            .where(Booking.session_id == cs.id)
            .order_by(Period.start, Booking.created_at, Booking.id)
        )
        rows = [
            RosterRow(
                booking_id=b.id, member_name=scope.mask_name(name), phone=scope.mask_phone(phone), id_number=masked,
                status=str(b.status), channel=b.channel, pool=str(pool), start=f"{start:%H:%M}", end=f"{end:%H:%M}",
                checked_in_at=b.checked_in_at, late=b.late, created_by=b.created_by,
            )
            for b, name, phone, masked, start, end, pool in found
        ]
        return Roster(session_id=cs.id, hospital_id=cs.hospital_id, doctor_name=doctor or "", date=cs.date,
                      half_day=str(cs.half_day), status=str(cs.status), status_reason=cs.status_reason, rows=rows)


async def check_in(rt, booking_id: str, *, actor: Actor, hospital_id: int | None = None,
                   at: datetime | None = None) -> dict:
    """The patient arrived (取号): late after the period's start plus the grace minutes."""
    async with rt.db.transaction() as s:
        await scope.booking(s, booking_id, hospital_id)
        booking = await engine.check_in(s, booking_id, at=at, actor=scope.actor_label(actor))
        audit.record(s, actor, "booking.check_in", target_type="booking", target_id=booking.id,
                     summary=f"到院签到 {booking.id}" + ("（迟到）" if booking.late else ""),
                     after={"checked_in_at": booking.checked_in_at, "late": booking.late})
        return (await booking_view(s, booking)).model_dump(mode="json")
