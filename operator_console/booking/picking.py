"""Choosing where to book on someone's behalf: hospital → department → session → period.

Staff booking pages (call centre, doctor, referral clerk) share these steps. Public units come
from the same catalogue query as the patient site (``core.catalogue.queries.availability``);
reserved pools (诊间 ``clinic``, 转诊 ``referral``) are not public, so their remaining units are
read here, for sessions still open and periods before the booking cut-off.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.backoffice import patients
from guahao.core.catalogue import queries
from guahao.core.catalogue.places import PLACE_COLUMNS, join_place, visit_place
from guahao.core.errors import DomainError
from guahao.core.models import ClinicSession, Department, Doctor, Member, Period, SessionStatus, SlotPool
from guahao.tenants.clock import utcnow
from guahao.tenants.context import require_city

DAYS = 14


def today() -> date:
    return utcnow().astimezone(require_city().tz).date()


async def find_member(s: AsyncSession, query: str) -> Member:
    """The member a mobile number or ID number names; 404 ``patient_not_found`` otherwise
    (a malformed number is 422 ``invalid_lookup``)."""
    member = await patients.lookup(s, query)
    if member is None:
        raise DomainError("patient_not_found", "没有会员使用此手机号或身份证号 / no member has this mobile or ID number",
                          status=404)
    return member


async def public_sessions(s: AsyncSession, *, department_id: int, doctor_id: int | None = None) -> list[dict]:
    """Released sessions of a department (or one doctor) in the next ``DAYS`` days with their
    periods and remaining public units; sessions not yet released are left out."""
    start = today()
    items = await queries.availability(
        s, department_id=department_id, doctor_id=doctor_id, date_from=start, date_to=start + timedelta(days=DAYS - 1)
    )
    return [i for i in items if i["released"]]


async def reserved_sessions(
    s: AsyncSession,
    *,
    pool: str,
    doctor_id: int | None = None,
    department_id: int | None = None,
    days: int = DAYS,
) -> list[dict]:
    """Open sessions ahead with the remaining units of a reserved ``pool`` per period, as
    ``{session_id, date, half_day, doctor_id, doctor_name, department_name, hospital_name,
    fee_fen, campus, periods: [{period_id, start, end, capacity, remaining}]}`` (``campus``: the
    place of the visit, ``core.catalogue.places``). Sessions without such a pool are left out."""
    city = require_city()
    now = utcnow()
    start = today()
    cutoff = now + timedelta(minutes=city.rules.booking_cutoff_minutes)
    q = (
        join_place(
            select(ClinicSession, Period, SlotPool, Doctor.name, Department.name, *PLACE_COLUMNS)
            .join(Period, Period.session_id == ClinicSession.id)
            .join(SlotPool, (SlotPool.period_id == Period.id) & (SlotPool.pool == pool))
            .join(Doctor, Doctor.id == ClinicSession.doctor_id)
            .join(Department, Department.id == ClinicSession.department_id)
        )
        .where(
            ClinicSession.status == SessionStatus.open.value,
            ClinicSession.date >= start,
            ClinicSession.date < start + timedelta(days=days),
            Period.starts_at > cutoff,
        )
        .order_by(ClinicSession.starts_at, ClinicSession.id, Period.starts_at)
    )
    if doctor_id is not None:
        q = q.where(ClinicSession.doctor_id == doctor_id)
    if department_id is not None:
        q = q.where(ClinicSession.department_id == department_id)
    out: dict[int, dict] = {}
    for cs, period, slot, doctor_name, department_name, *place in await s.execute(q):
        item = out.setdefault(cs.id, {
            "session_id": cs.id, "date": cs.date.isoformat(), "half_day": str(cs.half_day), "doctor_id": cs.doctor_id,
            "doctor_name": doctor_name, "department_name": department_name, "hospital_name": place[3],
            "hospital_id": cs.hospital_id, "fee_fen": cs.fee_fen, "campus": visit_place(*place), "periods": [],
        })
        item["periods"].append({
            "period_id": period.id, "start": period.start.strftime("%H:%M"), "end": period.end.strftime("%H:%M"),
            "capacity": slot.capacity, "remaining": max(slot.capacity - slot.booked, 0),
        })
    return list(out.values())


async def hospitals(s: AsyncSession, *, exclude: int | None = None) -> list[dict]:
    return [h for h in await queries.list_hospitals(s) if h["id"] != exclude]


async def departments(s: AsyncSession, hospital_id: int) -> list[dict]:
    return await queries.list_departments(s, hospital_id)


async def department(s: AsyncSession, department_id: int, hospital_id: int) -> Department:
    """A department of that hospital, else 404."""
    found = await s.get(Department, department_id)
    if found is None or found.hospital_id != hospital_id:
        raise DomainError("department_not_found", "该科室不存在或不属于所选医院 / no such department in this hospital",
                          status=404)
    return found


# English message ids of half-days, translated by the console catalog (a booking's status reads
# as ``core.booking.labels`` says it: ``status_label`` of every console page).
HALF_DAY_LABELS = {"am": "Morning", "pm": "Afternoon", "evening": "Evening"}
LABELS = {"half_days": HALF_DAY_LABELS}
