"""Pushes over MLLP to the simulated HIS: AA recorded with the HIS's reference, AE retried, AR
failed for good with the HIS's text, a HIS down during a burst gets every push once, a move
is an S13, a payment and its refund are S14s."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from guahao.core.audit import Actor
from guahao.core.backoffice import changes
from guahao.core.jobs.context import BACKOFF_MAX_SECONDS
from guahao.core.models import Booking
from guahao.core.payments import payment_received
from guahao.plugins.his.hl7v2 import messages as m
from guahao.tenants.clock import frozen, utcnow
from guahao.tenants.context import use_city
from tests.core.booking.helpers import make_member, reserve

SCHEDULER = Actor("staff", 7, name="排班员小李", role="hospital_scheduler")


async def book(his, session_index: int = 0, period_index: int = 0) -> Booking:
    period = his.cat.periods[his.cat.sessions[session_index].id][period_index]
    return await reserve(his.rt, his.city, await make_member(his.rt, his.city, name="李四"), period.id)


async def test_a_booking_is_pushed_as_s12_and_the_his_reference_recorded(his):
    b = await book(his)
    await his.drain()
    [push] = await his.pushes(b.id)
    appt = his.sim.appointments[b.id]
    assert push["action"] == "book" and push["adapter"] == "hl7v2"
    assert push["reference"] == appt.filler_id and push["message"] == "预约已登记"
    [got] = his.sim.messages_of("SIU^S12")
    msg = m.parse(got.er7)
    assert m.value(msg, "SCH.F1.R1.C1") == b.id and m.value(msg, "AIP.F3.R1.C1") == f"D{b.doctor_id}"
    assert m.value(msg, "AIL.F3.R1.C1") == his.cat.department.code and m.value(msg, "MSH.F6") == his.cat.hospital.code
    assert m.value(msg, "PID.F5") == "李四" and m.value(msg, "PID.F3.R1.C5") == "MID"  # masked by default
    assert "*" in m.value(msg, "PID.F3.R1.C1")
    [row] = await his.log()
    assert (row.direction, row.message_type, row.ack_code, row.booking_id, row.reference) == (
        "out", "SIU^S12", "AA", b.id, appt.filler_id)

    await his.drain()  # nothing is pushed twice
    assert len(his.sim.messages_of("SIU^S12")) == 1 and len(await his.pushes(b.id)) == 1


async def test_ae_is_retried_with_the_his_text_then_accepted(his):
    his.sim.error_next(1, "HIS 数据库忙")
    b = await book(his)
    await his.drain()
    [row] = await his.outbox(booking_id=b.id)
    assert row.status == "pending" and row.attempts == 1 and "HIS 数据库忙" in row.last_error
    assert "HisApplicationError" in row.last_error and await his.pushes(b.id) == []
    with frozen(utcnow() + timedelta(seconds=BACKOFF_MAX_SECONDS)):
        await his.drain()
    [row] = await his.outbox(booking_id=b.id)
    assert row.status == "done"
    [push] = await his.pushes(b.id)
    assert push["reference"] == his.sim.appointments[b.id].filler_id
    assert [r.ack_code for r in await his.log()] == ["AE", "AA"]


async def test_ar_fails_the_delivery_at_once_with_the_his_text(his):
    his.sim.reject_next(1, "患者身份不符")
    b = await book(his)
    await his.drain()
    [row] = await his.outbox(booking_id=b.id)
    assert row.status == "failed" and row.attempts == 1 and "患者身份不符" in row.last_error
    assert "HisRejected" in row.last_error
    with frozen(utcnow() + timedelta(seconds=BACKOFF_MAX_SECONDS)):
        await his.drain()
    assert len(his.sim.received) == 1 and b.id not in his.sim.appointments  # not sent again
    assert (await his.outbox(booking_id=b.id))[0].status == "failed"


async def test_no_answer_is_retried(his):
    his.sim.silence_next(1)
    b = await book(his)
    await his.drain()
    [row] = await his.outbox(booking_id=b.id)
    assert row.status == "pending" and "sent no ACK within 2 s" in row.last_error
    [logged] = await his.log()
    assert logged.ack_code == "" and "no ACK" in logged.text
    with frozen(utcnow() + timedelta(seconds=BACKOFF_MAX_SECONDS)):
        await his.drain()
    assert [p["action"] for p in await his.pushes(b.id)] == ["book"]


async def test_cancellation_is_s15_with_the_his_reference(his):
    b = await book(his)
    await his.drain()
    from guahao.core.booking import engine

    with use_city(his.city):
        async with his.rt.db.transaction() as s:
            await engine.cancel(s, b.id, member_id=b.member_id, actor="member")
    await his.drain()
    [cancel] = his.sim.messages_of("SIU^S15")
    msg = m.parse(cancel.er7)
    assert m.value(msg, "SCH.F2.R1.C1") == his.sim.appointments[b.id].filler_id
    assert m.value(msg, "SCH.F25") == "Cancelled" and his.sim.appointments[b.id].status == "Cancelled"
    assert [p["action"] for p in await his.pushes(b.id)] == ["book", "cancel"]


async def test_a_moved_session_pushes_s13_with_the_new_time(his):
    b = await book(his)
    await his.drain()
    cs = his.cat.sessions[0]
    new_day = cs.date + timedelta(days=7)
    with use_city(his.city):
        await changes.move(his.rt, cs.id, new_date=new_day, new_half_day="pm", reason="门诊楼改造", actor=SCHEDULER)
    await his.drain()
    [moved] = his.sim.messages_of("SIU^S13")
    msg = m.parse(moved.er7)
    assert m.value(msg, "SCH.F1.R1.C1") == b.id and m.value(msg, "SCH.F25") == "Booked"
    assert m.value(msg, "SCH.F11.R1.C4").startswith(new_day.strftime("%Y%m%d") + "13")
    assert m.value(msg, "NTE.F3").startswith(f"改约，原时间 {cs.date.isoformat()} 08:00")
    assert his.sim.appointments[b.id].events == ["S12", "S13"]
    pushes = await his.pushes(b.id)
    assert [p["action"] for p in pushes] == ["book", "move"] and pushes[1]["key"]
    await his.drain()
    assert len(his.sim.messages_of("SIU^S13")) == 1


async def test_a_move_waits_for_the_booking_push(his):
    his.sim.error_next(1)
    b = await book(his)
    await his.drain()  # the S12 got AE: still owed
    cs = his.cat.sessions[0]
    with use_city(his.city):
        await changes.move(his.rt, cs.id, new_date=cs.date + timedelta(days=7), new_half_day="pm", reason="调班",
                           actor=SCHEDULER)
    await his.drain()
    [move] = await his.outbox(booking_id=b.id, action="move")
    assert move.status == "pending" and "HisPushWaiting" in move.last_error
    with frozen(utcnow() + timedelta(seconds=BACKOFF_MAX_SECONDS)):
        await his.drain()
    with frozen(utcnow() + timedelta(seconds=2 * BACKOFF_MAX_SECONDS)):
        await his.drain()
    assert [p["action"] for p in await his.pushes(b.id)] == ["book", "move"]


async def test_payment_and_refund_are_s14(rt, city, sim):
    from guahao.plugins.his.hl7v2 import log as hl7_log
    from tests.factories import make_catalogue
    from tests.plugins.hl7v2.conftest import His, use_hl7v2

    hl7_log.remember_runtime(rt)
    cat = await make_catalogue(rt, city, payment_mode="online")
    city = await use_hl7v2(rt, city, cat.hospital.id, sim.port)
    his = His(rt, city, cat, sim)
    b = await book(his)
    with use_city(city):
        async with rt.db.transaction() as s:
            assert await payment_received(s, b.id, provider="stripe", payment_ref="pi_123", amount_fen=b.fee_fen) == "confirmed"
    await his.drain()
    with frozen(utcnow() + timedelta(seconds=BACKOFF_MAX_SECONDS)):  # a payment run before its booking waits
        await his.drain()
    assert [p["action"] for p in await his.pushes(b.id)] == ["book", "payment"]
    [paid] = sim.messages_of("SIU^S14")
    msg = m.parse(paid.er7)
    assert (m.value(msg, "ZPM.F2"), m.value(msg, "ZPM.F4"), m.value(msg, "ZPM.F5"), m.value(msg, "ZPM.F6")) == (
        "PAY", "stripe", "pi_123", str(b.fee_fen))

    # A refund recorded by the payments module is told to the HIS as another S14 (REF).
    from guahao.core.booking import events

    with use_city(city):
        async with rt.db.transaction() as s:
            booking = await s.scalar(select(Booking).where(Booking.id == b.id))
            events.his_push(s, booking, "refund", now=utcnow(), refund={
                "provider": "stripe", "reference": "re_9", "payment_reference": "pi_123", "amount_fen": b.fee_fen})
            events.his_push(s, booking, "refund", now=utcnow(), refund={
                "provider": "stripe", "reference": "re_10", "payment_reference": "pi_unknown", "amount_fen": 1})
            await events.write(s)
    with frozen(utcnow() + timedelta(seconds=2 * BACKOFF_MAX_SECONDS)):
        await his.drain()
    assert [p["action"] for p in await his.pushes(b.id)] == ["book", "payment", "refund"]  # unknown payment: not told
    refund = m.parse(sim.messages_of("SIU^S14")[1].er7)
    assert (m.value(refund, "ZPM.F2"), m.value(refund, "ZPM.F5")) == ("REF", "re_9")


async def test_a_his_down_during_a_burst_of_200_bookings_gets_each_push_once(rt, city, sim):
    from guahao.plugins.his.hl7v2 import log as hl7_log
    from tests.factories import make_catalogue
    from tests.plugins.hl7v2.conftest import His, use_hl7v2

    hl7_log.remember_runtime(rt)
    cat = await make_catalogue(rt, city, capacity=50, periods=2)
    city = await use_hl7v2(rt, city, cat.hospital.id, sim.port, timeout=1)
    his = His(rt, city, cat, sim)
    await sim.stop()  # the HIS is down
    made = []
    for cs in cat.sessions:
        for period in cat.periods[cs.id]:
            for _ in range(cat.public_pool(period.id).capacity):
                if len(made) < 200:
                    made.append(await reserve(rt, city, await make_member(rt, city), period.id))
    assert len(made) == 200
    await his.drain()
    rows = await his.outbox()
    assert len(rows) == 200 and all(r.status == "pending" and "cannot be reached" in r.last_error for r in rows)

    await sim.start()  # back, on the same port
    with frozen(utcnow() + timedelta(seconds=BACKOFF_MAX_SECONDS)):
        await his.drain()
    assert [r.status for r in await his.outbox()] == ["done"] * 200
    assert sorted(sim.appointments) == sorted(b.id for b in made)
    assert len(sim.messages_of("SIU^S12")) == 200
    for b in made:
        assert [p["action"] for p in await his.pushes(b.id)] == ["book"]


async def test_health_reports_whether_the_his_answers(his):
    from guahao.plugins.his.hl7v2 import Hl7v2His

    adapter = Hl7v2His()
    up = await adapter.health(his.city, {"host": "127.0.0.1", "port": his.sim.port, "timeout": 2}, {})
    assert up.ok and up.latency_ms is not None and f"127.0.0.1:{his.sim.port}" in up.detail
    await his.sim.stop()
    down = await adapter.health(his.city, {"host": "127.0.0.1", "port": his.sim.port, "timeout": 2}, {})
    assert not down.ok and "cannot be reached" in down.detail
    unset = await adapter.health(his.city, {"port": 2575}, {})
    assert not unset.ok and "guahao his set" in unset.detail
    assert adapter.supports("move") and adapter.supports("schedules") and not adapter.supports("fees")


async def test_a_his_that_takes_no_payment_messages_is_not_sent_them(rt, city, monkeypatch):
    from guahao.core.jobs import drain_in_process
    from guahao.plugins.his.demo import DemoHis
    from tests.factories import make_catalogue
    from tests.plugins.hl7v2.conftest import His

    monkeypatch.setattr(DemoHis, "operations", frozenset({"book", "cancel"}))  # a HIS of bookings only
    cat = await make_catalogue(rt, city, payment_mode="online")
    his = His(rt, city, cat, None)
    b = await book(his)
    with use_city(city):
        async with rt.db.transaction() as s:
            await payment_received(s, b.id, provider="stripe", payment_ref="pi_9", amount_fen=b.fee_fen)
    for extra in (0, BACKOFF_MAX_SECONDS):
        with frozen(utcnow() + timedelta(seconds=extra)):
            await drain_in_process(rt, city_id=city.id)
    assert [p["action"] for p in await his.pushes(b.id)] == ["book"]
    assert all(r.status == "done" for r in await his.outbox(booking_id=b.id))


async def test_the_platforms_no_show_sweep_sends_s26(his, rt):
    from guahao.core.booking import engine

    b = await book(his)
    await his.drain()
    with frozen(b.ends_at + timedelta(minutes=1)):
        with use_city(his.city):
            async with rt.db.transaction() as s:
                assert await engine.mark_no_shows(s) == [b.id]
        await his.drain()
    assert [p["action"] for p in await his.pushes(b.id)] == ["book", "no_show"]
    [s26] = his.sim.messages_of("SIU^S26")
    assert s26.ack_code == "AA" and b.id in s26.er7
    assert his.sim.appointments[b.id].events[-1] == "S26"


async def test_a_his_that_takes_no_no_show_messages_is_not_sent_them(rt, city):
    from guahao.core.booking import engine
    from guahao.core.jobs import drain_in_process
    from tests.factories import make_catalogue
    from tests.plugins.hl7v2.conftest import His

    cat = await make_catalogue(rt, city)  # the city's demo HIS: no no-show messages
    his = His(rt, city, cat, None)
    b = await book(his)
    with frozen(b.ends_at + timedelta(minutes=1)):
        with use_city(city):
            async with rt.db.transaction() as s:
                assert await engine.mark_no_shows(s) == [b.id]
        await drain_in_process(rt, city_id=city.id)
    assert [p["action"] for p in await his.pushes(b.id)] == ["book"]
    assert all(r.status == "done" for r in await his.outbox(booking_id=b.id))
