"""The waitlist (候补, R3.8): join only when full, offers on release, accept / expire / decline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from guahao.core.booking import engine, service
from guahao.core.errors import DomainError
from guahao.core.models import Booking, BookingStatus, SlotPool, WaitlistEntry
from guahao.tenants.clock import frozen, utcnow
from guahao.tenants.context import use_city
from tests.factories import make_catalogue, make_city

from .helpers import booked, booking, event_kinds, make_member, make_members, outbox, reserve, run, set_member


async def fill(rt, city, cat, cs) -> list:
    """Book every public unit of a session (2 periods × 2 units) with fresh members."""
    made = []
    for period in cat.periods[cs.id]:
        for _ in range(cat.public_pool(period.id).capacity):
            made.append(await reserve(rt, city, await make_member(rt, city), period.id))
    return made


async def entry_of(rt, city, entry_id) -> WaitlistEntry:
    with use_city(city):
        async with rt.db.transaction() as s:
            return await s.get(WaitlistEntry, entry_id)


async def test_joining_needs_a_full_session(rt, city, catalogue):
    cs = catalogue.sessions[-1]
    member = await make_member(rt, city)
    with pytest.raises(DomainError) as err:
        await run(rt, city, engine.join_waitlist, member_id=member, session_id=cs.id)
    assert err.value.code == "waitlist_not_full"
    await fill(rt, city, catalogue, cs)
    entry = await run(rt, city, engine.join_waitlist, member_id=member, session_id=cs.id)
    assert entry.status == "waiting"
    with pytest.raises(DomainError) as err:
        await run(rt, city, engine.join_waitlist, member_id=member, session_id=cs.id)
    assert err.value.code == "already_waiting"


async def test_who_may_not_join(rt, city, catalogue):
    cs = catalogue.sessions[-1]
    holders = await fill(rt, city, catalogue, cs)
    with pytest.raises(DomainError) as err:
        await run(rt, city, engine.join_waitlist, member_id=holders[0].member_id, session_id=cs.id)
    assert err.value.code == "duplicate_session"
    suspended = await make_member(rt, city, suspended_until=utcnow() + timedelta(days=3))
    with pytest.raises(DomainError) as err:
        await run(rt, city, engine.join_waitlist, member_id=suspended, session_id=cs.id)
    assert err.value.code == "credit_suspended"
    with pytest.raises(DomainError) as err:
        await run(rt, city, engine.join_waitlist, member_id=suspended, session_id=10**9)
    assert err.value.code == "not_found"


async def test_waitlist_is_closed_before_release_and_after_the_last_period(rt, city, catalogue):
    cs = catalogue.sessions[-1]
    member = await make_member(rt, city)
    with frozen(cs.release_at - timedelta(seconds=1)):
        with pytest.raises(DomainError) as err:
            await run(rt, city, engine.join_waitlist, member_id=member, session_id=cs.id)
    assert err.value.code == "outside_window"
    with frozen(cs.ends_at):
        with pytest.raises(DomainError) as err:
            await run(rt, city, engine.join_waitlist, member_id=member, session_id=cs.id)
    assert err.value.code == "outside_window"


async def test_a_cancelled_unit_is_offered_to_the_first_waiter_who_accepts(rt, city, catalogue):
    cs = catalogue.sessions[-1]
    holders = await fill(rt, city, catalogue, cs)
    first, second = await make_members(rt, city, 2)
    e1 = await run(rt, city, engine.join_waitlist, member_id=first, session_id=cs.id)
    e2 = await run(rt, city, engine.join_waitlist, member_id=second, session_id=cs.id)
    with use_city(city):
        view = await service.list_waitlist(rt, member_id=second)
    assert [(v["id"], v["position"]) for v in view] == [(e2.id, 2)]

    freed = holders[0]
    pool_id = freed.pool_id
    now = utcnow().replace(microsecond=0)
    with frozen(now):
        await run(rt, city, engine.cancel, freed.id, enforce_cutoff=False)
    assert await booked(rt, city, pool_id) == 2  # the unit went straight to the offer
    e1 = await entry_of(rt, city, e1.id)
    assert e1.status == "offered" and e1.offer_expires_at == now + timedelta(minutes=city.rules.waitlist_offer_minutes)
    offer = await booking(rt, city, e1.offered_booking_id)
    assert (offer.status, offer.member_id, offer.period_id, offer.channel) == ("offered", first, freed.period_id, "waitlist")
    assert offer.hold_expires_at == e1.offer_expires_at
    assert await event_kinds(rt, city, offer.id) == ["offered"]
    notes = await outbox(rt, city, offer.id, "notify")
    assert [n.payload["kind"] for n in notes] == ["waitlist_offer"]
    assert notes[0].payload["data"]["offer_expires_at"] == e1.offer_expires_at.isoformat()
    expiry = await outbox(rt, city, offer.id, "booking.offer_expiry")
    assert len(expiry) == 1 and expiry[0].due_at == offer.hold_expires_at
    assert (await entry_of(rt, city, e2.id)).status == "waiting"

    with use_city(city):
        body = await service.accept_offer(rt, member_id=first, booking_id=offer.id)
    assert body["status"] == "confirmed"
    assert (await entry_of(rt, city, e1.id)).status == "accepted"
    assert await event_kinds(rt, city, offer.id) == ["offered", "confirmed"]
    assert await booked(rt, city, pool_id) == 2


async def test_an_unaccepted_offer_passes_to_the_next_and_then_to_the_pool(rt, city, catalogue):
    cs = catalogue.sessions[-1]
    holders = await fill(rt, city, catalogue, cs)
    first, second = await make_members(rt, city, 2)
    e1 = await run(rt, city, engine.join_waitlist, member_id=first, session_id=cs.id)
    e2 = await run(rt, city, engine.join_waitlist, member_id=second, session_id=cs.id)
    pool_id = holders[0].pool_id
    await run(rt, city, engine.cancel, holders[0].id, enforce_cutoff=False)
    offer1 = await booking(rt, city, (await entry_of(rt, city, e1.id)).offered_booking_id)
    # Not due yet: nothing happens.
    with frozen(offer1.hold_expires_at - timedelta(seconds=1)):
        assert await run(rt, city, engine.expire_offer, offer1.id) is None
    with frozen(offer1.hold_expires_at):
        expired = await run(rt, city, engine.expire_offer, offer1.id)
        with pytest.raises(DomainError) as err:
            await run(rt, city, engine.accept_offer, offer1.id, member_id=first)
    assert err.value.code == "offer_expired"
    assert expired.status == BookingStatus.expired
    assert (await entry_of(rt, city, e1.id)).status == "expired"
    e2 = await entry_of(rt, city, e2.id)
    assert e2.status == "offered"
    offer2 = await booking(rt, city, e2.offered_booking_id)
    assert offer2.member_id == second and await booked(rt, city, pool_id) == 2
    # Nobody else waits: the unit goes back to the pool.
    with frozen(offer2.hold_expires_at + timedelta(seconds=1)):
        await run(rt, city, engine.expire_offer, offer2.id)
    assert await booked(rt, city, pool_id) == 1
    assert (await booking(rt, city, offer2.id)).status == "expired"


async def test_accepting_after_the_deadline_but_before_the_sweep_is_refused(rt, city, catalogue):
    cs = catalogue.sessions[-1]
    holders = await fill(rt, city, catalogue, cs)
    waiter = await make_member(rt, city)
    e = await run(rt, city, engine.join_waitlist, member_id=waiter, session_id=cs.id)
    await run(rt, city, engine.cancel, holders[0].id, enforce_cutoff=False)
    offer_id = (await entry_of(rt, city, e.id)).offered_booking_id
    offer = await booking(rt, city, offer_id)
    with frozen(offer.hold_expires_at):
        with pytest.raises(DomainError) as err:
            await run(rt, city, engine.accept_offer, offer_id, member_id=waiter)
    assert err.value.code == "offer_expired"
    with pytest.raises(DomainError) as err:
        await run(rt, city, engine.accept_offer, offer_id, member_id=holders[1].member_id)
    assert err.value.code == "not_found"


async def test_accepting_rechecks_the_members_rules(rt, city, catalogue):
    cs = catalogue.sessions[-1]
    holders = await fill(rt, city, catalogue, cs)
    waiter = await make_member(rt, city)
    e = await run(rt, city, engine.join_waitlist, member_id=waiter, session_id=cs.id)
    # Meanwhile the waiter took two other bookings: at the limit.
    await reserve(rt, city, waiter, catalogue.periods[catalogue.sessions[0].id][0].id)
    await reserve(rt, city, waiter, catalogue.periods[catalogue.sessions[1].id][0].id)
    await run(rt, city, engine.cancel, holders[0].id, enforce_cutoff=False)
    offer_id = (await entry_of(rt, city, e.id)).offered_booking_id
    with pytest.raises(DomainError) as err:
        await run(rt, city, engine.accept_offer, offer_id, member_id=waiter)
    assert err.value.code == "too_many_active"
    assert (await booking(rt, city, offer_id)).status == "offered"


async def test_online_hospitals_hold_an_accepted_offer_for_payment(rt, city):
    cat = await make_catalogue(rt, city, payment_mode="online")
    cs = cat.sessions[-1]
    holders = await fill(rt, city, cat, cs)
    waiter = await make_member(rt, city)
    e = await run(rt, city, engine.join_waitlist, member_id=waiter, session_id=cs.id)
    await run(rt, city, engine.cancel, holders[0].id)
    offer_id = (await entry_of(rt, city, e.id)).offered_booking_id
    accepted = await run(rt, city, engine.accept_offer, offer_id, member_id=waiter)
    assert accepted.status == "pending_payment" and accepted.payment_status == "unpaid"
    assert len(await outbox(rt, city, offer_id, "booking.hold_expiry")) == 1


async def test_leaving_with_an_offer_declines_it(rt, city, catalogue):
    cs = catalogue.sessions[-1]
    holders = await fill(rt, city, catalogue, cs)
    first, second = await make_members(rt, city, 2)
    e1 = await run(rt, city, engine.join_waitlist, member_id=first, session_id=cs.id)
    e2 = await run(rt, city, engine.join_waitlist, member_id=second, session_id=cs.id)
    await run(rt, city, engine.cancel, holders[0].id, enforce_cutoff=False)
    offer1 = (await entry_of(rt, city, e1.id)).offered_booking_id
    with pytest.raises(DomainError) as err:
        await run(rt, city, engine.leave_waitlist, member_id=second, entry_id=e1.id)
    assert err.value.code == "not_found"
    with use_city(city):
        body = await service.leave_waitlist(rt, member_id=first, entry_id=e1.id)
    assert body["status"] == "cancelled"
    assert (await booking(rt, city, offer1)).status == "cancelled"
    assert (await entry_of(rt, city, e2.id)).status == "offered"
    # A waiting member leaves quietly; leaving twice is an invalid state.
    third = await make_member(rt, city)
    e3 = await run(rt, city, engine.join_waitlist, member_id=third, session_id=cs.id)
    left = await run(rt, city, engine.leave_waitlist, member_id=third, entry_id=e3.id)
    assert left.status == "cancelled"
    with pytest.raises(DomainError) as err:
        await run(rt, city, engine.leave_waitlist, member_id=third, entry_id=e3.id)
    assert err.value.code == "invalid_state"


async def test_declining_by_cancelling_the_offer_passes_it_on(rt, city, catalogue):
    cs = catalogue.sessions[-1]
    holders = await fill(rt, city, catalogue, cs)
    first, second = await make_members(rt, city, 2)
    e1 = await run(rt, city, engine.join_waitlist, member_id=first, session_id=cs.id)
    e2 = await run(rt, city, engine.join_waitlist, member_id=second, session_id=cs.id)
    await run(rt, city, engine.cancel, holders[0].id, enforce_cutoff=False)
    offer1 = (await entry_of(rt, city, e1.id)).offered_booking_id
    await run(rt, city, engine.cancel, offer1, member_id=first)
    assert (await entry_of(rt, city, e1.id)).status == "cancelled"
    assert (await entry_of(rt, city, e2.id)).status == "offered"


async def test_suspended_or_booked_waiters_leave_the_queue_when_a_unit_frees(rt, city, catalogue):
    cs = catalogue.sessions[-1]
    holders = await fill(rt, city, catalogue, cs)
    suspended, booked_meanwhile, ready = await make_members(rt, city, 3)
    e1 = await run(rt, city, engine.join_waitlist, member_id=suspended, session_id=cs.id)
    e2 = await run(rt, city, engine.join_waitlist, member_id=booked_meanwhile, session_id=cs.id)
    e3 = await run(rt, city, engine.join_waitlist, member_id=ready, session_id=cs.id)
    await set_member(rt, city, suspended, suspended_until=utcnow() + timedelta(days=30))
    # The second waiter got a unit some other way (staff booking in the on-site flow, say).
    with use_city(city):
        async with rt.db.transaction() as s:
            b = await s.get(Booking, holders[0].id)
            b.member_id = booked_meanwhile
    await run(rt, city, engine.cancel, holders[1].id, enforce_cutoff=False)
    assert (await entry_of(rt, city, e1.id)).status == "cancelled"
    assert (await entry_of(rt, city, e2.id)).status == "cancelled"
    assert (await entry_of(rt, city, e3.id)).status == "offered"


async def test_no_offer_when_the_period_closes_first(rt):
    city = await make_city(rt, "wl-" + utcnow().strftime("%H%M%S%f"), waitlist_offer_minutes=60)
    cat = await make_catalogue(rt, city, periods=1, capacity=1)
    cs = cat.sessions[-1]
    period = cat.periods[cs.id][0]
    holder = await reserve(rt, city, await make_member(rt, city), period.id)
    waiter = await make_member(rt, city)
    e = await run(rt, city, engine.join_waitlist, member_id=waiter, session_id=cs.id)
    # 20 minutes before the start: the offer deadline is capped at the start of the period.
    with frozen(period.starts_at - timedelta(minutes=20)):
        await run(rt, city, engine.cancel, holder.id, enforce_cutoff=False)
    entry = await entry_of(rt, city, e.id)
    assert entry.status == "offered" and entry.offer_expires_at == period.starts_at


async def test_reserved_pools_released_to_public_go_to_waiters_first(rt, city):
    cat = await make_catalogue(rt, city, periods=1, capacity=1, extra_pools={"onsite": 2})
    cs = cat.sessions[-1]
    period = cat.periods[cs.id][0]
    await reserve(rt, city, await make_member(rt, city), period.id)
    waiter = await make_member(rt, city)
    e = await run(rt, city, engine.join_waitlist, member_id=waiter, session_id=cs.id)
    with use_city(city):
        async with rt.db.transaction() as s:
            onsite = await s.scalar(select(SlotPool).where(SlotPool.period_id == period.id, SlotPool.pool == "onsite"))
            onsite.release_to_public_at = utcnow() - timedelta(minutes=1)
    with use_city(city):
        moved = await service.release_reserved_pools(rt)
    assert moved == 2
    public = cat.public_pool(period.id)
    with use_city(city):
        async with rt.db.transaction() as s:
            pools = {p.pool: p for p in (await s.scalars(select(SlotPool).where(SlotPool.period_id == period.id))).all()}
    assert (pools["public"].capacity, pools["public"].booked) == (3, 2)
    assert (pools["onsite"].capacity, pools["onsite"].booked, pools["onsite"].release_to_public_at) == (0, 0, None)
    assert public.id == pools["public"].id
    assert (await entry_of(rt, city, e.id)).status == "offered"
    # Running it again moves nothing.
    with use_city(city):
        assert await service.release_reserved_pools(rt) == 0
