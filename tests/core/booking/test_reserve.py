"""reserve: inventory, the member's rules, the window, payment modes and what a booking leaves behind."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError

from guahao.core.booking import engine
from guahao.core.booking.refs import is_booking_ref
from guahao.core.errors import DomainError
from guahao.core.models import Booking, BookingStatus, SlotPool
from guahao.tenants.clock import frozen, utcnow
from guahao.tenants.context import use_city
from tests.factories import make_catalogue, make_city

from .helpers import booked, event_kinds, make_member, make_members, outbox, reserve, set_member, set_session


async def test_at_hospital_booking_is_confirmed_and_takes_one_unit(rt, city, catalogue):
    cs = catalogue.sessions[0]
    period = catalogue.periods[cs.id][0]
    pool = catalogue.public_pool(period.id)
    member = await make_member(rt, city)
    b = await reserve(rt, city, member, period.id)
    assert b.status == BookingStatus.confirmed
    assert b.payment_status == "none" and b.hold_expires_at is None
    assert (b.session_id, b.period_id, b.pool_id, b.fee_fen) == (cs.id, period.id, pool.id, 5000)
    assert is_booking_ref(b.id)
    assert await booked(rt, city, pool.id) == 1
    assert await event_kinds(rt, city, b.id) == ["created", "confirmed"]
    topics = [(m.topic, m.payload.get("kind") or m.payload.get("action")) for m in await outbox(rt, city, b.id)]
    assert ("booking.event", "created") in topics and ("booking.event", "confirmed") in topics
    assert ("notify", "booking_confirmed") in topics
    assert ("notify", "reminder_30min") in topics
    assert ("his.push", "book") in topics


async def test_reminders_are_due_the_evening_before_and_30_minutes_before(rt, city, catalogue):
    cs = catalogue.sessions[-1]  # three days ahead: both reminders are still to come
    b = await reserve(rt, city, await make_member(rt, city), catalogue.periods[cs.id][0].id)
    due = {m.payload["kind"]: m.due_at for m in await outbox(rt, city, b.id, "notify")}
    assert due["reminder_30min"] == b.starts_at - timedelta(minutes=30)
    evening = due["reminder_day_before"].astimezone(city.tz)
    assert (evening.date(), evening.hour, evening.minute) == (b.session_date - timedelta(days=1), 18, 0)
    assert due["booking_confirmed"] <= utcnow()


async def test_reminders_already_past_are_not_planned(rt, city, catalogue):
    period = catalogue.periods[catalogue.sessions[0].id][0]
    with frozen(period.starts_at - timedelta(minutes=20)):
        b = await reserve(rt, city, await make_member(rt, city), period.id)
    kinds = [m.payload["kind"] for m in await outbox(rt, city, b.id, "notify")]
    assert kinds == ["booking_confirmed"]


async def test_online_payment_holds_the_unit_and_plans_the_hold_expiry(rt, city):
    cat = await make_catalogue(rt, city, payment_mode="online")
    period = cat.periods[cat.sessions[0].id][0]
    member = await make_member(rt, city)
    start = utcnow().replace(microsecond=0)
    with frozen(start):
        b = await reserve(rt, city, member, period.id)
    assert b.status == BookingStatus.pending_payment and b.payment_status == "unpaid"
    assert b.hold_expires_at == start + timedelta(minutes=city.rules.hold_minutes)
    assert await event_kinds(rt, city, b.id) == ["created", "held"]
    expiry = await outbox(rt, city, b.id, "booking.hold_expiry")
    assert len(expiry) == 1 and expiry[0].due_at == b.hold_expires_at
    assert not await outbox(rt, city, b.id, "his.push")  # the HIS hears of it once paid
    notes = [m.payload["kind"] for m in await outbox(rt, city, b.id, "notify")]
    assert notes == ["booking_pending_payment"]


async def test_the_last_unit_goes_once_then_slot_full(rt, city, catalogue):
    period = catalogue.periods[catalogue.sessions[0].id][0]
    pool = catalogue.public_pool(period.id)
    a, b, c = await make_members(rt, city, 3)
    await reserve(rt, city, a, period.id)
    await reserve(rt, city, b, period.id)
    with pytest.raises(DomainError) as err:
        await reserve(rt, city, c, period.id)
    assert err.value.code == "slot_full" and err.value.status == 409
    assert "候补" in err.value.message
    assert await booked(rt, city, pool.id) == pool.capacity == 2


async def test_one_booking_per_member_per_session(rt, city, catalogue):
    cs = catalogue.sessions[0]
    first, second = catalogue.periods[cs.id]
    member = await make_member(rt, city)
    await reserve(rt, city, member, first.id)
    with pytest.raises(DomainError) as err:
        await reserve(rt, city, member, second.id)
    assert err.value.code == "duplicate_session"
    assert err.value.details["session_id"] == cs.id
    assert await booked(rt, city, catalogue.public_pool(second.id).id) == 0


async def test_the_database_itself_refuses_a_second_holding_booking(rt, city, catalogue):
    cs = catalogue.sessions[0]
    first, second = catalogue.periods[cs.id]
    member = await make_member(rt, city)
    b = await reserve(rt, city, member, first.id)
    with use_city(city):
        with pytest.raises(IntegrityError):
            async with rt.db.transaction() as s:
                twin = await s.get(Booking, b.id)
                s.expunge(twin)
                data = {c.name: getattr(twin, c.name) for c in Booking.__table__.columns}
                data.update(id="GHAAAAAAAAAAAAAAAA", period_id=second.id)
                s.add(Booking(**data))


async def test_the_database_refuses_overbooking(rt, city, catalogue):
    pool = catalogue.public_pool(catalogue.periods[catalogue.sessions[0].id][0].id)
    with use_city(city):
        with pytest.raises(IntegrityError):
            async with rt.db.transaction() as s:
                await s.execute(update(SlotPool).where(SlotPool.id == pool.id).values(booked=SlotPool.capacity + 1))


async def test_active_bookings_limit_counts_only_future_pending_and_confirmed(rt, city, catalogue):
    member = await make_member(rt, city)
    day1_a, day1_b, day2_a = catalogue.sessions[0], catalogue.sessions[1], catalogue.sessions[2]
    b1 = await reserve(rt, city, member, catalogue.periods[day1_a.id][0].id)
    await reserve(rt, city, member, catalogue.periods[day1_b.id][0].id)
    with pytest.raises(DomainError) as err:
        await reserve(rt, city, member, catalogue.periods[day2_a.id][0].id)
    assert err.value.code == "too_many_active"
    assert err.value.details == {"limit": 2, "active": 2}
    # A cancelled booking no longer counts.
    await cancel_now(rt, city, b1.id)
    await reserve(rt, city, member, catalogue.periods[day2_a.id][0].id)


async def cancel_now(rt, city, booking_id):
    with use_city(city):
        async with rt.db.transaction() as s:
            return await engine.cancel(s, booking_id, enforce_cutoff=False)


async def test_bookings_that_started_do_not_count_toward_the_limit(rt, city, catalogue):
    member = await make_member(rt, city)
    s1, s2, s3, s4 = catalogue.sessions[:4]
    first = await reserve(rt, city, member, catalogue.periods[s1.id][0].id)
    await reserve(rt, city, member, catalogue.periods[s2.id][1].id)
    # Once the first booking's period has started it is no longer "active" (R3.2).
    with frozen(first.starts_at + timedelta(minutes=1)):
        b = await reserve(rt, city, member, catalogue.periods[s3.id][0].id)
    assert b.status == BookingStatus.confirmed


async def test_limit_follows_the_city_rule(rt):
    city = await make_city(rt, "lim-" + utcnow().strftime("%H%M%S%f"), max_active_bookings=1)
    cat = await make_catalogue(rt, city)
    member = await make_member(rt, city)
    await reserve(rt, city, member, cat.periods[cat.sessions[0].id][0].id)
    with pytest.raises(DomainError) as err:
        await reserve(rt, city, member, cat.periods[cat.sessions[1].id][0].id)
    assert err.value.code == "too_many_active" and err.value.details["limit"] == 1


async def test_a_suspended_member_cannot_book(rt, city, catalogue):
    until = utcnow() + timedelta(hours=2)
    member = await make_member(rt, city, suspended_until=until)
    await set_member(rt, city, member, suspension_reason="爽约一次")
    with pytest.raises(DomainError) as err:
        await reserve(rt, city, member, catalogue.periods[catalogue.sessions[0].id][0].id)
    assert err.value.code == "credit_suspended" and err.value.status == 403
    assert err.value.details["reason"] == "爽约一次"
    assert err.value.details["suspended_until"].startswith(until.date().isoformat()[:4])
    # Once the suspension has run out, the member books again.
    with frozen(until + timedelta(seconds=1)):
        b = await reserve(rt, city, member, catalogue.periods[catalogue.sessions[0].id][0].id)
    assert b.status == "confirmed"


async def test_not_before_the_release_time(rt, city, catalogue):
    cs = catalogue.sessions[0]
    period = catalogue.periods[cs.id][0]
    member = await make_member(rt, city)
    with frozen(cs.release_at - timedelta(seconds=1)):
        with pytest.raises(DomainError) as err:
            await reserve(rt, city, member, period.id)
    assert err.value.code == "outside_window"
    assert err.value.details["reason"] == "not_released"
    with frozen(cs.release_at):
        assert (await reserve(rt, city, member, period.id)).status == "confirmed"


async def test_not_after_the_period_starts(rt, city, catalogue):
    period = catalogue.periods[catalogue.sessions[0].id][0]
    member = await make_member(rt, city)
    with frozen(period.starts_at):
        with pytest.raises(DomainError) as err:
            await reserve(rt, city, member, period.id)
    assert err.value.code == "outside_window" and err.value.details["reason"] == "closed"
    with frozen(period.starts_at - timedelta(seconds=1)):
        assert (await reserve(rt, city, member, period.id)).status == "confirmed"


async def test_booking_cutoff_minutes_close_earlier(rt):
    city = await make_city(rt, "cut-" + utcnow().strftime("%H%M%S%f"), booking_cutoff_minutes=60)
    cat = await make_catalogue(rt, city)
    period = cat.periods[cat.sessions[0].id][0]
    member = await make_member(rt, city)
    with frozen(period.starts_at - timedelta(minutes=60)):
        with pytest.raises(DomainError) as err:
            await reserve(rt, city, member, period.id)
    assert err.value.code == "outside_window"
    with frozen(period.starts_at - timedelta(minutes=61)):
        await reserve(rt, city, member, period.id)


@pytest.mark.parametrize("status", ["suspended", "cancelled"])
async def test_suspended_or_cancelled_sessions_cannot_be_booked(rt, city, catalogue, status):
    cs = catalogue.sessions[0]
    await set_session(rt, city, cs.id, status=status)
    with pytest.raises(DomainError) as err:
        await reserve(rt, city, await make_member(rt, city), catalogue.periods[cs.id][0].id)
    assert err.value.code == "session_unavailable"
    assert err.value.details["session_status"] == status


async def test_reserved_pools_serve_only_their_channel(rt, city):
    cat = await make_catalogue(rt, city, extra_pools={"onsite": 1})
    period = cat.periods[cat.sessions[0].id][0]
    member = await make_member(rt, city)
    with pytest.raises(DomainError) as err:
        await reserve(rt, city, member, period.id, pool="onsite", channel="web")
    assert err.value.code == "pool_not_allowed" and err.value.status == 403
    b = await reserve(rt, city, member, period.id, pool="onsite", channel="onsite", actor="staff:7")
    onsite = next(p for p in cat.pools[period.id] if p.pool == "onsite")
    assert b.pool_id == onsite.id and b.created_by == "staff:7"
    assert await booked(rt, city, onsite.id) == 1
    assert await booked(rt, city, cat.public_pool(period.id).id) == 0


async def test_a_period_without_units_of_the_pool_is_full(rt, city, catalogue):
    period = catalogue.periods[catalogue.sessions[0].id][0]
    with pytest.raises(DomainError) as err:
        await reserve(rt, city, await make_member(rt, city), period.id, pool="referral", channel="referral")
    assert err.value.code == "slot_full"


@pytest.mark.parametrize(
    "kw,code",
    [
        ({"channel": "Web Site!"}, "invalid_channel"),
        ({"channel": "x" * 21}, "invalid_channel"),
        ({"pool": "vip"}, "invalid_pool"),
    ],
)
async def test_malformed_channel_or_pool(rt, city, catalogue, kw, code):
    with pytest.raises(DomainError) as err:
        await reserve(rt, city, await make_member(rt, city), catalogue.periods[catalogue.sessions[0].id][0].id, **kw)
    assert err.value.code == code and err.value.status == 422


async def test_unknown_period_or_member_is_not_found(rt, city, catalogue):
    member = await make_member(rt, city)
    with pytest.raises(DomainError) as err:
        await reserve(rt, city, member, 10**9)
    assert err.value.code == "not_found" and err.value.status == 404
    with pytest.raises(DomainError) as err:
        await reserve(rt, city, 10**9, catalogue.periods[catalogue.sessions[0].id][0].id)
    assert err.value.code == "not_found"


async def test_another_citys_period_is_not_found(rt, city, catalogue):
    other = await make_city(rt, city.slug + "-x")
    member = await make_member(rt, other)
    with pytest.raises(DomainError) as err:
        await reserve(rt, other, member, catalogue.periods[catalogue.sessions[0].id][0].id)
    assert err.value.code == "not_found"


async def test_extra_checks_from_plugins(rt, city, catalogue):
    period = catalogue.periods[catalogue.sessions[0].id][0]
    seen = {}

    def refuse(**kw):
        seen.update(kw, member_id=kw["member"].id, period_id=kw["period"].id)
        return [None, "blacklisted"]

    member = await make_member(rt, city)
    with pytest.raises(DomainError) as err:
        await reserve(rt, city, member, period.id, extra_checks=refuse)
    assert err.value.code == "blacklisted" and err.value.status == 403
    assert {"city", "member", "clinic_session", "period", "channel"} <= set(seen)
    assert (seen["member_id"], seen["period_id"], seen["channel"]) == (member, period.id, "web")
    assert await booked(rt, city, catalogue.public_pool(period.id).id) == 0

    async def allow_later():
        return None

    b = await reserve(rt, city, member, period.id, extra_checks=lambda **kw: [None, allow_later()])
    assert b.status == "confirmed"


async def test_references_are_unguessable_and_distinct(rt, city, catalogue):
    members = await make_members(rt, city, 4)
    ids = []
    for i, m in enumerate(members):
        cs = catalogue.sessions[i]
        ids.append((await reserve(rt, city, m, catalogue.periods[cs.id][0].id)).id)
    assert len(set(ids)) == 4 and all(is_booking_ref(i) for i in ids)
    assert len({i[:4] for i in ids}) > 1  # not a counter


async def test_pool_counter_equals_holding_bookings(rt, city, catalogue):
    period = catalogue.periods[catalogue.sessions[0].id][0]
    pool = catalogue.public_pool(period.id)
    members = await make_members(rt, city, 2)
    made = [await reserve(rt, city, m, period.id) for m in members]
    await cancel_now(rt, city, made[0].id)
    with use_city(city):
        async with rt.db.transaction() as s:
            holding = await s.scalar(
                text(
                    "SELECT count(*) FROM bookings WHERE pool_id = :p"
                    " AND status IN ('pending_payment','confirmed','offered','checked_in')"
                ),
                {"p": pool.id},
            )
    assert holding == await booked(rt, city, pool.id) == 1


async def test_when_only_the_unique_index_catches_a_duplicate_it_is_still_duplicate_session(rt, city, catalogue, monkeypatch):
    from guahao.core.booking import rules

    cs = catalogue.sessions[0]
    first, second = catalogue.periods[cs.id]
    member = await make_member(rt, city)
    await reserve(rt, city, member, first.id)
    counted = rules.member_state

    async def blind(*args, **kw):  # as if the application check had raced and missed it
        state = await counted(*args, **kw)
        state.holds_session = False
        return state

    monkeypatch.setattr(rules, "member_state", blind)
    with pytest.raises(DomainError) as err:
        await reserve(rt, city, member, second.id)
    assert err.value.code == "duplicate_session" and err.value.details["session_id"] == cs.id
    assert await booked(rt, city, catalogue.public_pool(second.id).id) == 0
