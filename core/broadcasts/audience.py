"""Who a broadcast reaches: everyone with an active booking (confirmed, awaiting payment,
checked in) in one session, in one department on a day, or in one hospital on a day.

Every audience lies within one hospital; ``hospital_ids`` (the staff member's scope, ``None``
for the whole city) limits which. An audience outside the scope is answered exactly like one
that does not exist (404), so guessing ids teaches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.errors import NotFound, ValidationFailed
from guahao.core.models import Booking, BookingStatus, ClinicSession, Department, Doctor, Hospital, Member
from guahao.core.models.broadcasts import AUDIENCE_SCOPES

BOOKED = (BookingStatus.confirmed, BookingStatus.pending_payment, BookingStatus.checked_in)
"""The booking statuses whose members a notice is for (a cancelled or expired booking is not)."""

HALF_DAYS = {"am": "上午", "pm": "下午", "evening": "晚上"}


@dataclass(frozen=True)
class Audience:
    """A broadcast's audience.

    Parameters:
        scope: ``session``, ``department`` or ``hospital``.
        hospital_id: the hospital every audience lies within.
        day: the visit day (``department`` and ``hospital``; a session's own date otherwise).
        department_id: the department of a ``department`` audience (a session's own, otherwise).
        session_id: the session of a ``session`` audience.
    """

    scope: str
    hospital_id: int
    day: date | None = None
    department_id: int | None = None
    session_id: int | None = None


@dataclass(frozen=True)
class Resolved:
    """An audience checked against the catalogue and the scope, with its members.

    ``label`` names it as staff read it (``第一人民医院 呼吸内科 2031-01-02``)."""

    audience: Audience
    label: str
    hospital: Hospital
    members: list[Member]


def _refuse(code: str, zh: str, en: str, field: str) -> ValidationFailed:
    return ValidationFailed(code, f"{zh} / {en}", details={"field": field})


async def resolve(s: AsyncSession, audience: Audience, hospital_ids: set[int] | None) -> Resolved:
    """The audience with its members, or 404 when its hospital, department or session does not
    exist or lies outside ``hospital_ids``; 422 when a day is missing."""
    if audience.scope not in AUDIENCE_SCOPES:
        raise _refuse("invalid_audience", "请选择发送对象", "choose who the notice is for", "audience")
    hospital = await s.get(Hospital, audience.hospital_id)
    if hospital is None or (hospital_ids is not None and hospital.id not in hospital_ids):
        raise NotFound("hospital", code="hospital_not_found")
    where = [Booking.hospital_id == hospital.id, Booking.status.in_(BOOKED)]
    parts = [hospital.name]
    if audience.scope == "session":
        cs = await s.get(ClinicSession, audience.session_id) if audience.session_id else None
        if cs is None or cs.hospital_id != hospital.id:
            raise NotFound("session", code="session_not_found")
        department = await s.get(Department, cs.department_id)
        doctor = await s.get(Doctor, cs.doctor_id)
        audience = replace(audience, day=cs.date, department_id=cs.department_id)
        where.append(Booking.session_id == cs.id)
        parts += [department.name if department else "", doctor.name if doctor else "",
                  f"{cs.date.isoformat()} {HALF_DAYS.get(str(cs.half_day), str(cs.half_day))}"]
    else:
        if audience.day is None:
            raise _refuse("day_required", "请选择就诊日期", "choose the visit day", "day")
        where.append(Booking.session_date == audience.day)
        if audience.scope == "department":
            department = await s.get(Department, audience.department_id) if audience.department_id else None
            if department is None or department.hospital_id != hospital.id:
                raise NotFound("department", code="department_not_found")
            where.append(Booking.department_id == department.id)
            parts.append(department.name)
        else:
            audience = replace(audience, department_id=None, session_id=None)
            parts.append("全院")
        parts.append(audience.day.isoformat())
    member_ids = select(Booking.member_id).where(*where).distinct()
    members = list((await s.scalars(select(Member).where(Member.id.in_(member_ids)).order_by(Member.id))).all())
    return Resolved(audience, " ".join(p for p in parts if p), hospital, members)
