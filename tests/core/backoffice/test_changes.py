"""Schedule changes (停诊/调班, R8): previews, suspensions and moves, repeated and raced."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from guahao.core import audit, notifications
from guahao.core.backoffice import changes
from guahao.core.booking import engine
from guahao.core.errors import DomainError
from guahao.core.models import (
    HOLDING,
    Booking,
    ClinicSession,
    Member,
    OutboxMessage,
    ScheduleChange,
    SlotPool,
    WaitlistEntry,
)
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from tests.core.booking.helpers import booking, event_kinds, make_member, outbox, reserve, run
from tests.factories import make_catalogue, make_city


async def book_all(rt, city, cat, cs, n: int | None = None) -> list[Booking]:
    """Book public units of ``cs`` period by period with fresh members (``n`` of them, or all)."""
    made = []
    for period in cat.periods[cs.id]:
        for _ in range(cat.public_pool(period.id).capacity):
            if n is not None and len(made) == n:
                return made
            made.append(await reserve(rt, city, await make_member(rt, city, name="赵小明"), period.id))
    return made


async def rows(rt, city, model, *where):
    with use_city(city):
        async with rt.db.transaction() as s:
            return list((await s.scalars(select(model).where(*where))).all())


async def test_preview_names_everyone_masked_and_changes_nothing(rt, city, catalogue):
    cs = catalogue.sessions[0]
    made = await book_all(rt, city, catalogue, cs)
    waiter = await make_member(rt, city, name="钱多多")
    with use_city(city):
        await run(rt, city, engine.join_waitlist, member_id=waiter, session_id=cs.id)
        plan = await changes.preview_suspend(rt, cs.id, hospital_id=catalogue.hospital.id)
    assert [b.booking_id for b in plan.bookings] == [b.id for b in made]
    assert {b.action for b in plan.bookings} == {"cancel"} and plan.cancelled == 4 and plan.moved == 0
    first = plan.bookings[0]
    assert first.member_name == "赵**" and "****" in first.phone and (first.start, first.end) == ("08:00", "08:30")
    assert [(w.member_id, w.member_name) for w in plan.waitlist] == [(waiter, "钱**")]
    assert (await booking(rt, city, made[0].id)).status == "confirmed"
    [session] = await rows(rt, city, ClinicSession, ClinicSession.id == cs.id)
    assert session.status == "open"


async def test_suspend_cancels_notifies_audits_and_closes_the_session(rt, city, catalogue, scheduler):
    cs = catalogue.sessions[0]
    made = await book_all(rt, city, catalogue, cs)
    waiter = await make_member(rt, city)
    await run(rt, city, engine.join_waitlist, member_id=waiter, session_id=cs.id)
    with use_city(city):
        result = await changes.suspend(rt, cs.id, reason="医生临时外出会诊", actor=scheduler, hospital_id=catalogue.hospital.id)
    assert not result.repeated and result.plan.cancelled == 4 and result.change_id
    for b in made:
        after = await booking(rt, city, b.id)
        assert (after.status, after.cancel_reason) == ("cancelled", "session_suspended")
        assert (await event_kinds(rt, city, b.id))[-1] == "cancelled"
        kinds = [m.payload["kind"] for m in await outbox(rt, city, b.id, "notify")]
        assert "session_suspended" in kinds and "booking_cancelled" not in kinds
    [session] = await rows(rt, city, ClinicSession, ClinicSession.id == cs.id)
    assert session.status == "suspended" and "医生临时外出会诊" in session.status_reason
    pools = await rows(rt, city, SlotPool, SlotPool.session_id == cs.id)
    assert all(p.booked == 0 and p.capacity == 0 for p in pools)
    [entry] = await rows(rt, city, WaitlistEntry, WaitlistEntry.member_id == waiter)
    assert entry.status == "cancelled"
    notes = await rows(rt, city, OutboxMessage, OutboxMessage.topic == "notify")
    assert any(n.payload["member_id"] == waiter and n.payload["kind"] == "session_suspended" for n in notes)
    with use_city(city):
        async with rt.db.transaction() as s:
            [entry] = await audit.search(s, action="schedule.suspend")
    assert entry.actor == "staff:7" and entry.reason == "医生临时外出会诊"
    assert entry.after["cancelled"] == 4 and entry.before["status"] == "open"
    [change] = await rows(rt, city, ScheduleChange, ScheduleChange.session_id == cs.id)
    assert (change.kind, change.cancelled, change.waitlist_cancelled, change.actor_name) == ("suspend", 4, 1, "排班员小李")

    with pytest.raises(DomainError) as err:
        await reserve(rt, city, await make_member(rt, city), catalogue.periods[cs.id][0].id)
    assert err.value.code == "session_unavailable"
    with use_city(city):
        again = await changes.suspend(rt, cs.id, reason="医生临时外出会诊", actor=scheduler)
        async with rt.db.transaction() as s:
            assert len(await audit.search(s, action="schedule.suspend")) == 1
    assert again.repeated and again.change_id is None and again.plan.bookings == []


async def test_suspension_messages_read_well(rt, city, catalogue, scheduler):
    cs = catalogue.sessions[0]
    [b] = await book_all(rt, city, catalogue, cs, 1)
    with use_city(city):
        await changes.suspend(rt, cs.id, reason="医生临时外出会诊", actor=scheduler)
        [msg] = [m for m in await outbox(rt, city, b.id, "notify") if m.payload["kind"] == "session_suspended"]
        async with rt.db.transaction() as s:
            member = await s.get(Member, b.member_id)
            facts = await notifications.load_facts(s, b.id)
        text = notifications.compose(city, "session_suspended", member, facts, msg.payload["data"])
    assert "因医生临时外出会诊" in text and "停诊" in text and b.id in text and "王建国" in text


async def test_a_paid_booking_is_refunded_when_its_session_is_suspended(rt, city, scheduler):
    cat = await make_catalogue(rt, city, payment_mode="online")
    cs = cat.sessions[0]
    b = await reserve(rt, city, await make_member(rt, city), cat.periods[cs.id][0].id)
    await run(rt, city, engine.confirm_payment, b.id, provider="wechat_pay", payment_ref="wx-1")
    with use_city(city):
        plan = await changes.preview_suspend(rt, cs.id)
        assert plan.bookings[0].refund
        await changes.suspend(rt, cs.id, reason="设备检修", actor=scheduler)
    [refund] = await outbox(rt, city, b.id, "payment.refund")
    assert refund.payload["amount_fen"] == 5000 and refund.payload["payment_ref"] == "wx-1"


async def test_move_to_a_new_day_creates_the_session_and_keeps_booking_numbers(rt, city, catalogue, scheduler):
    cs = catalogue.sessions[0]
    made = await book_all(rt, city, catalogue, cs)
    new_day = cs.date + timedelta(days=7)
    with use_city(city):
        plan = await changes.preview_move(rt, cs.id, new_date=new_day, new_half_day="pm")
        assert plan.target.creates and plan.moved == 4
        assert [(b.target_start, b.target_end) for b in plan.bookings] == [("13:00", "15:00")] * 2 + [("15:00", "17:00")] * 2
        assert await rows(rt, city, ClinicSession, ClinicSession.date == new_day) == []
        result = await changes.move(rt, cs.id, new_date=new_day, new_half_day="pm", reason="门诊楼改造", actor=scheduler)
    [target] = await rows(rt, city, ClinicSession, ClinicSession.date == new_day)
    assert result.target_session_id == target.id and target.half_day == "pm" and target.fee_fen == cs.fee_fen
    assert result.plan.moved == 4
    for b in made:
        after = await booking(rt, city, b.id)
        assert (after.status, after.session_id, after.session_date) == ("confirmed", target.id, new_day)
        assert (await event_kinds(rt, city, b.id))[-1] == "moved"
        notes = await outbox(rt, city, b.id, "notify")
        assert [n.payload["kind"] for n in notes if n.payload["kind"] == "session_moved"] == ["session_moved"]
        stale = [n for n in notes if n.payload["kind"].startswith("reminder") and n.due_at < after.starts_at - timedelta(days=2)]
        assert stale and all(n.status == "done" for n in stale)
    target_pools = await rows(rt, city, SlotPool, SlotPool.session_id == target.id)
    assert sum(p.booked for p in target_pools) == 4 and sum(p.capacity for p in target_pools) == 4
    [session] = await rows(rt, city, ClinicSession, ClinicSession.id == cs.id)
    assert session.status == "cancelled" and "门诊楼改造" in session.status_reason
    with use_city(city):
        facts_member = (await rows(rt, city, Member, Member.id == made[0].member_id))[0]
        [msg] = [m for m in await outbox(rt, city, made[0].id, "notify") if m.payload["kind"] == "session_moved"]
        async with rt.db.transaction() as s:
            text = notifications.compose(
                city, "session_moved", facts_member, await notifications.load_facts(s, made[0].id), msg.payload["data"]
            )
        assert "调整为" in text and made[0].id in text and "下午" in text and "门诊楼改造" in text
        again = await changes.move(rt, cs.id, new_date=new_day, new_half_day="pm", reason="门诊楼改造", actor=scheduler)
        assert again.repeated and again.change_id is None
        with pytest.raises(DomainError) as err:
            await changes.move(rt, cs.id, new_date=new_day, new_half_day="am", reason="x", actor=scheduler)
        assert err.value.code == "session_already_changed"


async def test_move_into_a_fuller_session_cancels_who_finds_no_room(rt, city, catalogue, scheduler):
    source, target = catalogue.sessions[0], catalogue.sessions[2]  # 王建国 day 1 → 王建国 day 2
    assert source.doctor_id == target.doctor_id
    made = await book_all(rt, city, catalogue, source)
    # the target has 4 units; 2 are taken, one by a member who also holds a source booking
    tp = catalogue.periods[target.id]
    await reserve(rt, city, made[0].member_id, tp[0].id)
    await reserve(rt, city, await make_member(rt, city), tp[0].id)
    with use_city(city):
        plan = await changes.preview_move(rt, source.id, new_date=target.date, new_half_day="am")
        by_id = {b.booking_id: b for b in plan.bookings}
        assert by_id[made[0].id].why == "already_booked"
        assert not plan.target.creates and plan.moved == 2 and plan.cancelled == 2
        assert {by_id[b.id].target_period_id for b in made if by_id[b.id].action == "move"} == {tp[1].id}
        result = await changes.move(rt, source.id, new_date=target.date, new_half_day="am", reason="医生调休",
                                    actor=scheduler)
    assert result.plan.model_dump() == plan.model_dump() | {"session_status": "open"}
    for b in made:
        after = await booking(rt, city, b.id)
        expected = by_id[b.id]
        if expected.action == "move":
            assert after.status == "confirmed" and after.period_id == expected.target_period_id
        else:
            assert (after.status, after.cancel_reason) == ("cancelled", "session_moved")
            [msg] = [m for m in await outbox(rt, city, b.id, "notify") if m.payload["kind"] == "session_suspended"]
            assert msg.payload["data"]["moved_to"]
    pools = await rows(rt, city, SlotPool, SlotPool.session_id == target.id)
    assert all(p.booked == p.capacity for p in pools)


async def test_refusals(rt, city, catalogue, scheduler):
    cs = catalogue.sessions[0]
    other = await make_catalogue(rt, await make_city(rt, f"o-{cs.id}-{utcnow().microsecond}"))
    with use_city(city):
        cases = [
            (changes.suspend(rt, cs.id, reason="  ", actor=scheduler), "reason_required"),
            (changes.suspend(rt, cs.id, reason="x", actor=scheduler, hospital_id=catalogue.hospital.id + 999), "not_found"),
            (changes.preview_move(rt, cs.id, new_date=cs.date, new_half_day="am"), "same_session"),
            (changes.preview_move(rt, cs.id, new_date=cs.date, new_half_day="night"), "invalid_half_day"),
            (changes.preview_move(rt, cs.id, new_date=cs.date - timedelta(days=5), new_half_day="am"), "target_in_past"),
            (changes.preview_move(rt, cs.id, new_date=cs.date, new_half_day="pm", new_doctor_id=other.doctor.id),
             "not_found"),
            (changes.preview_suspend(rt, other.sessions[0].id), "not_found"),
        ]
        for coro, code in cases:
            with pytest.raises(DomainError) as err:
                await coro
            assert err.value.code == code, code
        await changes.suspend(rt, cs.id, reason="停电", actor=scheduler)
        with pytest.raises(DomainError) as err:
            await changes.move(rt, cs.id, new_date=cs.date, new_half_day="pm", reason="x", actor=scheduler)
        assert err.value.code == "session_already_changed"
        target = catalogue.sessions[2]
        with pytest.raises(DomainError) as err:  # a suspended session cannot take a move
            await changes.preview_move(rt, target.id, new_date=cs.date, new_half_day="am")
        assert err.value.code == "target_unavailable"
        [listed] = await changes.list_changes(rt, hospital_id=catalogue.hospital.id)
        assert listed.session_id == cs.id


async def test_bookings_racing_a_suspension_never_stay_on_it(rt, pg_only, scheduler):
    city = await make_city(rt, f"race-{utcnow().timestamp():.0f}")
    cat = await make_catalogue(rt, city, capacity=20, periods=1)
    cs = cat.sessions[0]
    period = cat.periods[cs.id][0]
    members = [await make_member(rt, city) for _ in range(16)]

    async def book(member_id):
        with use_city(city):
            try:
                async with rt.db.transaction() as s:
                    await engine.reserve(s, member_id=member_id, period_id=period.id, channel="app")
            except DomainError as exc:
                return exc.code
            return "ok"

    async def stop():
        await asyncio.sleep(0.005)
        with use_city(city):
            await changes.suspend(rt, cs.id, reason="突发停诊", actor=scheduler)
        return "suspended"

    outcomes = await asyncio.gather(*(book(m) for m in members[:8]), stop(), *(book(m) for m in members[8:]))
    assert set(outcomes) <= {"ok", "suspended", "session_unavailable", "slot_full"}
    with use_city(city):
        await changes.suspend(rt, cs.id, reason="突发停诊", actor=scheduler)  # sweeps nothing new
        async with rt.db.transaction() as s:
            holding = await s.scalar(
                select(func.count()).select_from(Booking).where(Booking.session_id == cs.id, Booking.status.in_(HOLDING))
            )
            booked = await s.scalar(select(func.sum(SlotPool.booked)).where(SlotPool.session_id == cs.id))
    assert holding == 0 and booked == 0
