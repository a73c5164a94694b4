"""The HIS talks back: our MLLP listener (run by guahao worker) checks bookings in on ADT^A04,
keeps SIU^S23/S24 for the schedule sync and S26 for the visit sweep, and answers each with an ACK."""

from __future__ import annotations

import asyncio
import socket
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from guahao.core.jobs.background import start_background, stop_background
from guahao.core.models import Booking
from guahao.plugins.his.hl7v2 import Hl7v2His
from guahao.plugins.his.hl7v2.listener import Listeners
from guahao.plugins.his.hl7v2.mllp import HisUnavailable
from guahao.tenants.context import use_city
from guahao.tenants.service import configure_plugin, get_city
from tests.core.test_cli import env  # noqa: F401  (the fixture: the environment names the test database)

from .test_push import book


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def listening(his):
    """The hospital sets listen_port; the worker's listener task serves it."""
    port = free_port()
    await configure_plugin(his.rt.db, his.city, "hl7v2", settings={
        "host": "127.0.0.1", "port": his.sim.port, "timeout": 2, "listen_port": port, "listen_host": "127.0.0.1"})
    await his.refresh()
    listeners = Listeners(his.rt, city_ids={his.city.id})
    await listeners.scan()
    assert list(listeners.servers) == [("127.0.0.1", port)]
    yield port
    for _, server in listeners.servers.values():
        server.close()


async def status(his, booking_id: str) -> str:
    with use_city(his.city):
        async with his.rt.db.transaction() as s:
            return str((await s.scalar(select(Booking).where(Booking.id == booking_id))).status)


async def test_adt_a04_checks_the_booking_in(his, listening):
    b = await book(his)
    await his.drain()
    ack = await his.sim.check_in("127.0.0.1", listening, booking_id=b.id)
    assert (ack.code, ack.text) == ("AA", "已签到")
    assert await status(his, b.id) == "checked_in"
    again = await his.sim.check_in("127.0.0.1", listening, booking_id=b.id)  # a check-in told twice is fine
    assert again.code == "AA"
    inbound = [r for r in await his.log() if r.direction == "in"]
    assert [(r.message_type, r.ack_code, r.booking_id) for r in inbound] == [("ADT^A04", "AA", b.id)] * 2
    [visit] = await Hl7v2His().pull_visit_status(his.city, his.cat.hospital.code, await _checked_in_day(his, b.id),
                                                 {}, {})
    assert visit.booking_id == b.id and visit.outcome == "checked_in"


async def _checked_in_day(his, booking_id):
    with use_city(his.city):
        async with his.rt.db.transaction() as s:
            booking = await s.scalar(select(Booking).where(Booking.id == booking_id))
    return booking.checked_in_at.astimezone(his.city.tz).date()


async def test_a_check_in_by_the_his_reference(his, listening):
    b = await book(his)
    await his.drain()
    filler = his.sim.appointments[b.id].filler_id
    ack = await his.sim.check_in("127.0.0.1", listening, filler_id=filler)
    assert ack.code == "AA" and await status(his, b.id) == "checked_in"


async def test_unknown_or_unfit_bookings_get_ae_with_the_reason(his, listening):
    ack = await his.sim.check_in("127.0.0.1", listening, booking_id="ZZZZZZZZZZ")
    assert ack.code == "AE" and "not_found" in ack.text
    b = await book(his)
    await his.drain()
    from guahao.core.booking import engine

    with use_city(his.city):
        async with his.rt.db.transaction() as s:
            await engine.cancel(s, b.id, member_id=b.member_id, actor="member")
    ack = await his.sim.check_in("127.0.0.1", listening, booking_id=b.id)
    assert ack.code == "AE" and "invalid_state" in ack.text
    noshow = await his.sim.no_show("127.0.0.1", listening, booking_id="NEVERSENT1")
    assert noshow.code == "AE" and "unknown booking" in noshow.text


async def test_blocked_and_unblocked_sessions_are_kept_for_the_sync(his, listening):
    cs = his.cat.sessions[0]
    start = cs.starts_at if hasattr(cs, "starts_at") else datetime.combine(cs.date, datetime.min.time(), his.city.tz)
    doctor = f"D{cs.doctor_id}"
    ack = await his.sim.block("127.0.0.1", listening, doctor_code=doctor, start=start, end=start + timedelta(hours=4),
                              reason="医生外出会诊", department_code=his.cat.department.code)
    assert (ack.code, ack.text) == ("AA", "停诊已登记")
    day = start.astimezone(his.city.tz).date()
    [item] = await Hl7v2His().pull_schedules(his.city, his.cat.hospital.code, day, day, {}, {})
    assert (item.doctor_code, item.date, item.status, item.reason, item.department_code) == (
        doctor, day, "suspended", "医生外出会诊", his.cat.department.code)
    assert item.reference.startswith("SESS-")
    await his.sim.block("127.0.0.1", listening, doctor_code=doctor, start=start, end=start + timedelta(hours=4),
                        unblock=True)
    [item] = await Hl7v2His().pull_schedules(his.city, his.cat.hospital.code, day, day, {}, {})
    assert item.status == "open" and item.reason == ""


