"""No overbooking and no double booking under real concurrency (R3.1, R3.2, R3.6, R3.7).

Each task runs its own transaction on its own connection (``asyncio.gather`` against ``rt.db``),
so PostgreSQL sees truly simultaneous requests.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import func, select

from guahao.core.booking import engine, service
from guahao.core.errors import DomainError
from guahao.core.models import HOLDING, Booking, SlotPool
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from tests.factories import make_catalogue, make_city

from .helpers import make_member, make_members

REFUSALS = {"slot_full", "duplicate_session", "too_many_active"}


async def attempt(coro_fn) -> str:
    """Run one request; the outcome is ``ok`` or the refusal's code."""
    try:
        await coro_fn()
        return "ok"
    except DomainError as exc:
        return exc.code


def booker(rt, city, member_id, period_id, *, via_service: bool, key: str | None = None):
    async def go():
        with use_city(city):
            if via_service:
                return await service.book(rt, member_id=member_id, period_id=period_id, channel="app", idempotency_key=key)
            async with rt.db.transaction() as s:
                return await engine.reserve(s, member_id=member_id, period_id=period_id, channel="app")

    return go


async def inventory(rt, city, period_id) -> tuple[int, int, int]:
    """(capacity, booked, holding bookings) of a period's public pool."""
    with use_city(city):
        async with rt.db.transaction() as s:
            pool = await s.scalar(select(SlotPool).where(SlotPool.period_id == period_id, SlotPool.pool == "public"))
            holding = await s.scalar(
                select(func.count()).select_from(Booking).where(Booking.pool_id == pool.id, Booking.status.in_(HOLDING))
            )
            return pool.capacity, pool.booked, holding


@pytest.mark.parametrize("via_service", [False, True], ids=["engine", "service"])
async def test_many_members_race_for_the_last_units(rt, pg_only, via_service):
    city = await make_city(rt, f"race-{via_service:d}-" + utcnow().strftime("%H%M%S%f"))
    cat = await make_catalogue(rt, city, days_ahead=1, periods=1, capacity=3)
    period = cat.periods[cat.sessions[0].id][0]
    members = await make_members(rt, city, 60)
    await rt.gate.clear(city.id, period.id)
    outcomes = await asyncio.gather(*(attempt(booker(rt, city, m, period.id, via_service=via_service)) for m in members))
    counts = Counter(outcomes)
    assert counts["ok"] == 3, counts
    assert set(counts) <= {"ok", "slot_full"}
    assert await inventory(rt, city, period.id) == (3, 3, 3)
    await rt.gate.clear(city.id, period.id)


async def test_a_member_racing_themself_gets_one_booking(rt, pg_only):
    city = await make_city(rt, "self-" + utcnow().strftime("%H%M%S%f"))
    cat = await make_catalogue(rt, city, days_ahead=1, periods=2, capacity=20)
    cs = cat.sessions[0]
    member = await make_member(rt, city)
    periods = cat.periods[cs.id]
    calls = [booker(rt, city, member, periods[i % 2].id, via_service=i % 3 == 0) for i in range(20)]
    outcomes = Counter(await asyncio.gather(*(attempt(c) for c in calls)))
    assert outcomes["ok"] == 1 and set(outcomes) <= {"ok", "duplicate_session"}, outcomes
    with use_city(city):
        async with rt.db.transaction() as s:
            mine = (await s.scalars(select(Booking).where(Booking.member_id == member))).all()
    assert len(mine) == 1
    booked = [await inventory(rt, city, p.id) for p in periods]
    assert sum(b for _, b, _ in booked) == 1 and all(b == h for _, b, h in booked)


async def test_the_same_key_sent_twenty_times_at_once_books_once(rt, pg_only):
    city = await make_city(rt, "idem-" + utcnow().strftime("%H%M%S%f"))
    cat = await make_catalogue(rt, city, days_ahead=1, periods=1, capacity=20)
    period = cat.periods[cat.sessions[0].id][0]
    member = await make_member(rt, city)

    async def go():
        with use_city(city):
            return await service.book(rt, member_id=member, period_id=period.id, channel="app", idempotency_key="tap-twice")

    results = await asyncio.gather(*(go() for _ in range(20)))
    assert len({body["id"] for body, _, _ in results}) == 1
    assert all(status == 201 for _, status, _ in results)
    assert sum(1 for _, _, replayed in results if not replayed) == 1
    assert (await inventory(rt, city, period.id))[1:] == (1, 1)


