"""Public catalogue reads (R2.7): hospitals, departments, doctors and availability.

These back the busiest read endpoints, so they select plain columns (no ORM objects), answer
in one or two queries whatever the size of the result, and return JSON-ready dicts.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import String, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.errors import DomainError, NotFound
from guahao.core.models import (
    Campus,
    ClinicSession,
    Department,
    District,
    Doctor,
    Hospital,
    Period,
    PoolKind,
    RegistrationType,
    SessionStatus,
    SlotPool,
)
from guahao.tenants.clock import utcnow
from guahao.tenants.context import require_city

from .places import PLACE_COLUMNS, join_place, visit_place

TITLE_NAMES = {"chief": "主任医师", "associate_chief": "副主任医师", "attending": "主治医师", "resident": "住院医师"}
KIND_NAMES = {"general": "综合医院", "specialty": "专科医院", "community": "社区医疗机构"}
LEVEL_NAMES = {1: "一级", 2: "二级", 3: "三级"}
# Sessions whose public release is at most this far away are listed (as ``released: false``),
# so a patient sees what opens at the next release time.
RELEASE_LOOKAHEAD = timedelta(days=1)
MAX_RANGE_DAYS = 90

_HOSPITAL_COLUMNS = (
    Hospital.id, Hospital.code, Hospital.name, Hospital.short_name, Hospital.kind, Hospital.level,
    Hospital.grade, Hospital.district_id, District.name.label("district_name"), Hospital.address,
    Hospital.phone, Hospital.payment_mode,
)


def _hospital(row) -> dict:
    return {
        "id": row.id,
        "code": row.code,
        "name": row.name,
        "short_name": row.short_name,
        "kind": row.kind,
        "kind_name": KIND_NAMES.get(row.kind, row.kind),
        "level": row.level,
        "grade": row.grade,
        "level_name": f"{LEVEL_NAMES.get(row.level, '')}{row.grade}等",
        "district_id": row.district_id,
        "district_name": row.district_name,
        "address": row.address,
        "phone": row.phone,
        "payment_mode": row.payment_mode,
    }


def _hospital_query():
    return (
        select(*_HOSPITAL_COLUMNS)
        .select_from(Hospital)
        .outerjoin(District, District.id == Hospital.district_id)
        .where(Hospital.active.is_(True))
    )


async def list_districts(s: AsyncSession) -> list[dict]:
    rows = await s.execute(select(District.id, District.code, District.name).order_by(District.code))
    return [{"id": r.id, "code": r.code, "name": r.name} for r in rows]


async def list_hospitals(s: AsyncSession, *, district_id: int | None = None) -> list[dict]:
    q = _hospital_query().order_by(Hospital.level.desc(), Hospital.code)
    if district_id is not None:
        q = q.where(Hospital.district_id == district_id)
    return [_hospital(r) for r in await s.execute(q)]


async def get_hospital(s: AsyncSession, hospital_id: int) -> dict:
    """A hospital with its description, campuses and registration types (one round trip each)."""
    row = (await s.execute(_hospital_query().add_columns(Hospital.description).where(Hospital.id == hospital_id))).first()
    if row is None:
        raise NotFound("医院")
    out = _hospital(row)
    out["description"] = row.description
    campuses = await s.execute(
        select(Campus.id, Campus.name, Campus.address).where(Campus.hospital_id == hospital_id).order_by(Campus.id)
    )
    out["campuses"] = [{"id": c.id, "name": c.name, "address": c.address} for c in campuses]
    types = await s.execute(
        select(RegistrationType.code, RegistrationType.name, RegistrationType.fee_fen)
        .where(RegistrationType.hospital_id == hospital_id)
        .order_by(RegistrationType.fee_fen.desc())
    )
    out["registration_types"] = [{"code": t.code, "name": t.name, "fee_fen": t.fee_fen} for t in types]
    return out


async def list_departments(s: AsyncSession, hospital_id: int) -> list[dict]:
    """Departments of an active hospital with their doctor counts; unknown hospital → 404."""
    if await s.scalar(select(Hospital.id).where(Hospital.id == hospital_id, Hospital.active.is_(True))) is None:
        raise NotFound("医院")
    doctors = (
        select(func.count(Doctor.id))
        .where(Doctor.department_id == Department.id, Doctor.active.is_(True))
        .correlate(Department)
        .scalar_subquery()
    )
    rows = await s.execute(
        select(Department.id, Department.hospital_id, Department.code, Department.name, Department.description,
               doctors.label("doctor_count"))
        .where(Department.hospital_id == hospital_id)
        .order_by(Department.code)
    )
    return [
        {"id": r.id, "hospital_id": r.hospital_id, "code": r.code, "name": r.name,
         "description": r.description, "doctor_count": r.doctor_count}
        for r in rows
    ]


_DOCTOR_COLUMNS = (
    Doctor.id, Doctor.hospital_id, Hospital.name.label("hospital_name"), Doctor.department_id,
    Department.name.label("department_name"), Doctor.name, Doctor.title, Doctor.specialty, Doctor.photo_url,
)


def _doctor(row) -> dict:
    return {
        "id": row.id,
        "hospital_id": row.hospital_id,
        "hospital_name": row.hospital_name,
        "department_id": row.department_id,
        "department_name": row.department_name,
        "name": row.name,
        "title": row.title,
        "title_name": TITLE_NAMES.get(row.title, row.title),
        "specialty": row.specialty,
        "photo_url": row.photo_url,
    }


def _doctor_query():
    return (
        select(*_DOCTOR_COLUMNS)
        .select_from(Doctor)
        .join(Hospital, Hospital.id == Doctor.hospital_id)
        .join(Department, Department.id == Doctor.department_id)
        .where(Doctor.active.is_(True), Hospital.active.is_(True))
    )


async def list_doctors(
    s: AsyncSession,
    *,
    hospital_id: int | None = None,
    department_id: int | None = None,
    q: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[dict]:
    """Active doctors, filtered by hospital, department and a text matching name or specialty."""
    query = _doctor_query()
    if hospital_id is not None:
        query = query.where(Doctor.hospital_id == hospital_id)
    if department_id is not None:
        query = query.where(Doctor.department_id == department_id)
    if q:
        query = query.where(Doctor.name.contains(q, autoescape=True) | Doctor.specialty.contains(q, autoescape=True))
    seniority = case({t: i for i, t in enumerate(TITLE_NAMES)}, value=Doctor.title, else_=len(TITLE_NAMES))
    query = query.order_by(Doctor.hospital_id, Doctor.department_id, seniority, Doctor.id).limit(limit).offset(offset)
    return [_doctor(r) for r in await s.execute(query)]


async def get_doctor(s: AsyncSession, doctor_id: int) -> dict:
    row = (await s.execute(_doctor_query().add_columns(Doctor.introduction).where(Doctor.id == doctor_id))).first()
    if row is None:
        raise NotFound("医生")
    return {**_doctor(row), "introduction": row.introduction}


def availability_range(date_from: date | None, date_to: date | None, *, today: date) -> tuple[date, date]:
    """The dates to look at: from today at the earliest, at most ``MAX_RANGE_DAYS`` ahead."""
    start = max(date_from or today, today)
    last = today + timedelta(days=MAX_RANGE_DAYS)
    end = min(date_to or last, last)
    if date_from and date_to and date_to < date_from:
        raise DomainError(
            "invalid_date_range", "结束日期不能早于开始日期", status=422,
            details={"field": "date_to"},
        )
    return start, end


async def availability(
    s: AsyncSession,
    *,
    department_id: int | None = None,
    doctor_id: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    now: datetime | None = None,
) -> list[dict]:
    """Open sessions with their place (campus), periods and remaining public units, in two queries.

    Listed: sessions already released (``released: true``) and those whose release is within
    ``RELEASE_LOOKAHEAD`` (``released: false`` with ``release_at``), which bounds the dates to
    the booking window. Periods past the city's booking cut-off are left out, and so are
    sessions left without periods.
    """
    if department_id is None and doctor_id is None:
        raise DomainError(
            "missing_filter", "请指定科室(department_id)或医生(doctor_id)", status=422,
            details={"field": "department_id"},
        )
    city = require_city()
    now = now or utcnow()
    start, end = availability_range(date_from, date_to, today=now.astimezone(city.tz).date())
    if end < start:
        return []
    # Both statements run as Core on the session's connection (the ORM's per-row work is most
    # of this endpoint's cost), so they name the city themselves; row-level security is the
    # second wall on PostgreSQL.
    conditions = _listed_sessions(city.id, start, end, now, department_id, doctor_id)
    conn = await s.connection()
    periods = _periods_by_session(await conn.execute(_periods_statement(city, conditions, now)))
    if not periods:
        return []
    return _session_items(await conn.execute(_sessions_statement(city.id, conditions)), periods, now)


async def suspended_sessions(
    s: AsyncSession, *, doctor_id: int, date_from: date, date_to: date, now: datetime | None = None
) -> list[dict]:
    """A doctor's suspended (停诊) sessions from ``date_from`` to ``date_to`` that were listed in
    the booking window (released by ``now + RELEASE_LOOKAHEAD``), in start time order: one small
    query for one doctor, beside :func:`availability` (which lists open sessions only).

    Each is ``{"session_id", "date", "half_day", "starts_at"}``.
    """
    city = require_city()
    now = now or utcnow()
    rows = await s.execute(
        select(ClinicSession.id, ClinicSession.date, ClinicSession.half_day, ClinicSession.starts_at)
        .where(
            ClinicSession.city_id == city.id,
            ClinicSession.doctor_id == doctor_id,
            ClinicSession.date >= date_from,
            ClinicSession.date <= date_to,
            ClinicSession.status == SessionStatus.suspended.value,
            ClinicSession.release_at <= now + RELEASE_LOOKAHEAD,
        )
        .order_by(ClinicSession.starts_at, ClinicSession.id)
    )
    return [
        {"session_id": sid, "date": day.isoformat(), "half_day": str(half_day), "starts_at": starts_at}
        for sid, day, half_day, starts_at in rows
    ]


def _listed_sessions(
    city_id: int, start: date, end: date, now: datetime, department_id: int | None, doctor_id: int | None
) -> list:
    """Conditions on ``ClinicSession`` for the sessions listed: the city's open sessions from
    ``start`` to ``end`` released by ``now + RELEASE_LOOKAHEAD``, of the department and/or doctor."""
    conditions = [
        ClinicSession.city_id == city_id,
        ClinicSession.date >= start,
        ClinicSession.date <= end,
        ClinicSession.status == SessionStatus.open.value,
        ClinicSession.release_at <= now + RELEASE_LOOKAHEAD,
    ]
    if department_id is not None:
        conditions.append(ClinicSession.department_id == department_id)
    if doctor_id is not None:
        conditions.append(ClinicSession.doctor_id == doctor_id)
    return conditions


def _periods_statement(city, conditions: list, now: datetime):
    """Periods of the listed sessions still before the city's booking cut-off, in session
    and time order: ``(session_id, period_id, "HH:MM", "HH:MM", public units left)``.

    A row is a few plain values (times formatted by the database), and the remaining units
    come from a probe of the unique (city, period, pool) index, whatever the planner believes
    about table sizes.
    """
    remaining = (
        select(SlotPool.capacity - SlotPool.booked)
        .where(SlotPool.period_id == Period.id, SlotPool.pool == PoolKind.public.value, SlotPool.city_id == city.id)
        .correlate(Period)
        .scalar_subquery()
    )
    return (
        select(Period.session_id, Period.id, _hhmm(Period.start), _hhmm(Period.end), func.coalesce(remaining, 0))
        .join(ClinicSession, ClinicSession.id == Period.session_id)
        .where(
            *conditions,
            Period.city_id == city.id,
            Period.starts_at > now + timedelta(minutes=city.rules.booking_cutoff_minutes),
        )
        .order_by(Period.session_id, Period.starts_at)
    )


def _periods_by_session(rows) -> dict[int, list[dict]]:
    """The period rows as JSON-ready dicts grouped by session id (units left never below 0)."""
    periods: dict[int, list[dict]] = {}
    for session_id, period_id, p_start, p_end, left in rows:
        periods.setdefault(session_id, []).append(
            {"period_id": period_id, "start": p_start, "end": p_end, "remaining": left if left > 0 else 0}
        )
    return periods


def _sessions_statement(city_id: int, conditions: list):
    """The listed sessions with their doctor, registration type and place (campus), in start
    time order."""
    stmt = (
        select(
            ClinicSession.id, ClinicSession.doctor_id, Doctor.name, Doctor.title, ClinicSession.hospital_id,
            ClinicSession.department_id, ClinicSession.date, ClinicSession.half_day, RegistrationType.code,
            RegistrationType.name, ClinicSession.fee_fen, ClinicSession.release_at, *PLACE_COLUMNS,
        )
        .join(Doctor, (Doctor.id == ClinicSession.doctor_id) & (Doctor.city_id == city_id))
        .join(RegistrationType, (RegistrationType.id == ClinicSession.registration_type_id)
              & (RegistrationType.city_id == city_id))
    )
    return (
        join_place(stmt, city_id)
        .where(*conditions)
        .order_by(ClinicSession.starts_at, ClinicSession.doctor_id, ClinicSession.id)
    )


def _session_items(rows, periods: dict[int, list[dict]], now: datetime) -> list[dict]:
    """The session rows as JSON-ready dicts carrying their periods; sessions without periods
    in ``periods`` are left out."""
    items = []
    for (sid, doc_id, doc_name, title, hosp_id, dept_id, day, half_day, type_code, type_name, fee,
         release_at, *place) in rows:
        session_periods = periods.get(sid)
        if session_periods is None:
            continue
        items.append({
            "session_id": sid,
            "doctor_id": doc_id,
            "doctor_name": doc_name,
            "doctor_title": title,
            "hospital_id": hosp_id,
            "department_id": dept_id,
            "date": day.isoformat(),
            "half_day": half_day,
            "registration_type": type_code,
            "registration_type_name": type_name,
            "fee_fen": fee,
            "released": release_at <= now,
            "release_at": release_at.isoformat().replace("+00:00", "Z"),
            "campus": visit_place(*place),
            "periods": session_periods,
        })
    return items


def _hhmm(column):
    """``HH:MM`` of a time column, formatted in SQL (PostgreSQL prints ``08:00:00``, SQLite
    stores ``08:00:00.000000``): cheaper than a ``time`` object per row."""
    return func.substr(cast(column, String), 1, 5)
