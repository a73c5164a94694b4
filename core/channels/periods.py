"""Open periods of the city in a time range, each with its doctor, department, hospital and
place (campus), its public capacity and the units left, for channels that publish or search
availability across the catalogue (a standard scheduling API, a slot feed), and the city's
directory: hospitals' campuses, departments and active doctors.

Only what the public may book is listed: open sessions of active hospitals, already released,
periods after the city's booking cut-off. Booking one of them goes through ``book_period``
(``core.booking.service.book``: every rule applies there, this module decides nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from guahao.core.booking import service
from guahao.core.catalogue.places import PLACE_COLUMNS, join_place, visit_place
from guahao.core.models import (
    Campus,
    ClinicSession,
    Department,
    Doctor,
    Hospital,
    Period,
    PoolKind,
    SessionStatus,
    SlotPool,
)
from guahao.tenants.clock import utcnow
from guahao.tenants.context import require_city

MAX_PERIODS = 2000  # one call lists at most this many periods


@dataclass(frozen=True)
class OpenPeriod:
    """A bookable period: times in UTC, ``capacity`` and ``remaining`` of the public pool,
    ``place`` the session's campus as ``{"id", "name", "address"}``."""

    period_id: int
    session_id: int
    hospital_id: int
    hospital_name: str
    department_id: int
    department_name: str
    doctor_id: int
    doctor_name: str
    doctor_title: str
    place: dict
    starts_at: datetime
    ends_at: datetime
    capacity: int
    remaining: int
    fee_fen: int


async def open_periods(
    rt, *, start: datetime, end: datetime, department_id: int | None = None, doctor_id: int | None = None,
    campus_id: int | None = None, period_id: int | None = None, limit: int = MAX_PERIODS,
) -> list[OpenPeriod]:
    """The current city's bookable periods starting in ``[start, end)`` (UTC), of the
    department, doctor, campus or period when given, in start time order (at most ``limit``)."""
    city = require_city()
    now = utcnow()
    earliest = max(start, now + timedelta(minutes=city.rules.booking_cutoff_minutes))
    stmt = join_place(
        select(Period.id, Period.session_id, ClinicSession.hospital_id, Hospital.name, ClinicSession.department_id,
               Department.name, ClinicSession.doctor_id, Doctor.name, Doctor.title, Period.starts_at, Period.ends_at,
               SlotPool.capacity, SlotPool.booked, ClinicSession.fee_fen, *PLACE_COLUMNS)
        .join(ClinicSession, (ClinicSession.id == Period.session_id) & (ClinicSession.city_id == city.id))
        .join(Doctor, (Doctor.id == ClinicSession.doctor_id) & (Doctor.city_id == city.id))
        .join(Department, (Department.id == ClinicSession.department_id) & (Department.city_id == city.id))
        .join(SlotPool, (SlotPool.period_id == Period.id) & (SlotPool.pool == PoolKind.public.value)
              & (SlotPool.city_id == city.id)),
        city.id, hospital=False,
    ).join(Hospital, (Hospital.id == ClinicSession.hospital_id) & (Hospital.city_id == city.id))
    stmt = stmt.where(
        Period.city_id == city.id, Period.starts_at > earliest, Period.starts_at < end,
        ClinicSession.status == SessionStatus.open.value, ClinicSession.release_at <= now, Hospital.active.is_(True),
    )
    if department_id is not None:
        stmt = stmt.where(ClinicSession.department_id == department_id)
    if doctor_id is not None:
        stmt = stmt.where(ClinicSession.doctor_id == doctor_id)
    if campus_id is not None:
        stmt = stmt.where(ClinicSession.campus_id == campus_id)
    if period_id is not None:
        stmt = stmt.where(Period.id == period_id)
    rows = await _rows(rt, stmt.order_by(Period.starts_at, Period.id).limit(limit))
    return [
        OpenPeriod(
            period_id=pid, session_id=sid, hospital_id=hid, hospital_name=hname, department_id=did,
            department_name=dname, doctor_id=docid, doctor_name=docname, doctor_title=str(title),
            place=visit_place(*place), starts_at=_utc(starts), ends_at=_utc(ends), capacity=int(capacity or 0),
            remaining=max(int(capacity or 0) - int(booked or 0), 0), fee_fen=fee,
        )
        for (pid, sid, hid, hname, did, dname, docid, docname, title, starts, ends, capacity, booked, fee, *place) in rows
    ]


async def _rows(rt, stmt) -> list:
    async with rt.db.transaction() as s:
        return list((await s.execute(stmt)).all())


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


async def book_period(rt, *, member_id: int, period_id: int, channel: str, idempotency_key: str | None = None) -> dict:
    """Book a public unit of the period for the member under every rule of the city (the
    web's engine): the booking as the API shows it. Refusals are raised as they come."""
    body, _status, _replayed = await service.book(
        rt, member_id=member_id, period_id=period_id, channel=channel, idempotency_key=idempotency_key
    )
    return body


async def get_booking(rt, *, member_id: int, ref: str) -> dict:
    """The member's booking as the API shows it (``not_found`` for another member's)."""
    return await service.get_booking(rt, member_id=member_id, booking_id=ref)


async def cancel_booking(rt, *, member_id: int, ref: str, reason: str = "") -> dict:
    """Cancel the member's booking under the city's cancel rules: the booking as the API shows it."""
    return await service.cancel_booking(rt, member_id=member_id, booking_id=ref, reason=reason)


@dataclass(frozen=True)
class Directory:
    """The city's catalogue as a directory: ``campuses`` (id, hospital_id, hospital_name,
    hospital_code, name, address, phone), ``departments`` (id, hospital_id, hospital_name,
    code, name) and active ``doctors`` (id, hospital_id, department_id, name, title,
    specialty), of active hospitals, each list in id order."""

    campuses: list[dict]
    departments: list[dict]
    doctors: list[dict]


async def directory(rt) -> Directory:
    """The current city's campuses, departments and active doctors (active hospitals only)."""
    city = require_city()
    active = (Hospital.city_id == city.id) & Hospital.active.is_(True)
    async with rt.db.transaction() as s:
        campuses = (await s.execute(
            select(Campus.id, Campus.hospital_id, Hospital.name, Hospital.code, Campus.name, Campus.address, Hospital.phone)
            .join(Hospital, (Hospital.id == Campus.hospital_id) & active).where(Campus.city_id == city.id)
            .order_by(Campus.id)
        )).all()
        departments = (await s.execute(
            select(Department.id, Department.hospital_id, Hospital.name, Department.code, Department.name)
            .join(Hospital, (Hospital.id == Department.hospital_id) & active).where(Department.city_id == city.id)
            .order_by(Department.id)
        )).all()
        doctors = (await s.execute(
            select(Doctor.id, Doctor.hospital_id, Doctor.department_id, Doctor.name, Doctor.title, Doctor.specialty)
            .join(Hospital, (Hospital.id == Doctor.hospital_id) & active)
            .where(Doctor.city_id == city.id, Doctor.active.is_(True)).order_by(Doctor.id)
        )).all()
    return Directory(
        campuses=[{"id": r[0], "hospital_id": r[1], "hospital_name": r[2], "hospital_code": r[3], "name": r[4],
                   "address": r[5], "phone": r[6]} for r in campuses],
        departments=[{"id": r[0], "hospital_id": r[1], "hospital_name": r[2], "code": r[3], "name": r[4]}
                     for r in departments],
        doctors=[{"id": r[0], "hospital_id": r[1], "department_id": r[2], "name": r[3], "title": str(r[4]),
                  "specialty": r[5]} for r in doctors],
    )
