"""Schedules pulled from the demo HIS become sessions and pools as templates make them (R2.6),
idempotently, and a HIS-side 停诊 goes through the suspension flow (R8)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from guahao.core.his.sync import sync_schedules
from guahao.core.jobs import drain_in_process
from guahao.core.models import Booking, HisSession, HisSyncRun, Notification, ScheduleChange
from guahao.tenants.context import use_city
from tests.core.jobs.test_handlers import book
from tests.core.plugins.probes import make_member

from .helpers import demo_settings, next_weekday, periods_and_pools, sessions_of


async def _sync(rt, city, hospital_id, day, days=0, **kw):
    with use_city(city):
        return await sync_schedules(rt, hospital_id, date_from=day, date_to=day + timedelta(days=days), **kw)


async def test_a_pulled_schedule_becomes_bookable_sessions_and_a_second_pull_changes_nothing(rt, city, catalogue):
    h = catalogue.hospital
    city = await demo_settings(rt, city, h.id, schedule_doctors="*", schedule_capacity=3)
    day = next_weekday(city)

    run = await _sync(rt, city, h.id, day)

    assert (run.outcome, run.items, run.created, run.changed, run.suspended) == ("ok", 2, 2, 0, 0)
    made = await sessions_of(rt, city, h.id)
    assert {(cs.doctor_id, cs.date) for cs in made} == {(catalogue.doctor.id, day), (catalogue.doctor2.id, day)}
    periods = await periods_and_pools(rt, city, made[0].id)
    assert [f"{p.start:%H:%M}" for p, _ in periods] == ["13:00", "14:00", "15:00", "16:00"]
    assert all({k: v.capacity for k, v in pools.items()} == {"public": 3, "onsite": 1} for _, pools in periods)
    assert made[0].fee_fen == catalogue.reg_type.fee_fen and str(made[0].status) == "open"
    with use_city(city):
        async with rt.db.transaction() as s:
            links = (await s.scalars(select(HisSession).where(HisSession.hospital_id == h.id))).all()
    assert {link.reference for link in links} == {f"DEMO-S-{d.id}-{day:%Y%m%d}-pm" for d in (catalogue.doctor,
                                                                                               catalogue.doctor2)}

    again = await _sync(rt, city, h.id, day)
    assert (again.outcome, again.items, again.created, again.changed, again.suspended) == ("ok", 2, 0, 0, 0)
    assert len(await sessions_of(rt, city, h.id)) == 2

    from guahao.core.booking.service import book as book_through_service

    member = await make_member(rt, city)
    period = periods[0][0]
    with use_city(city):
        view, status, replayed = await book_through_service(rt, member_id=member.id, period_id=period.id,
                                                            channel="web")
    assert (status, replayed, view["status"]) == (201, False, "confirmed")
    [left] = [pp["public"] for p, pp in await periods_and_pools(rt, city, made[0].id) if p.id == period.id]
    assert (left.capacity, left.booked) == (3, 1)


async def test_capacities_follow_the_his_but_never_below_what_is_booked(rt, city, catalogue):
    h = catalogue.hospital
    city = await demo_settings(rt, city, h.id, schedule_doctors=str(catalogue.doctor.id), schedule_capacity=2)
    day = next_weekday(city)
    await _sync(rt, city, h.id, day)
    [cs] = await sessions_of(rt, city, h.id)
    first = (await periods_and_pools(rt, city, cs.id))[0][0]
    for _ in range(2):
        await book(rt, city, await make_member(rt, city), first.id)

    city = await demo_settings(rt, city, h.id, schedule_doctors=str(catalogue.doctor.id), schedule_capacity=1)
    run = await _sync(rt, city, h.id, day)

    assert (run.changed, run.created) == (1, 0)
    pools = await periods_and_pools(rt, city, cs.id)
    assert [pp["public"].capacity for _, pp in pools] == [2, 1, 1, 1]  # the booked one keeps its two
    assert [c["code"] for c in run.details["conflicts"]] == ["capacity_below_booked"]
    repeat = await _sync(rt, city, h.id, day)
    assert (repeat.changed, repeat.created, repeat.suspended) == (0, 0, 0)


async def test_a_his_suspension_cancels_and_tells_every_booked_member(rt, city, catalogue):
    h, doctor = catalogue.hospital, catalogue.doctor
    city = await demo_settings(rt, city, h.id, schedule_doctors="*")
    day = next_weekday(city)
    await _sync(rt, city, h.id, day)
    cs = next(x for x in await sessions_of(rt, city, h.id) if x.doctor_id == doctor.id)
    periods = await periods_and_pools(rt, city, cs.id)
    members = [await make_member(rt, city, name=n) for n in ("赵一", "钱二")]
    bookings = [await book(rt, city, m, p.id) for m, (p, _) in zip(members, periods, strict=False)]
    await drain_in_process(rt, city_id=city.id)

    city = await demo_settings(rt, city, h.id, schedule_doctors="*", suspend_doctor=str(doctor.id))
    run = await _sync(rt, city, h.id, day)
    await drain_in_process(rt, city_id=city.id)

    assert (run.outcome, run.suspended, run.created) == ("ok", 1, 0)
    with use_city(city):
        async with rt.db.transaction() as s:
            rows = (await s.scalars(select(Booking).where(Booking.id.in_([b.id for b in bookings])))).all()
            notes = (await s.scalars(select(Notification).where(Notification.kind == "session_suspended"))).all()
            change = await s.scalar(select(ScheduleChange).where(ScheduleChange.session_id == cs.id))
    assert {str(b.status) for b in rows} == {"cancelled"}
    assert {n.member_id for n in notes} == {m.id for m in members}
    assert all("停诊" in n.body for n in notes)
    assert change is not None and change.cancelled == 2 and "演示 HIS" in change.reason
    [after] = [x for x in await sessions_of(rt, city, h.id) if x.id == cs.id]
    assert str(after.status) == "suspended"

    again = await _sync(rt, city, h.id, day)
    assert (again.created, again.changed, again.suspended) == (0, 0, 0)


async def test_a_failing_pull_is_recorded_and_raised(rt, city, catalogue):
    import pytest

    from guahao.core.his.sync import SyncFailed
    from guahao.core.plugins.interfaces import HisAck, HisAdapter

    class Down(HisAdapter):
        name = "down"
        operations = frozenset({"book", "cancel", "schedules"})

        async def push_booking(self, *a):
            return HisAck()

        async def push_cancellation(self, *a):
            return HisAck()

        async def pull_schedules(self, *a):
            raise ConnectionRefusedError("HIS down")

    day = next_weekday(city)
    with pytest.raises(SyncFailed):
        await _sync(rt, city, catalogue.hospital.id, day, adapter=Down())
    with use_city(city):
        async with rt.db.transaction() as s:
            run = await s.scalar(select(HisSyncRun).where(HisSyncRun.hospital_id == catalogue.hospital.id))
    assert (run.outcome, run.adapter) == ("failed", "down") and "HIS down" in run.error and run.finished_at


async def test_a_his_suspension_refunds_a_paid_booking(rt, city):
    from guahao.core.booking import engine
    from tests.core.booking.helpers import outbox, reserve, run
    from tests.factories import make_catalogue

    cat = await make_catalogue(rt, city, payment_mode="online")
    h = cat.hospital
    city = await demo_settings(rt, city, h.id, schedule_doctors=str(cat.doctor.id))
    day = next_weekday(city)
    await _sync(rt, city, h.id, day)
    [cs] = await sessions_of(rt, city, h.id)
    period = (await periods_and_pools(rt, city, cs.id))[0][0]
    b = await reserve(rt, city, (await make_member(rt, city)).id, period.id)
    await run(rt, city, engine.confirm_payment, b.id, provider="wechat_pay", payment_ref="wx-his-1")

    city = await demo_settings(rt, city, h.id, schedule_doctors=str(cat.doctor.id), suspend_doctor=cat.doctor.name)
    run_ = await _sync(rt, city, h.id, day)

    assert run_.suspended == 1
    [refund] = await outbox(rt, city, b.id, "payment.refund")
    assert (refund.payload["amount_fen"], refund.payload["payment_ref"]) == (cs.fee_fen, "wx-his-1")
    kinds = [m.payload["kind"] for m in await outbox(rt, city, b.id, "notify")]
    assert "session_suspended" in kinds


async def test_a_session_the_his_no_longer_lists_is_suspended_when_its_list_is_complete(rt, city, catalogue):
    h, doctor = catalogue.hospital, catalogue.doctor
    city = await demo_settings(rt, city, h.id, schedule_doctors="*")
    day = next_weekday(city)
    await _sync(rt, city, h.id, day)
    gone = next(x for x in await sessions_of(rt, city, h.id) if x.doctor_id == doctor.id)
    member = await make_member(rt, city)
    booking = await book(rt, city, member, (await periods_and_pools(rt, city, gone.id))[0][0].id)

    city = await demo_settings(rt, city, h.id, schedule_doctors=str(catalogue.doctor2.id))
    run = await _sync(rt, city, h.id, day)

    assert (run.items, run.suspended, run.created, run.changed) == (1, 1, 0, 0)
    after = {x.id: str(x.status) for x in await sessions_of(rt, city, h.id)}
    assert after[gone.id] == "suspended" and list(after.values()).count("open") == 1
    with use_city(city):
        async with rt.db.transaction() as s:
            assert str((await s.get(Booking, booking.id)).status) == "cancelled"
    # The morning sessions made without the HIS are not its to cancel.
    assert {str(x.status) for x in await sessions_of(rt, city, h.id, half_day="am")} == {"open"}


async def test_two_pulls_at_once_create_each_session_once(rt, city, catalogue, pg_only):
    import asyncio

    h = catalogue.hospital
    city = await demo_settings(rt, city, h.id, schedule_doctors="*")
    day = next_weekday(city)
    first, second = await asyncio.gather(_sync(rt, city, h.id, day, days=6), _sync(rt, city, h.id, day, days=6))
    assert {first.outcome, second.outcome} == {"ok"}
    assert first.created + second.created == first.items == len(await sessions_of(rt, city, h.id))