async def test_a_no_show_is_kept_for_the_visit_sweep(his, listening):
    b = await book(his)
    await his.drain()
    ack = await his.sim.no_show("127.0.0.1", listening, booking_id=b.id)
    assert ack.code == "AA"
    from guahao.tenants.clock import utcnow

    today = utcnow().astimezone(his.city.tz).date()
    [visit] = await Hl7v2His().pull_visit_status(his.city, his.cat.hospital.code, today, {}, {})
    assert (visit.booking_id, visit.outcome) == (b.id, "no_show")
    assert await status(his, b.id) == "confirmed"  # the sweep, not the listener, records no-shows


async def test_the_worker_starts_the_listener_task(his):
    port = free_port()
    await configure_plugin(his.rt.db, his.city, "hl7v2", settings={
        "host": "127.0.0.1", "port": his.sim.port, "listen_port": port, "listen_host": "127.0.0.1"})
    his.city = await get_city(his.rt.db, his.city.slug)
    b = await book(his)
    await his.drain()
    tasks = await start_background(his.rt)
    try:
        assert any(t.get_name().startswith("hl7v2:") for t in tasks)
        ack = None
        for _ in range(300):  # the task scans at once; give it a moment to bind (a busy machine: seconds)
            try:
                ack = await his.sim.check_in("127.0.0.1", port, booking_id=b.id)
                break
            except HisUnavailable:
                await asyncio.sleep(0.1)
        assert ack is not None, "the listener never bound its port"
        assert ack.code == "AA" and await status(his, b.id) == "checked_in"
    finally:
        await stop_background(tasks)


async def test_guahao_worker_starts_and_stops_the_plugins_tasks(redis_rt):
    from guahao.core.jobs.worker import worker_settings

    settings = worker_settings(redis_rt.settings, runtime=redis_rt)
    ctx: dict = {}
    await settings.on_startup(ctx)
    tasks = ctx["background"]
    assert [t.get_name() for t in tasks if t.get_name().startswith("hl7v2:")]
    await asyncio.sleep(0)
    assert not any(t.done() for t in tasks)
    await settings.on_shutdown(ctx)
    assert all(t.done() for t in tasks)


async def test_a_his_cannot_check_in_a_booking_it_never_accepted(his, listening):
    his.sim.reject_next(1)
    refused = await book(his)
    await his.drain()  # the HIS answered AR: it does not have this booking
    ack = await his.sim.check_in("127.0.0.1", listening, booking_id=refused.id)
    assert ack.code == "AE" and "unknown booking" in ack.text
    assert await status(his, refused.id) == "confirmed"


async def test_a_process_no_hook_ran_in_reads_with_a_runtime_of_its_own(his, listening, env):  # noqa: F811
    from guahao.plugins.his.hl7v2 import log as hl7_log

    cs = his.cat.sessions[0]
    start = datetime.combine(cs.date, datetime.min.time(), his.city.tz) + timedelta(hours=8)
    await his.sim.block("127.0.0.1", listening, doctor_code=f"D{cs.doctor_id}", start=start,
                        end=start + timedelta(hours=4))
    saved = hl7_log._runtime
    hl7_log._runtime = None  # as in `guahao his sync`, before any hook of the plugin ran
    try:
        [item] = await Hl7v2His().pull_schedules(his.city, his.cat.hospital.code, cs.date, cs.date, {}, {})
        assert item.status == "suspended" and hl7_log._own is not None and hl7_log._own is not his.rt
    finally:
        if hl7_log._own is not None:
            await hl7_log._own.stop()
        hl7_log._runtime, hl7_log._own = saved, None


async def test_time_the_his_opens_with_s24_becomes_a_bookable_session(his, listening):
    from guahao.core.booking import service
    from guahao.core.his.sync import sync_schedules
    from guahao.core.models import ClinicSession, Period
    from tests.core.booking.helpers import make_member

    await configure_plugin(his.rt.db, his.city, "hl7v2", settings={
        "host": "127.0.0.1", "port": his.sim.port, "listen_port": listening, "listen_host": "127.0.0.1",
        "slot_minutes": 30, "slot_capacity": 3})
    his.city = await get_city(his.rt.db, his.city.slug)
    cs = his.cat.sessions[0]
    day = cs.date + timedelta(days=1)
    start = datetime.combine(day, datetime.min.time(), his.city.tz).replace(hour=14)
    ack = await his.sim.block("127.0.0.1", listening, doctor_code=f"D{cs.doctor_id}", start=start,
                              end=start + timedelta(hours=2), department_code=his.cat.department.code, unblock=True)
    assert ack.code == "AA"
    with use_city(his.city):
        run = await sync_schedules(his.rt, his.cat.hospital.id, date_from=day, date_to=day)
        assert run.outcome == "ok", run
        async with his.rt.db.transaction() as s:
            [opened] = (await s.scalars(select(ClinicSession).where(
                ClinicSession.doctor_id == cs.doctor_id, ClinicSession.date == day, ClinicSession.half_day == "pm"))).all()
            periods = (await s.scalars(select(Period).where(Period.session_id == opened.id).order_by(Period.id))).all()
        assert len(periods) == 4  # 14:00–16:00 in periods of 30 minutes
        member = await make_member(his.rt, his.city)
        booked, status, _ = await service.book(his.rt, member_id=member, period_id=periods[0].id, channel="app",
                                               idempotency_key="s24-first")
    assert status == 201 and booked["status"] == "confirmed" and booked["start"] == "14:00"