async def test_a_member_racing_for_many_sessions_stays_within_the_limit(rt, pg_only):
    city = await make_city(rt, "lim-" + utcnow().strftime("%H%M%S%f"))
    cat = await make_catalogue(rt, city, days_ahead=4, periods=1, capacity=5)
    member = await make_member(rt, city)
    calls = [booker(rt, city, member, cat.periods[cs.id][0].id, via_service=False) for cs in cat.sessions for _ in range(2)]
    outcomes = Counter(await asyncio.gather(*(attempt(c) for c in calls)))
    limit = city.rules.max_active_bookings
    assert outcomes["ok"] == limit and set(outcomes) <= {"ok", "too_many_active", "duplicate_session"}, outcomes
    with use_city(city):
        async with rt.db.transaction() as s:
            active = await s.scalar(select(func.count()).select_from(Booking).where(Booking.member_id == member))
            total_booked = await s.scalar(select(func.sum(SlotPool.booked)))
    assert active == limit and total_booked == limit


async def test_cancel_and_book_at_once_never_overbook(rt, pg_only):
    city = await make_city(rt, "cxl-" + utcnow().strftime("%H%M%S%f"))
    cat = await make_catalogue(rt, city, days_ahead=1, periods=1, capacity=5)
    period = cat.periods[cat.sessions[0].id][0]
    holders = await make_members(rt, city, 5)
    made = []
    for m in holders:
        with use_city(city):
            async with rt.db.transaction() as s:
                made.append(await engine.reserve(s, member_id=m, period_id=period.id, channel="app"))
    newcomers = await make_members(rt, city, 30)

    def canceller(b):
        async def go():
            with use_city(city):
                async with rt.db.transaction() as s:
                    return await engine.cancel(s, b.id, enforce_cutoff=False)

        return go

    calls = [canceller(b) for b in made[:3]] + [booker(rt, city, m, period.id, via_service=False) for m in newcomers]
    outcomes = Counter(await asyncio.gather(*(attempt(c) for c in calls)))
    capacity, booked, holding = await inventory(rt, city, period.id)
    assert booked == holding <= capacity
    assert outcomes["ok"] - 3 <= 3  # at most the three freed units went to newcomers
    assert set(outcomes) <= {"ok", "slot_full"}


async def test_waitlist_offers_and_bookings_race_without_overbooking(rt, pg_only):
    city = await make_city(rt, "wlr-" + utcnow().strftime("%H%M%S%f"))
    cat = await make_catalogue(rt, city, days_ahead=1, periods=1, capacity=4)
    cs = cat.sessions[0]
    period = cat.periods[cs.id][0]
    holders = await make_members(rt, city, 4)
    made = []
    for m in holders:
        with use_city(city):
            async with rt.db.transaction() as s:
                made.append(await engine.reserve(s, member_id=m, period_id=period.id, channel="app"))
    waiters = await make_members(rt, city, 3)
    for w in waiters:
        with use_city(city):
            async with rt.db.transaction() as s:
                await engine.join_waitlist(s, member_id=w, session_id=cs.id)
    newcomers = await make_members(rt, city, 10)

    def canceller(b):
        async def go():
            with use_city(city):
                async with rt.db.transaction() as s:
                    return await engine.cancel(s, b.id, enforce_cutoff=False)

        return go

    calls = [canceller(b) for b in made] + [booker(rt, city, m, period.id, via_service=False) for m in newcomers]
    outcomes = Counter(await asyncio.gather(*(attempt(c) for c in calls)))
    capacity, booked, holding = await inventory(rt, city, period.id)
    assert booked == holding <= capacity
    with use_city(city):
        async with rt.db.transaction() as s:
            offered = await s.scalar(
                select(func.count()).select_from(Booking).where(Booking.session_id == cs.id, Booking.status == "offered")
            )
    # Three of the four freed units went to the three waiters; only the fourth reached the pool.
    assert offered == 3
    assert outcomes["ok"] - 4 <= 1 and holding == offered + outcomes["ok"] - 4


async def test_one_key_for_different_requests_at_once_books_once(rt, pg_only):
    city = await make_city(rt, "reuse-" + utcnow().strftime("%H%M%S%f"))
    cat = await make_catalogue(rt, city, days_ahead=3, periods=1, capacity=5)
    member = await make_member(rt, city)
    periods = [cat.periods[cs.id][0].id for cs in cat.sessions[:4]]

    def go(period_id):
        return booker(rt, city, member, period_id, via_service=True, key="one-key")

    outcomes = Counter(await asyncio.gather(*(attempt(go(p)) for p in periods for _ in range(3))))
    assert outcomes["ok"] >= 1 and set(outcomes) <= {"ok", "idempotency_key_reused"}, outcomes
    with use_city(city):
        async with rt.db.transaction() as s:
            mine = (await s.scalars(select(Booking).where(Booking.member_id == member))).all()
            total_booked = await s.scalar(select(func.sum(SlotPool.booked)))
    assert len(mine) == 1 and total_booked == 1
    # Every "ok" is the one booking: the winner and the replays of the same request.
    assert outcomes["ok"] <= 3
