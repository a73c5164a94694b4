"""Payment confirmation, hold expiry (R3.5) and cancellation with its cut-off (R3.4)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from guahao.core.booking import engine, service
from guahao.core.errors import DomainError
from guahao.core.models import BookingStatus
from guahao.tenants.clock import frozen, utcnow
from guahao.tenants.context import use_city
from tests.factories import make_catalogue, make_city

from .helpers import booked, booking, event_kinds, make_member, make_members, outbox, reserve, run


@pytest.fixture
async def online(rt, city):
    return await make_catalogue(rt, city, payment_mode="online")


async def test_payment_confirms_a_held_booking(rt, city, online):
    period = online.periods[online.sessions[0].id][0]
    b = await reserve(rt, city, await make_member(rt, city), period.id)
    paid = await run(rt, city, engine.confirm_payment, b.id, provider="stripe", payment_ref="pi_1")
    assert paid.status == BookingStatus.confirmed and paid.payment_status == "paid"
    assert (paid.payment_provider, paid.payment_ref, paid.hold_expires_at) == ("stripe", "pi_1", None)
    assert await event_kinds(rt, city, b.id) == ["created", "held", "paid", "confirmed"]
    assert [m.payload["action"] for m in await outbox(rt, city, b.id, "his.push")] == ["book"]
    kinds = [m.payload["kind"] for m in await outbox(rt, city, b.id, "notify")]
    assert "booking_confirmed" in kinds and "reminder_30min" in kinds
    # The provider calls back twice: nothing changes the second time.
    again = await run(rt, city, engine.confirm_payment, b.id, provider="stripe", payment_ref="pi_1")
    assert again.status == BookingStatus.confirmed
    assert await event_kinds(rt, city, b.id) == ["created", "held", "paid", "confirmed"]
    with pytest.raises(DomainError) as err:
        await run(rt, city, engine.confirm_payment, b.id, provider="stripe", payment_ref="pi_other")
    assert err.value.code == "invalid_state"


async def test_payment_of_an_unknown_booking(rt, city, online):
    with pytest.raises(DomainError) as err:
        await run(rt, city, engine.confirm_payment, "GHAAAAAAAAAAAAAAAA", provider="x", payment_ref="y")
    assert err.value.code == "not_found"


async def test_an_unpaid_hold_expires_and_gives_its_unit_back(rt, city, online):
    period = online.periods[online.sessions[0].id][0]
    pool = online.public_pool(period.id)
    b = await reserve(rt, city, await make_member(rt, city), period.id)
    assert await booked(rt, city, pool.id) == 1
    with frozen(b.hold_expires_at - timedelta(seconds=1)):
        assert await run(rt, city, engine.expire_hold, b.id) is None
    assert (await booking(rt, city, b.id)).status == BookingStatus.pending_payment
    with frozen(b.hold_expires_at):
        expired = await run(rt, city, engine.expire_hold, b.id)
    assert expired.status == BookingStatus.expired
    assert await booked(rt, city, pool.id) == 0
    assert await event_kinds(rt, city, b.id) == ["created", "held", "expired"]
    assert "booking_expired" in [m.payload["kind"] for m in await outbox(rt, city, b.id, "notify")]
    # Expiring again, or paying too late, changes nothing.
    with frozen(b.hold_expires_at + timedelta(minutes=1)):
        assert await run(rt, city, engine.expire_hold, b.id) is None
    with pytest.raises(DomainError) as err:
        await run(rt, city, engine.confirm_payment, b.id, provider="stripe", payment_ref="late")
    assert err.value.code == "invalid_state"
    assert await booked(rt, city, pool.id) == 0


async def test_a_paid_booking_never_expires(rt, city, online):
    period = online.periods[online.sessions[0].id][0]
    b = await reserve(rt, city, await make_member(rt, city), period.id)
    await run(rt, city, engine.confirm_payment, b.id, provider="stripe", payment_ref="pi")
    with frozen(b.hold_expires_at + timedelta(minutes=5)):
        assert await run(rt, city, engine.expire_hold, b.id) is None
    assert await booked(rt, city, online.public_pool(period.id).id) == 1


async def test_the_service_expiry_clears_the_gate(rt, city, online):
    period = online.periods[online.sessions[0].id][0]
    b = await reserve(rt, city, await make_member(rt, city), period.id)
    await rt.gate.mark_sold_out(city.id, period.id)
    with use_city(city), frozen(b.hold_expires_at):
        assert await service.expire_hold(rt, b.id) is True
    assert not await rt.gate.is_sold_out(city.id, period.id)


def _deadline(day, days_before: int, at: time, city) -> datetime:
    return datetime.combine(day - timedelta(days=days_before), at, tzinfo=city.tz).astimezone(UTC)


@pytest.mark.city_rules(cancel_days_before=1)  # the platform's default: 18:00 the day before
async def test_cancel_until_the_evening_before(rt, city, catalogue):
    cs = catalogue.sessions[-1]  # three days ahead: the default cut-off (18:00 the day before) is ahead
    period = catalogue.periods[cs.id][0]
    pool = catalogue.public_pool(period.id)
    deadline = _deadline(cs.date, 1, time(18, 0), city)
    a, b = await make_members(rt, city, 2)
    first = await reserve(rt, city, a, period.id)
    second = await reserve(rt, city, b, period.id)
    with frozen(deadline - timedelta(seconds=1)):
        done = await run(rt, city, engine.cancel, first.id, member_id=a, reason="临时有事")
    assert done.status == BookingStatus.cancelled and done.cancel_reason == "临时有事"
    assert await booked(rt, city, pool.id) == 1
    assert await event_kinds(rt, city, first.id) == ["created", "confirmed", "cancelled"]
    assert [m.payload["action"] for m in await outbox(rt, city, first.id, "his.push")] == ["book", "cancel"]
    assert "booking_cancelled" in [m.payload["kind"] for m in await outbox(rt, city, first.id, "notify")]
    with frozen(deadline):
        with pytest.raises(DomainError) as err:
            await run(rt, city, engine.cancel, second.id, member_id=b)
    assert err.value.code == "cancel_too_late"
    assert err.value.details["cancel_deadline"] == deadline.isoformat()
    assert "联系医院" in err.value.message
    # Staff may still cancel after the cut-off.
    with frozen(deadline + timedelta(hours=1)):
        staff = await run(rt, city, engine.cancel, second.id, actor="staff:1", enforce_cutoff=False, reason="医院代办")
    assert staff.status == BookingStatus.cancelled
    assert await booked(rt, city, pool.id) == 0


async def test_cancel_with_zero_days_is_allowed_until_the_period_starts(rt):
    city = await make_city(rt, "c0-" + utcnow().strftime("%H%M%S%f"), cancel_days_before=0)
    cat = await make_catalogue(rt, city)
    period = cat.periods[cat.sessions[0].id][0]
    a, b = await make_members(rt, city, 2)
    first = await reserve(rt, city, a, period.id)
    second = await reserve(rt, city, b, period.id)
    with frozen(period.starts_at - timedelta(seconds=1)):
        await run(rt, city, engine.cancel, first.id, member_id=a)
    with frozen(period.starts_at):
        with pytest.raises(DomainError) as err:
            await run(rt, city, engine.cancel, second.id, member_id=b)
    assert err.value.code == "cancel_too_late"


async def test_cancel_two_days_before_at_noon(rt):
    city = await make_city(rt, "c2-" + utcnow().strftime("%H%M%S%f"), cancel_days_before=2, cancel_time="12:00")
    cat = await make_catalogue(rt, city)
    cs = cat.sessions[-1]
    period = cat.periods[cs.id][0]
    deadline = _deadline(cs.date, 2, time(12, 0), city)
    b = await reserve(rt, city, await make_member(rt, city), period.id)
    with frozen(deadline):
        with pytest.raises(DomainError) as err:
            await run(rt, city, engine.cancel, b.id)
    assert err.value.code == "cancel_too_late"
    with frozen(deadline - timedelta(microseconds=1)):
        assert (await run(rt, city, engine.cancel, b.id)).status == "cancelled"


async def test_an_unpaid_hold_may_be_cancelled_after_the_cut_off(rt, city, online):
    cs = online.sessions[0]
    b = await reserve(rt, city, await make_member(rt, city), online.periods[cs.id][0].id)
    with frozen(b.starts_at - timedelta(minutes=1)):
        assert (await run(rt, city, engine.cancel, b.id)).status == "cancelled"
    assert not await outbox(rt, city, b.id, "his.push")


async def test_cancel_only_ones_own_booking(rt, city, catalogue):
    owner, other = await make_members(rt, city, 2)
    b = await reserve(rt, city, owner, catalogue.periods[catalogue.sessions[-1].id][0].id)
    with pytest.raises(DomainError) as err:
        await run(rt, city, engine.cancel, b.id, member_id=other)
    assert err.value.code == "not_found" and err.value.status == 404
    assert (await booking(rt, city, b.id)).status == "confirmed"


async def test_cancelling_twice_releases_once(rt, city, catalogue):
    period = catalogue.periods[catalogue.sessions[-1].id][0]
    pool = catalogue.public_pool(period.id)
    a, b = await make_members(rt, city, 2)
    first = await reserve(rt, city, a, period.id)
    await reserve(rt, city, b, period.id)
    await run(rt, city, engine.cancel, first.id)
    await run(rt, city, engine.cancel, first.id)
    assert await booked(rt, city, pool.id) == 1
    assert (await event_kinds(rt, city, first.id)).count("cancelled") == 1


async def test_checked_in_bookings_cannot_be_cancelled(rt, city, catalogue):
    b = await reserve(rt, city, await make_member(rt, city), catalogue.periods[catalogue.sessions[-1].id][0].id)
    await run(rt, city, engine.check_in, b.id)
    with pytest.raises(DomainError) as err:
        await run(rt, city, engine.cancel, b.id, enforce_cutoff=False)
    assert err.value.code == "invalid_state" and err.value.details["status"] == "checked_in"


async def test_the_cancel_service_clears_the_sold_out_gate(rt, city, catalogue):
    period = catalogue.periods[catalogue.sessions[-1].id][0]
    member = await make_member(rt, city)
    b = await reserve(rt, city, member, period.id)
    await rt.gate.mark_sold_out(city.id, period.id)
    with use_city(city):
        body = await service.cancel_booking(rt, member_id=member, booking_id=b.id.lower(), reason="不去了")
    assert body["status"] == "cancelled" and body["cancel_reason"] == "不去了"
    assert not await rt.gate.is_sold_out(city.id, period.id)
