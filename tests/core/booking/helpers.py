"""Small builders for booking tests: members inserted directly, bookings made through the engine."""

from __future__ import annotations

import itertools
import secrets
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from guahao.core.booking import engine
from guahao.core.models import Booking, BookingEvent, ClinicSession, Member, OutboxMessage, SlotPool
from guahao.tenants.context import CityContext, use_city

_phones = itertools.count(13_000_000_000 + secrets.randbelow(10**8))


async def make_member(rt, city: CityContext, *, name: str = "张三", suspended_until: datetime | None = None) -> int:
    """A member row with fake identity hashes (the members service is not needed here)."""
    token = secrets.token_hex(16)
    with use_city(city):
        async with rt.db.transaction() as s:
            m = Member(
                name=name,
                id_number_encrypted="enc:" + token,
                id_number_hash=token,
                id_number_masked="1101**********1234",
                birth_date=date(1990, 1, 1),
                sex="M",
                phone=str(next(_phones)),
                password_hash="fake",
                suspended_until=suspended_until,
            )
            s.add(m)
            await s.flush()
            return m.id


async def make_members(rt, city: CityContext, n: int) -> list[int]:
    return [await make_member(rt, city, name=f"患者{i}") for i in range(n)]


async def reserve(rt, city: CityContext, member_id: int, period_id: int, **kw) -> Booking:
    """``engine.reserve`` in a transaction of its own."""
    kw.setdefault("channel", "web")
    with use_city(city):
        async with rt.db.transaction() as s:
            return await engine.reserve(s, member_id=member_id, period_id=period_id, **kw)


async def run(rt, city: CityContext, fn, *args, **kw):
    """Any engine function in a transaction of its own."""
    with use_city(city):
        async with rt.db.transaction() as s:
            return await fn(s, *args, **kw)


async def booking(rt, city: CityContext, booking_id: str) -> Booking:
    with use_city(city):
        async with rt.db.transaction() as s:
            return await s.get(Booking, booking_id)


async def booked(rt, city: CityContext, pool_id: int) -> int:
    with use_city(city):
        async with rt.db.transaction() as s:
            return await s.scalar(select(SlotPool.booked).where(SlotPool.id == pool_id))


async def holding_count(rt, city: CityContext, period_id: int) -> int:
    from guahao.core.models import HOLDING

    with use_city(city):
        async with rt.db.transaction() as s:
            return await s.scalar(
                select(func.count()).select_from(Booking).where(Booking.period_id == period_id, Booking.status.in_(HOLDING))
            )


async def event_kinds(rt, city: CityContext, booking_id: str) -> list[str]:
    with use_city(city):
        async with rt.db.transaction() as s:
            rows = await s.scalars(
                select(BookingEvent.kind).where(BookingEvent.booking_id == booking_id).order_by(BookingEvent.id)
            )
            return list(rows)


async def outbox(rt, city: CityContext, booking_id: str, topic: str | None = None) -> list[OutboxMessage]:
    """Outbox rows about one booking (``booking_id`` in the payload)."""
    with use_city(city):
        async with rt.db.transaction() as s:
            stmt = select(OutboxMessage).order_by(OutboxMessage.id)
            if topic:
                stmt = stmt.where(OutboxMessage.topic == topic)
            rows = (await s.scalars(stmt)).all()
    return [r for r in rows if r.payload.get("booking_id") == booking_id]


async def set_session(rt, city: CityContext, session_id: int, **values) -> None:
    with use_city(city):
        async with rt.db.transaction() as s:
            cs = await s.get(ClinicSession, session_id)
            for k, v in values.items():
                setattr(cs, k, v)


async def set_member(rt, city: CityContext, member_id: int, **values) -> None:
    with use_city(city):
        async with rt.db.transaction() as s:
            m = await s.get(Member, member_id)
            for k, v in values.items():
                setattr(m, k, v)


def just_before(at: datetime) -> datetime:
    return at - timedelta(seconds=1)
