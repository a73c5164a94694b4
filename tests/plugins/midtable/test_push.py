"""Pushes are rows of mt_request: written once however often the outbox retries, answered by
the HIS marking them DONE (its number recorded) or ERROR (the delivery fails at once with its
text); a database that cannot be reached is retried; moves, payments, refunds and cancellations
are rows of their own."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta

import pytest
from sqlalchemy import select

from guahao.core.audit import Actor
from guahao.core.backoffice import changes
from guahao.core.booking import engine, events
from guahao.core.jobs.context import BACKOFF_MAX_SECONDS
from guahao.core.models import Booking, Hospital
from guahao.core.payments import payment_received
from guahao.plugins.his.midtable import MidtableHis
from guahao.plugins.his.midtable.database import HisUnavailable
from guahao.tenants.clock import frozen, utcnow
from guahao.tenants.context import use_city
from guahao.tenants.service import configure_plugin, get_city
from tests.core.booking.helpers import make_member, reserve
from tests.factories import make_catalogue

from .conftest import His, settings_for, use_midtable

SCHEDULER = Actor("staff", 7, name="排班员小李", role="hospital_scheduler")


async def book(his, session_index: int = 0, period_index: int = 0) -> Booking:
    period = his.cat.periods[his.cat.sessions[session_index].id][period_index]
    return await reserve(his.rt, his.city, await make_member(his.rt, his.city, name="李四"), period.id)


async def later(his, steps: int = 1) -> None:
    with frozen(utcnow() + timedelta(seconds=steps * BACKOFF_MAX_SECONDS)):
        await his.drain()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_booking_is_one_row_however_often_it_is_retried(his):
    b = await book(his)
    await his.drain()
    [row] = await his.sim.requests()
    assert (row["request_id"], row["action"], row["status"], row["hospital_code"]) == (f"{b.id}:BOOK", "BOOK", "NEW", "H1")
    assert row["booking_id"] == b.id and row["doctor_code"] == f"D{b.doctor_id}" and row["department_code"] == "03.01"
    assert row["patient_name"] == "李四" and "*" in row["patient_id_number"]  # masked unless agreed otherwise
    assert str(row["clinic_date"]) == b.session_date.isoformat() and row["fee_fen"] == b.fee_fen
    [out] = await his.outbox(booking_id=b.id)
    assert out.status == "pending" and "HisPending" in out.last_error and "not processed it yet" in out.last_error

    await later(his)  # the outbox tries again: the row is there already, nothing is written
    assert len(await his.sim.requests()) == 1 and await his.pushes(b.id) == []

    [done] = await his.sim.process()
    await later(his, 2)
    [push] = await his.pushes(b.id)
    assert push["action"] == "book" and push["adapter"] == "midtable"
    assert (push["reference"], push["message"]) == (done["his_no"], "预约已登记")
    assert [r["status"] for r in await his.sim.requests()] == ["DONE"]
    await later(his, 3)
    assert len(await his.sim.requests()) == 1 and len(await his.pushes(b.id)) == 1


async def test_a_push_waits_for_a_his_that_answers_quickly(rt, city, sim):
    cat = await make_catalogue(rt, city)
    city = await use_midtable(rt, city, cat.hospital.id, sim, ack_wait=5)
    his = His(rt, city, cat, sim)
    serving = asyncio.create_task(sim.serve(0.1))
    try:
        b = await book(his)
        await his.drain()
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
    [push] = await his.pushes(b.id)
    assert push["reference"].startswith("GH") and [r.status for r in await his.outbox(booking_id=b.id)] == ["done"]


async def test_a_row_the_his_marks_error_fails_the_delivery_with_its_text(his):
    b = await book(his)
    his.sim.reject[b.id] = "患者身份不符，拒绝预约"
    await his.drain()
    await his.sim.process()
    await later(his)
    [out] = await his.outbox(booking_id=b.id)
    assert out.status == "failed" and "HisRejected" in out.last_error and "患者身份不符" in out.last_error
    await later(his, 3)
    assert (await his.outbox(booking_id=b.id))[0].status == "failed" and len(await his.sim.requests()) == 1


async def test_a_database_that_cannot_be_reached_is_retried_then_written_once(rt, city, sim):
    cat = await make_catalogue(rt, city)
    city = await use_midtable(rt, city, cat.hospital.id, sim)
    port = closed_port()
    await configure_plugin(rt.db, city, "midtable", settings=settings_for(
        sim, url=f"mysql+aiomysql://root@127.0.0.1:{port}/{sim.database}"))
    city = await get_city(rt.db, city.slug)
    his = His(rt, city, cat, sim)
    b = await book(his)
    await his.drain()
    [out] = await his.outbox(booking_id=b.id)
    assert out.status == "pending" and "HisUnavailable" in out.last_error and "cannot be reached" in out.last_error
    assert f"127.0.0.1:{port}/{sim.database}" in out.last_error

    his.city = await use_midtable(rt, city, cat.hospital.id, sim)  # the database is back
    await later(his)
    await his.sim.process()
    await later(his, 2)
    assert [p["action"] for p in await his.pushes(b.id)] == ["book"] and len(await sim.requests()) == 1


async def test_cancellation_carries_the_his_number(his):
    b = await book(his)
    await his.drain()
    [done] = await his.sim.process()
    await later(his)
    with use_city(his.city):
        async with his.rt.db.transaction() as s:
            await engine.cancel(s, b.id, member_id=b.member_id, actor="member")
    await later(his, 2)
    await his.sim.process()
    await later(his, 3)
    book_row, cancel = await his.sim.requests()
    assert (cancel["action"], cancel["request_id"], cancel["booking_his_no"]) == ("CANCEL", f"{b.id}:CANCEL", done["his_no"])
    assert cancel["status"] == "DONE" and cancel["reason"]
    assert [p["action"] for p in await his.pushes(b.id)] == ["book", "cancel"]


async def test_a_moved_session_is_a_move_row_with_the_old_and_new_time(his):
    b = await book(his)
    await his.drain()
    await his.sim.process()
    await later(his)
    cs = his.cat.sessions[0]
    new_day = cs.date + timedelta(days=7)
    with use_city(his.city):
        await changes.move(his.rt, cs.id, new_date=new_day, new_half_day="pm", reason="门诊楼改造", actor=SCHEDULER)
    await later(his, 2)
    await his.sim.process()
    await later(his, 3)
    move = (await his.sim.requests(action="MOVE"))[0]
    assert str(move["clinic_date"]) == new_day.isoformat() and move["half_day"] == "pm"
    assert str(move["previous_date"]) == cs.date.isoformat() and str(move["previous_start"]).startswith("8:00")
    assert move["status"] == "DONE" and move["request_id"].startswith(f"{b.id}:MOVE:")
    assert [p["action"] for p in await his.pushes(b.id)] == ["book", "move"]


async def test_payment_and_refund_rows(rt, city, sim):
    cat = await make_catalogue(rt, city, payment_mode="online")
    city = await use_midtable(rt, city, cat.hospital.id, sim)
    his = His(rt, city, cat, sim)
    b = await book(his)
    with use_city(city):
        async with rt.db.transaction() as s:
            assert await payment_received(s, b.id, provider="wechatpay", payment_ref="4200001", amount_fen=b.fee_fen) \
                == "confirmed"
    for step in range(1, 5):
        await his.sim.process()
        await later(his, step)
    assert [p["action"] for p in await his.pushes(b.id)] == ["book", "payment"]
    [pay] = await sim.requests(action="PAY")
    assert (pay["pay_provider"], pay["pay_reference"], pay["amount_fen"], pay["pay_kind"]) == (
        "wechatpay", "4200001", b.fee_fen, "registration")
    assert pay["request_id"] == f"{b.id}:PAY:4200001" and pay["his_no"].startswith("SF")

    with use_city(city):
        async with rt.db.transaction() as s:
            booking = await s.scalar(select(Booking).where(Booking.id == b.id))
            events.his_push(s, booking, "refund", now=utcnow(), refund={
                "provider": "wechatpay", "reference": "R-1", "payment_reference": "4200001", "amount_fen": b.fee_fen})
            await events.write(s)
    for step in range(5, 8):
        await his.sim.process()
        await later(his, step)
    [refund] = await sim.requests(action="REFUND")
    assert (refund["pay_reference"], refund["refund_of"], refund["amount_fen"], refund["status"]) == (
        "R-1", "4200001", b.fee_fen, "DONE")
    assert [p["action"] for p in await his.pushes(b.id)] == ["book", "payment", "refund"]


async def test_health_reports_whether_the_database_answers(his, sim):
    adapter = MidtableHis()
    up = await adapter.health(his.city, settings_for(sim), {})
    assert up.ok and up.latency_ms is not None and sim.database in up.detail
    port = closed_port()
    down = await adapter.health(his.city, settings_for(sim, url=f"mysql+aiomysql://root@127.0.0.1:{port}/x"), {})
    assert not down.ok and "cannot be reached" in down.detail and f"127.0.0.1:{port}" in down.detail
    missing = await adapter.health(his.city, settings_for(sim, table_prefix="zz_"), {})
    assert not missing.ok and "zz_schedule" in missing.detail
    wrong = await adapter.health(his.city, settings_for(sim), {"password": "not-the-password-4711"})
    assert not wrong.ok and "Access denied" in wrong.detail and "not-the-password-4711" not in wrong.detail
    unset = await adapter.health(his.city, {}, {})
    assert not unset.ok and "guahao his set" in unset.detail
    assert all(adapter.supports(op) for op in ("book", "cancel", "move", "payment", "refund", "schedules", "visits",
                                               "fees", "health"))


async def test_a_database_down_during_a_burst_of_200_bookings_gets_each_row_once(rt, city, sim):
    cat = await make_catalogue(rt, city, capacity=50, periods=2)
    port = closed_port()
    await configure_plugin(rt.db, city, "midtable", settings=settings_for(
        sim, url=f"mysql+aiomysql://root@127.0.0.1:{port}/{sim.database}"))
    with use_city(city):
        async with rt.db.transaction() as s:
            (await s.scalar(select(Hospital).where(Hospital.id == cat.hospital.id))).his_adapter = "midtable"
    his = His(rt, await get_city(rt.db, city.slug), cat, sim)
    made = []
    for cs in cat.sessions:
        for period in cat.periods[cs.id]:
            for _ in range(cat.public_pool(period.id).capacity):
                if len(made) < 200:
                    made.append(await reserve(rt, his.city, await make_member(rt, his.city), period.id))
    assert len(made) == 200
    await his.drain()
    rows = await his.outbox()
    assert len(rows) == 200 and all(r.status == "pending" and "cannot be reached" in r.last_error for r in rows)

    his.city = await use_midtable(rt, his.city, cat.hospital.id, sim)  # the database is back
    await later(his)  # every row written, none answered yet
    assert len(await sim.requests()) == 200
    await sim.process(limit=500)
    await later(his, 2)  # tried again: the answers read, nothing written twice
    assert [r.status for r in await his.outbox()] == ["done"] * 200
    written = await sim.requests()
    assert sorted(r["booking_id"] for r in written) == sorted(b.id for b in made)
    assert {r["status"] for r in written} == {"DONE"} and len({r["his_no"] for r in written}) == 200
    for b in made[:20]:
        assert [p["action"] for p in await his.pushes(b.id)] == ["book"]


async def test_a_database_that_never_answers_does_not_hold_the_push(his, sim):
    booking = {"id": "LOCKD-00001", "his": {"hospital_code": "H1"}, "date": "2030-01-07", "start": "08:00", "end": "08:30"}
    async with sim.connection() as conn, conn.cursor() as cur:
        await cur.execute("LOCK TABLES mt_request WRITE")  # the HIS holds the table
        try:
            started = asyncio.get_running_loop().time()
            with pytest.raises(HisUnavailable, match="did not answer within 2 s"):
                await MidtableHis().push_booking(his.city, booking, settings_for(sim, timeout=1), {})
            waited = asyncio.get_running_loop().time() - started
        finally:
            await cur.execute("UNLOCK TABLES")
    assert waited < 4
    assert await sim.requests() == []  # the abandoned statement wrote nothing
