"""What callers see of a booking or a waitlist entry (the API's response shapes).

Names (hospital, department, doctor), the place of the visit (the session's campus,
``core.catalogue.places``) and the local times of the period come from one joined query per
batch of bookings. ``reserve`` leaves them on the session for the booking it just
made, so answering a booking request costs no extra round trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date as Date
from datetime import datetime, time

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.catalogue.places import PLACE_COLUMNS, VisitPlace, join_place, visit_place
from guahao.core.models import Booking, ClinicSession, Department, Doctor, Hospital, Period, WaitlistEntry, WaitlistStatus

_PARTS = "guahao.booking_view_parts"


class BookingView(BaseModel):
    """A booking as its member (and the API) sees it; times are UTC, ``start``/``end`` local."""

    id: str
    status: str
    period_id: int
    session_id: int
    hospital_id: int
    hospital_name: str
    department_id: int
    department_name: str
    doctor_id: int
    doctor_name: str
    date: Date
    half_day: str
    start: str  # "HH:MM", local
    end: str
    starts_at: datetime
    channel: str
    fee_fen: int
    payment_status: str
    hold_expires_at: datetime | None = None  # payment hold, or the deadline of a waitlist offer
    created_at: datetime
    checked_in_at: datetime | None = None
    late: bool = False
    cancel_reason: str = ""
    campus: VisitPlace = Field(description="就诊院区 where to go: the campus of the booked session")


class WaitlistView(BaseModel):
    """A member's place in a session's waitlist (候补)."""

    id: int
    session_id: int
    status: str
    position: int | None = None  # 1 = next to be offered; only while waiting
    hospital_id: int
    hospital_name: str
    department_id: int
    department_name: str
    doctor_id: int
    doctor_name: str
    date: Date
    half_day: str
    offered_booking_id: str | None = None
    offer_expires_at: datetime | None = None
    created_at: datetime


@dataclass(frozen=True)
class ViewParts:
    hospital_name: str
    department_name: str
    doctor_name: str
    start: time
    end: time
    half_day: str
    place: dict  # the session's place, as ``core.catalogue.places.visit_place`` gives it


def remember_parts(s: AsyncSession, period_id: int, parts: ViewParts) -> None:
    """Keep names already loaded in this transaction, so the view needs no query."""
    s.info.setdefault(_PARTS, {})[period_id] = parts


async def _parts(s: AsyncSession, period_ids: set[int]) -> dict[int, ViewParts]:
    known: dict[int, ViewParts] = s.info.get(_PARTS, {})
    out = {pid: known[pid] for pid in period_ids if pid in known}
    missing = period_ids - out.keys()
    if missing:
        stmt = (
            select(Period.id, Hospital.name, Department.name, Doctor.name, Period.start, Period.end,
                   ClinicSession.half_day, *PLACE_COLUMNS)
            .join(ClinicSession, ClinicSession.id == Period.session_id)
            .join(Hospital, Hospital.id == ClinicSession.hospital_id)
            .join(Department, Department.id == ClinicSession.department_id)
            .join(Doctor, Doctor.id == ClinicSession.doctor_id)
        )
        rows = await s.execute(join_place(stmt, hospital=False).where(Period.id.in_(missing)))
        for pid, hname, dname, docname, start, end, half_day, *place in rows:
            out[pid] = ViewParts(hname, dname, docname, start, end, str(half_day), visit_place(*place))
    return out


def _view(b: Booking, p: ViewParts) -> BookingView:
    return BookingView(
        id=b.id,
        status=str(b.status),
        period_id=b.period_id,
        session_id=b.session_id,
        hospital_id=b.hospital_id,
        hospital_name=p.hospital_name,
        department_id=b.department_id,
        department_name=p.department_name,
        doctor_id=b.doctor_id,
        doctor_name=p.doctor_name,
        date=b.session_date,
        half_day=p.half_day,
        start=p.start.strftime("%H:%M"),
        end=p.end.strftime("%H:%M"),
        starts_at=b.starts_at,
        channel=b.channel,
        fee_fen=b.fee_fen,
        payment_status=b.payment_status,
        hold_expires_at=b.hold_expires_at,
        created_at=b.created_at,
        checked_in_at=b.checked_in_at,
        late=b.late,
        cancel_reason=b.cancel_reason,
        campus=VisitPlace(**p.place),
    )


async def booking_view(s: AsyncSession, booking: Booking) -> BookingView:
    parts = await _parts(s, {booking.period_id})
    return _view(booking, parts[booking.period_id])


async def booking_views(s: AsyncSession, bookings: list[Booking]) -> list[BookingView]:
    """Views of many bookings with one query for their names."""
    parts = await _parts(s, {b.period_id for b in bookings})
    return [_view(b, parts[b.period_id]) for b in bookings]


async def waitlist_view(s: AsyncSession, entry: WaitlistEntry) -> WaitlistView:
    row = (
        await s.execute(
            select(ClinicSession, Hospital.name, Department.name, Doctor.name)
            .join(Hospital, Hospital.id == ClinicSession.hospital_id)
            .join(Department, Department.id == ClinicSession.department_id)
            .join(Doctor, Doctor.id == ClinicSession.doctor_id)
            .where(ClinicSession.id == entry.session_id)
        )
    ).one()
    cs, hname, dname, docname = row
    position = None
    if entry.status == WaitlistStatus.waiting:
        position = await s.scalar(
            select(func.count())
            .select_from(WaitlistEntry)
            .where(
                WaitlistEntry.session_id == entry.session_id,
                WaitlistEntry.status == WaitlistStatus.waiting,
                WaitlistEntry.id <= entry.id,
            )
        )
    return WaitlistView(
        id=entry.id,
        session_id=entry.session_id,
        status=str(entry.status),
        position=position,
        hospital_id=cs.hospital_id,
        hospital_name=hname,
        department_id=cs.department_id,
        department_name=dname,
        doctor_id=cs.doctor_id,
        doctor_name=docname,
        date=cs.date,
        half_day=str(cs.half_day),
        offered_booking_id=entry.offered_booking_id,
        offer_expires_at=entry.offer_expires_at,
        created_at=entry.created_at,
    )
