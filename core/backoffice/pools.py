"""Editing a session's inventory (R2.4, R11.1): pool capacities of a period, and releasing a
reserved pool's unused units to the public pool now rather than at its release time.

Capacities never drop below what is booked (``capacity_below_booked``); new public units go
to the waitlist first, as units freed any other way do.
"""

from __future__ import annotations

from sqlalchemy import select

from guahao.core import audit
from guahao.core.audit import Actor
from guahao.core.booking import engine
from guahao.core.booking.inventory import mark_released, released_periods
from guahao.core.booking.labels import pool_label
from guahao.core.booking.service import clear_gate
from guahao.core.booking.waitlist import offer_units
from guahao.core.models import PoolKind, SessionStatus, SlotPool
from guahao.tenants.clock import utcnow
from guahao.tenants.context import require_city

from . import errors, scope


async def set_capacities(
    rt, period_id: int, capacities: dict[str, int], *, actor: Actor, hospital_id: int | None = None
) -> dict[str, int]:
    """Set the capacity of some pools of a period (a missing pool is created); returns every
    pool's capacity afterwards."""
    city = require_city()
    wanted: dict[PoolKind, int] = {}
    for name, value in capacities.items():
        if name not in PoolKind.__members__ or not isinstance(value, int) or value < 0:
            raise errors.invalid("capacities", "号源数应为不小于 0 的整数。", code="invalid_capacity")
        wanted[PoolKind(name)] = value
    async with rt.db.transaction() as s:
        period, cs = await scope.period_with_session(s, period_id, hospital_id)
        if cs.status != SessionStatus.open:
            raise errors.session_changed(cs.id, str(cs.status))
        pools = {
            p.pool: p
            for p in (await s.scalars(
                select(SlotPool).where(SlotPool.period_id == period.id).with_for_update(key_share=True))).all()
        }
        before = {str(k): p.capacity for k, p in pools.items()}
        for kind, value in wanted.items():
            pool = pools.get(kind)
            if pool is None:
                pool = pools[kind] = SlotPool(period_id=period.id, session_id=cs.id, pool=kind, capacity=0)
                s.add(pool)
            if value < pool.booked:
                raise errors.below_booked(str(kind), pool.booked, value)
            grew = value - pool.capacity
            pool.capacity = value
            await s.flush()
            if kind == PoolKind.public and grew > 0:
                mark_released(s, period.id)
                await offer_units(s, session_id=cs.id, period_id=period.id, pool_id=pool.id, now=utcnow(), limit=grew)
        after = {str(k): p.capacity for k, p in pools.items()}
        audit.record(s, actor, "pool.capacity", target_type="period", target_id=period.id,
                     summary=f"调整号源数：出诊 {cs.id} {period.start:%H:%M}", before=before, after=after)
        freed = released_periods(s)
    await clear_gate(rt, city, freed)
    return after


async def release_to_public(
    rt, period_id: int, pool: str, *, actor: Actor, hospital_id: int | None = None
) -> int:
    """Move a reserved pool's unused units into the public pool of its period now (R2.4);
    returns the units moved."""
    city = require_city()
    if pool not in PoolKind.__members__ or pool == PoolKind.public:
        raise errors.invalid("pool", "只能释放现场、诊间或转诊号源池。", code="invalid_pool")
    async with rt.db.transaction() as s:
        period, cs = await scope.period_with_session(s, period_id, hospital_id)
        if cs.status != SessionStatus.open:
            raise errors.session_changed(cs.id, str(cs.status))
        reserved = await s.scalar(
            select(SlotPool).where(SlotPool.period_id == period.id, SlotPool.pool == pool).with_for_update(key_share=True)
        )
        if reserved is None or reserved.capacity <= reserved.booked:
            raise errors.nothing_to_release(pool)
        now = utcnow()
        reserved.release_to_public_at = now
        await s.flush()
        moved = await engine.release_reserved_pools(s, now=now, pool_ids=[reserved.id])
        audit.record(s, actor, "pool.release", target_type="period", target_id=period.id,
                     summary=f"释放{pool_label(pool)} {moved} 个到公开号源", after={"pool": pool, "moved": moved})
        freed = released_periods(s)
    await clear_gate(rt, city, freed)
    return moved
