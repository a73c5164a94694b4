"""What the HIS writes comes to the platform through core's sync (the path `guahao his sync`
takes): published schedules become bookable sessions, capacity changes follow, a 停诊 suspends
the session (bookings cancelled, members told); visit rows check bookings in or make them
no-shows with their credit consequences; fee items are a patient's unpaid charges."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from guahao.core.booking.service import book as book_through_service
from guahao.core.his.sync import sweep_visits, sync_schedules
from guahao.core.models import Booking, CreditEvent, HisSession, Notification
from guahao.plugins.his.midtable import MidtableHis
from guahao.tenants.clock import frozen
from guahao.tenants.context import use_city
from tests.core.booking.helpers import make_member, reserve
from tests.core.his.helpers import local_today, periods_and_pools, sessions_of

from .conftest import settings_for
from .test_push import later


async def _sync(his, day, days: int = 0):
    with use_city(his.city):
        return await sync_schedules(his.rt, his.cat.hospital.id, date_from=day, date_to=day + timedelta(days=days),
                                    trigger="cli")


async def _publish(his, session_no: str, day, doctor, capacity: int = 3, fee_fen: int | None = 800):
    await his.sim.publish(his.code, session_no, doctor_code=f"D{doctor.id}", doctor_name=doctor.name, day=day,
                          half_day="pm", department_code=his.cat.department.code, fee_fen=fee_fen, onsite=1,
                          periods=[("13:00", "14:00", capacity), ("14:00", "15:00", capacity)])


async def test_published_sessions_become_bookable_and_follow_the_his(his):
    day = local_today(his.city) + timedelta(days=5)
    await _publish(his, "P-1", day, his.cat.doctor)
    await _publish(his, "P-2", day, his.cat.doctor2, fee_fen=None)
    await his.sim.publish(his.code, "P-X", doctor_code="D999999", day=day, half_day="am", periods=[("08:00", "09:00", 2)])

    run = await _sync(his, day)
    assert (run.outcome, run.items, run.created, run.changed, run.suspended) == ("ok", 3, 2, 0, 0)
    assert [c["code"] for c in run.details["conflicts"]] == ["unknown_doctor"]
    made = await sessions_of(his.rt, his.city, his.cat.hospital.id)
    assert {(cs.doctor_id, cs.date) for cs in made} == {(his.cat.doctor.id, day), (his.cat.doctor2.id, day)}
    mine = next(cs for cs in made if cs.doctor_id == his.cat.doctor.id)
    assert mine.fee_fen == 800
    periods = await periods_and_pools(his.rt, his.city, mine.id)
    assert [f"{p.start:%H:%M}-{p.end:%H:%M}" for p, _ in periods] == ["13:00-14:00", "14:00-15:00"]
    assert all({k: v.capacity for k, v in pools.items()} == {"public": 3, "onsite": 1} for _, pools in periods)
    with use_city(his.city):
        async with his.rt.db.transaction() as s:
            refs = {x.reference for x in (await s.scalars(select(HisSession).where(HisSession.adapter == "midtable"))).all()}
    assert refs == {"P-1", "P-2"}

    again = await _sync(his, day)  # nothing new in the HIS: nothing changes
    assert (again.items, again.created, again.changed) == (3, 0, 0)

    member = await make_member(his.rt, his.city)
    with use_city(his.city):
        view, status, _ = await book_through_service(his.rt, member_id=member, period_id=periods[0][0].id,
                                                     channel="web")
    assert (status, view["status"]) == (201, "confirmed")

    await his.sim.set_capacity(his.code, "P-1", 2, 6)
    grown = await _sync(his, day)
    assert (grown.created, grown.changed) == (0, 1)
    pools = {f"{p.start:%H:%M}": pp["public"].capacity for p, pp in await periods_and_pools(his.rt, his.city, mine.id)}
    assert pools == {"13:00": 3, "14:00": 6}

    from guahao.core.his.reconcile import reconcile

    await his.sim.set_capacity(his.code, "P-2", 1, 7)  # changed at the HIS, not pulled yet
    with use_city(his.city):
        report = await reconcile(his.rt, his.cat.hospital.id, day)
    assert report.errors == [] and {"sessions", "bookings"} <= set(report.compared)
    assert [(d.code, d.platform, d.his) for d in report.differences if d.kind == "period"] == [
        ("capacity_differs", "3", "7")]


async def test_a_his_stop_suspends_the_session_and_tells_the_booked(his):
    day = local_today(his.city) + timedelta(days=4)
    await _publish(his, "P-9", day, his.cat.doctor)
    await _sync(his, day)
    [cs] = [x for x in await sessions_of(his.rt, his.city, his.cat.hospital.id) if x.doctor_id == his.cat.doctor.id]
    periods = await periods_and_pools(his.rt, his.city, cs.id)
    members = [await make_member(his.rt, his.city, name=n) for n in ("赵一", "钱二")]
    bookings = [await reserve(his.rt, his.city, m, p.id) for m, (p, _) in zip(members, periods, strict=True)]

    await his.sim.stop(his.code, "P-9", "医生外出会诊")
    run = await _sync(his, day)
    await his.drain()
    assert (run.outcome, run.suspended) == ("ok", 1)
    with use_city(his.city):
        async with his.rt.db.transaction() as s:
            rows = (await s.scalars(select(Booking).where(Booking.id.in_([b.id for b in bookings])))).all()
            notes = (await s.scalars(select(Notification).where(Notification.kind == "session_suspended"))).all()
    assert {str(b.status) for b in rows} == {"cancelled"}
    assert {n.member_id for n in notes} == set(members) and all("医生外出会诊" in n.body for n in notes)
    assert (await _sync(his, day)).suspended == 0  # told once


async def _visit_setup(his):
    session = his.cat.sessions[0]
    first, second = his.cat.periods[session.id]
    absent, present = await make_member(his.rt, his.city, name="孙三"), await make_member(his.rt, his.city, name="周四")
    gone = await reserve(his.rt, his.city, absent, first.id)
    came = await reserve(his.rt, his.city, present, second.id)
    return session, second, absent, gone, came


async def test_visit_rows_check_in_and_make_no_shows(his):
    session, second, absent, gone, came = await _visit_setup(his)
    local = session.date
    await his.sim.visit(his.code, came.id, "CHECKED_IN", day=local, at=datetime.combine(local, second.start), his_no="V1")
    await his.sim.visit(his.code, gone.id, "NO_SHOW", day=local)

    reported = await MidtableHis().pull_visit_status(his.city, his.code, local, settings_for(his.sim), {})
    assert {(v.booking_id, v.outcome, v.reference) for v in reported} == {(came.id, "checked_in", "V1"),
                                                                       (gone.id, "no_show", "")}
    [checked] = [v for v in reported if v.booking_id == came.id]
    assert checked.at is not None and checked.at.astimezone(his.city.tz).time() == second.start

    after = second.ends_at + timedelta(minutes=1)
    with frozen(after), use_city(his.city):
        run = await sweep_visits(his.rt, his.cat.hospital.id, local, trigger="cli")
    assert (run.outcome, run.details["checked_in"], run.details["no_shows"], run.details["not_seen"]) == ("ok", 1, 1, 0)
    with use_city(his.city):
        async with his.rt.db.transaction() as s:
            status = {b.id: str(b.status) for b in (await s.scalars(select(Booking).where(
                Booking.id.in_([gone.id, came.id])))).all()}
            credit = (await s.scalars(select(CreditEvent).where(CreditEvent.member_id == absent))).all()
    assert status == {gone.id: "no_show", came.id: "checked_in"}
    assert [e.kind for e in credit] == ["no_show", "suspended"]

    await his.sim.visit(his.code, came.id, "SEEN", day=local)  # a later row of the same visit wins
    [seen] = [v for v in await MidtableHis().pull_visit_status(his.city, his.code, local, settings_for(his.sim), {})
              if v.booking_id == came.id]
    assert seen.outcome == "seen"


async def test_a_complete_visit_list_makes_the_unlisted_no_shows(his):
    session, second, _, gone, came = await _visit_setup(his)
    await his.sim.visit(his.code, came.id, "SEEN", day=session.date)
    with use_city(his.city):
        from guahao.tenants.service import configure_plugin

        await configure_plugin(his.rt.db, his.city, "midtable", settings=settings_for(his.sim, visits_complete=True))
    after = second.ends_at + timedelta(minutes=1)
    with frozen(after), use_city(his.city):
        run = await sweep_visits(his.rt, his.cat.hospital.id, session.date)
    assert (run.details["checked_in"], run.details["not_seen"], run.details["complete"]) == (1, 1, True)


async def test_fee_items_are_the_patients_unpaid_charges(his):
    patient = {"member_id": 1, "name": "李四", "id_number": "11010519491231002X", "card_no": ""}
    await his.sim.fee_item(his.code, "F-1", kind="drug", name="阿莫西林胶囊", amount_fen=2350, quantity="2盒",
                           id_number="11010519491231002x", visit_no="V9", department="呼吸内科")
    await his.sim.fee_item(his.code, "F-2", kind="exam", name="胸部 CT", amount_fen=26000, card_no="C-77")
    await his.sim.fee_item(his.code, "F-3", kind="lab", name="血常规", amount_fen=2500, id_number="110105194912310011")
    adapter = MidtableHis()
    items = await adapter.pull_fee_items(his.city, his.code, patient, settings_for(his.sim), {})
    assert [(i.item_id, i.kind, i.name, i.amount_fen, i.quantity, i.visit_reference, i.department) for i in items] == [
        ("F-1", "drug", "阿莫西林胶囊", 2350, "2盒", "V9", "呼吸内科")]
    by_card = await adapter.pull_fee_items(his.city, his.code, {**patient, "card_no": "C-77"}, settings_for(his.sim), {})
    assert {i.item_id for i in by_card} == {"F-1", "F-2"}

    await his.sim.fee_paid(his.code, "F-1")  # paid at the window: no longer outstanding
    assert await adapter.pull_fee_items(his.city, his.code, patient, settings_for(his.sim), {}) == []


async def test_a_schedule_pull_through_the_outbox_and_a_push_in_one_run(his):
    """A pull requested through the outbox (as the console and the cron do) runs like the CLI's."""
    from guahao.core.his.sync import request_pull

    day = local_today(his.city) + timedelta(days=6)
    await _publish(his, "P-5", day, his.cat.doctor2)
    with use_city(his.city):
        async with his.rt.db.transaction() as s:
            await request_pull(s, his.cat.hospital.id, date_from=day, date_to=day)
    await his.drain()
    made = [cs for cs in await sessions_of(his.rt, his.city, his.cat.hospital.id) if cs.date == day]
    assert len(made) == 1 and made[0].doctor_id == his.cat.doctor2.id
    b = await reserve(his.rt, his.city, await make_member(his.rt, his.city),
                      (await periods_and_pools(his.rt, his.city, made[0].id))[0][0].id)
    await his.drain()
    await his.sim.process()
    await later(his)
    assert [r["status"] for r in await his.sim.requests(booking_id=b.id)] == ["DONE"]
