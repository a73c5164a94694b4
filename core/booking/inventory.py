"""Units of inventory: taken and given back with one conditional UPDATE each, never by
reading a count and writing it back (R3.6). ``CHECK (booked <= capacity)`` stays the last
line of defence.

Periods whose public units came free are remembered on the session (``released_periods``)
so the caller can clear the sold-out gate after commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.models import Booking, SlotPool
from guahao.tenants.context import require_city

from .refs import new_booking_ref

_RELEASED = "guahao.released_periods"


# Core statements on the table, run on the session's connection: the hot path skips the
# ORM's per-statement work. They name the city themselves (the ORM wall adds it only to ORM
# statements); row-level security still applies on PostgreSQL.
_POOLS = SlotPool.__table__
_TAKE = (
    update(_POOLS)
    .where(_POOLS.c.id == bindparam("b_pool_id"), _POOLS.c.city_id == bindparam("b_city_id"), _POOLS.c.booked < _POOLS.c.capacity)
    .values(booked=_POOLS.c.booked + 1)
)
_GIVE_BACK = (
    update(_POOLS)
    .where(_POOLS.c.id == bindparam("b_pool_id"), _POOLS.c.city_id == bindparam("b_city_id"), _POOLS.c.booked > 0)
    .values(booked=_POOLS.c.booked - 1)
)


async def take_unit(s: AsyncSession, pool_id: int) -> bool:
    """Take one unit of the pool; ``False`` when none is left."""
    conn = await s.connection()
    result = await conn.execute(_TAKE, {"b_pool_id": pool_id, "b_city_id": require_city().id})
    return result.rowcount == 1


async def give_back_unit(s: AsyncSession, pool_id: int, period_id: int) -> None:
    """Return one unit to the pool it came from."""
    conn = await s.connection()
    await conn.execute(_GIVE_BACK, {"b_pool_id": pool_id, "b_city_id": require_city().id})
    mark_released(s, period_id)


def mark_released(s: AsyncSession, period_id: int) -> None:
    s.info.setdefault(_RELEASED, set()).add(period_id)


def released_periods(s: AsyncSession) -> set[int]:
    """Periods that got units back in this session's transaction (for the sold-out gate)."""
    return set(s.info.get(_RELEASED, ()))


def unit_booking(
    cs: Any, period: Any, *, pool_id: int, member_id: int, channel: str, status: str, now: datetime,
    created_by: str, **fields: Any,
) -> Booking:
    """A new booking of one unit of ``period``: what every booking copies from its session
    and period, plus ``fields`` (payment state, hold deadline, …)."""
    return Booking(
        id=new_booking_ref(),
        member_id=member_id,
        hospital_id=cs.hospital_id,
        department_id=cs.department_id,
        doctor_id=cs.doctor_id,
        session_id=cs.id,
        period_id=period.id,
        pool_id=pool_id,
        session_date=cs.date,
        starts_at=period.starts_at,
        ends_at=period.ends_at,
        channel=channel,
        status=status,
        fee_fen=cs.fee_fen,
        created_by=created_by[:80],
        created_at=now,
        updated_at=now,
        **fields,
    )
