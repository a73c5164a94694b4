"""The booking services the API calls: idempotent booking (R3.7), the gate, reading bookings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from guahao.core.booking import engine, service
from guahao.core.errors import DomainError
from guahao.core.hookspecs import hookimpl
from guahao.core.models import Booking, IdempotencyRecord
from guahao.tenants.clock import frozen, utcnow
from guahao.tenants.context import use_city
from tests.factories import make_city

from .helpers import make_member, make_members, reserve, run


async def book(rt, city, member_id, period_id, key=None, channel="app"):
    with use_city(city):
        return await service.book(rt, member_id=member_id, period_id=period_id, channel=channel, idempotency_key=key)


async def bookings_of(rt, city, member_id) -> int:
    with use_city(city):
        async with rt.db.transaction() as s:
            return await s.scalar(select(func.count()).select_from(Booking).where(Booking.member_id == member_id))


async def test_book_returns_the_booking_view(rt, city, catalogue):
    cs = catalogue.sessions[0]
    period = catalogue.periods[cs.id][0]
    member = await make_member(rt, city)
    body, status, replayed = await book(rt, city, member, period.id)
    assert status == 201 and replayed is False
    assert body["status"] == "confirmed" and body["period_id"] == period.id and body["session_id"] == cs.id
    assert body["hospital_name"] == "第一人民医院" and body["department_name"] == "呼吸内科"
    assert body["doctor_name"] == catalogue.doctor.name
    assert (body["start"], body["end"], body["half_day"]) == ("08:00", "08:30", "am")
    assert body["date"] == cs.date.isoformat() and body["channel"] == "app" and body["fee_fen"] == 5000
    with use_city(city):
        assert await service.get_booking(rt, member_id=member, booking_id=body["id"]) == body


async def test_a_replayed_key_returns_the_first_response(rt, city, catalogue):
    period = catalogue.periods[catalogue.sessions[0].id][0]
    member = await make_member(rt, city)
    first = await book(rt, city, member, period.id, key="k-1")
    again = await book(rt, city, member, period.id, key="k-1")
    assert again == (first[0], 201, True)
    assert await bookings_of(rt, city, member) == 1
    # The same key with other parameters is an error, not a replay.
    with pytest.raises(DomainError) as err:
        await book(rt, city, member, catalogue.periods[catalogue.sessions[2].id][0].id, key="k-1")
    assert err.value.code == "idempotency_key_reused" and err.value.status == 422
    with pytest.raises(DomainError) as err:
        await book(rt, city, member, period.id, key="k-1", channel="wechat")
    assert err.value.code == "idempotency_key_reused"
    # Without a key, a retry is a new request and meets the one-per-session rule.
    with pytest.raises(DomainError) as err:
        await book(rt, city, member, period.id)
    assert err.value.code == "duplicate_session"


async def test_keys_belong_to_their_member_and_city(rt, city, catalogue):
    period = catalogue.periods[catalogue.sessions[0].id][0]
    a, b = await make_members(rt, city, 2)
    first = await book(rt, city, a, period.id, key="same")
    second = await book(rt, city, b, period.id, key="same")
    assert second[2] is False and second[0]["id"] != first[0]["id"]
    with use_city(city):
        async with rt.db.transaction() as s:
            owners = set((await s.scalars(select(IdempotencyRecord.owner).where(IdempotencyRecord.key == "same"))).all())
    assert owners == {f"member:{a}", f"member:{b}"}


async def test_refusals_are_not_stored(rt, city, catalogue):
    period = catalogue.periods[catalogue.sessions[0].id][0]
    member = await make_member(rt, city, suspended_until=utcnow() + timedelta(hours=1))
    with pytest.raises(DomainError) as err:
        await book(rt, city, member, period.id, key="retry-me")
    assert err.value.code == "credit_suspended"
    with frozen(utcnow() + timedelta(hours=1, seconds=1)):
        body, status, replayed = await book(rt, city, member, period.id, key="retry-me")
    assert status == 201 and replayed is False


@pytest.mark.parametrize("key", ["", "x" * 256, "有中文", "a b"])
async def test_malformed_keys(rt, city, catalogue, key):
    period = catalogue.periods[catalogue.sessions[0].id][0]
    with pytest.raises(DomainError) as err:
        await book(rt, city, await make_member(rt, city), period.id, key=key)
    assert err.value.code == "invalid_idempotency_key" and err.value.status == 422


async def test_slot_full_marks_the_gate_and_the_gate_turns_requests_away(rt, city, catalogue):
    period = catalogue.periods[catalogue.sessions[0].id][0]
    a, b, c = await make_members(rt, city, 3)
    await book(rt, city, a, period.id)
    await book(rt, city, b, period.id, key="kb")
    assert not await rt.gate.is_sold_out(city.id, period.id)
    with pytest.raises(DomainError) as err:
        await book(rt, city, c, period.id)
    assert err.value.code == "slot_full"
    assert await rt.gate.is_sold_out(city.id, period.id)
    # Turned away before the database: even an unknown member gets slot_full now.
    with pytest.raises(DomainError) as err:
        await book(rt, city, 10**9, period.id)
    assert err.value.code == "slot_full"
    # …but a replay of a request that got its booking still gets its booking.
    body, status, replayed = await book(rt, city, b, period.id, key="kb")
    assert replayed is True and status == 201
    # Another city's marks are its own.
    assert not await rt.gate.is_sold_out(city.id + 10**6, period.id)
    await rt.gate.clear(city.id, period.id)


async def test_list_bookings_by_scope(rt, city, catalogue):
    member = await make_member(rt, city)
    s0, s1, s2 = catalogue.sessions[0], catalogue.sessions[2], catalogue.sessions[4]
    done = await reserve(rt, city, member, catalogue.periods[s0.id][0].id)
    gone = await reserve(rt, city, member, catalogue.periods[s1.id][0].id)
    await run(rt, city, engine.cancel, gone.id, enforce_cutoff=False)
    soon = await reserve(rt, city, member, catalogue.periods[s2.id][0].id)
    await run(rt, city, engine.check_in, done.id)
    other = await make_member(rt, city)
    await reserve(rt, city, other, catalogue.periods[s2.id][1].id)
    with use_city(city):
        ids = {
            scope: [b["id"] for b in await service.list_bookings(rt, member_id=member, scope=scope)]
            for scope in service.SCOPES
        }
    assert set(ids["all"]) == {done.id, gone.id, soon.id}
    assert ids["upcoming"] == [soon.id]
    assert ids["past"] == [done.id]
    assert ids["cancelled"] == [gone.id]
    with use_city(city), pytest.raises(DomainError) as err:
        await service.list_bookings(rt, member_id=member, scope="future")
    assert err.value.code == "invalid_scope" and err.value.status == 422


async def test_another_members_booking_is_not_found(rt, city, catalogue):
    owner, other = await make_members(rt, city, 2)
    body, _, _ = await book(rt, city, owner, catalogue.periods[catalogue.sessions[-1].id][0].id)
    with use_city(city):
        for call in (
            service.get_booking(rt, member_id=other, booking_id=body["id"]),
            service.cancel_booking(rt, member_id=other, booking_id=body["id"]),
            service.accept_offer(rt, member_id=other, booking_id=body["id"]),
            service.get_booking(rt, member_id=owner, booking_id="not-a-reference"),
            service.get_booking(rt, member_id=owner, booking_id="GH" + "A" * 300),
        ):
            with pytest.raises(DomainError) as err:
                await call
            assert err.value.code == "not_found" and err.value.status == 404


async def test_another_citys_bookings_stay_invisible(rt, city, catalogue):
    member = await make_member(rt, city)
    body, _, _ = await book(rt, city, member, catalogue.periods[catalogue.sessions[-1].id][0].id)
    other = await make_city(rt, city.slug + "-i")
    with use_city(other):
        with pytest.raises(DomainError):
            await service.get_booking(rt, member_id=member, booking_id=body["id"])
        assert await service.list_bookings(rt, member_id=member) == []
        with pytest.raises(DomainError) as err:
            await service.cancel_booking(rt, member_id=member, booking_id=body["id"])
        assert err.value.code == "not_found"


async def test_waitlist_through_the_service(rt, city, catalogue):
    cs = catalogue.sessions[-1]
    for period in catalogue.periods[cs.id]:
        for m in await make_members(rt, city, 2):
            await reserve(rt, city, m, period.id)
    waiter = await make_member(rt, city)
    with use_city(city):
        body = await service.join_waitlist(rt, member_id=waiter, session_id=cs.id)
    assert body["status"] == "waiting" and body["position"] == 1 and body["session_id"] == cs.id
    assert body["doctor_name"] == catalogue.doctor2.name or body["doctor_name"] == catalogue.doctor.name
    assert body["date"] == cs.date.isoformat()


class KioskClosedPlugin:
    """A city rule from a plugin: refuses bookings through one channel."""

    @hookimpl
    def guahao_booking_checks(self, city, member, clinic_session, period, channel):
        return "channel_closed" if channel == "kiosk" else None


async def test_book_asks_only_the_citys_enabled_plugins(rt, city, catalogue):
    from guahao.core.plugins.manager import configure

    name = "test_booking_rule_" + utcnow().strftime("%H%M%S%f")
    rt.plugins.register(KioskClosedPlugin(), name)
    try:
        period = catalogue.periods[catalogue.sessions[0].id][0]
        member = await make_member(rt, city)
        # Installed but not enabled for this city: not asked.
        body, status, _ = await book(rt, city, member, period.id, channel="kiosk")
        assert status == 201
        await configure(rt, city, name)
        fresh = await rt.resolver.by_slug(city.slug)
        other = await make_member(rt, city)
        with pytest.raises(DomainError) as err:
            await book(rt, fresh, other, period.id, channel="kiosk")
        assert err.value.code == "channel_closed" and err.value.status == 403
        body, status, _ = await book(rt, fresh, other, period.id, channel="web")
        assert status == 201
    finally:
        rt.plugins.unregister(name)
        rt.plugins.invalidate()
