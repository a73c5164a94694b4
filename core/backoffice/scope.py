"""What every back-office service needs: rows found inside the caller's hospital, people shown
masked, and an actor turned into the label bookings record.

Services take an optional ``hospital_id``: the console passes the staff member's hospital, and
a row of another hospital is answered as missing. Operators of the whole city pass ``None``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.audit import Actor
from guahao.core.models import Booking, ClinicSession, Hospital, Period, SlotPool

from .errors import Missing


def actor_label(actor: Actor, role: str | None = None) -> str:
    """How bookings and their events name who acted: ``agent:12``, ``clinic:7``, ``staff:3``."""
    prefix = role or ("staff" if actor.kind == "staff" else actor.kind)
    return prefix if actor.id is None else f"{prefix}:{actor.id}"


def mask_name(name: str) -> str:
    """``张三`` → ``张*``, ``欧阳小明`` → ``欧***``: enough for staff to recognise on the phone."""
    name = name or ""
    return name[:1] + "*" * max(len(name) - 1, 0)


def mask_phone(phone: str) -> str:
    """``13800001234`` → ``138****1234`` (as the patient site's message log shows it)."""
    if len(phone or "") == 11:
        return f"{phone[:3]}****{phone[-4:]}"
    return "*" * len(phone or "")


def _in_hospital(row, hospital_id: int | None) -> bool:
    return row is not None and (hospital_id is None or row.hospital_id == hospital_id)


async def hospital(s: AsyncSession, hospital_id: int) -> Hospital:
    found = await s.scalar(select(Hospital).where(Hospital.id == hospital_id))
    if found is None:
        raise Missing("医院")
    return found


async def clinic_session(
    s: AsyncSession, session_id: int, hospital_id: int | None, *, lock: bool = False
) -> ClinicSession:
    """The session, locked for a change when ``lock``; another hospital's is missing."""
    stmt = select(ClinicSession).where(ClinicSession.id == session_id)
    if lock:
        stmt = stmt.with_for_update(key_share=True)
    cs = await s.scalar(stmt)
    if not _in_hospital(cs, hospital_id):
        raise Missing("出诊")
    return cs


async def period_with_session(s: AsyncSession, period_id: int, hospital_id: int | None) -> tuple[Period, ClinicSession]:
    row = (
        await s.execute(
            select(Period, ClinicSession).join(ClinicSession, ClinicSession.id == Period.session_id).where(Period.id == period_id)
        )
    ).first()
    if row is None or not _in_hospital(row[1], hospital_id):
        raise Missing("时段")
    return row[0], row[1]


async def booking(s: AsyncSession, booking_id: str, hospital_id: int | None) -> Booking:
    found = await s.scalar(select(Booking).where(Booking.id == booking_id))
    if not _in_hospital(found, hospital_id):
        raise Missing("预约")
    return found


async def pool(s: AsyncSession, pool_id: int, hospital_id: int | None, *, lock: bool = False) -> SlotPool:
    stmt = select(SlotPool).where(SlotPool.id == pool_id)
    if lock:
        stmt = stmt.with_for_update(key_share=True)
    found = await s.scalar(stmt)
    if found is None:
        raise Missing("号源池")
    if hospital_id is not None:
        owner = await s.scalar(select(ClinicSession.hospital_id).where(ClinicSession.id == found.session_id))
        if owner != hospital_id:
            raise Missing("号源池")
    return found
