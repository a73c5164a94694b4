"""What the demo HIS answers when the platform pulls: fee items after a visit, visit outcomes
of the appointments pushed to it, its schedule."""

from __future__ import annotations

from datetime import timedelta

from guahao.core.jobs import drain_in_process
from guahao.plugins.his.demo import DemoHis, report_check_in
from guahao.tenants.clock import frozen
from tests.core.jobs.test_handlers import book
from tests.core.plugins.probes import make_member


async def test_fee_items_follow_a_checked_in_visit(rt, city, catalogue):
    his = DemoHis()
    his.attach_runtime(rt)
    member = await make_member(rt, city)
    patient = {"member_id": member.id, "name": member.name}
    assert await his.pull_fee_items(city, catalogue.hospital.code, patient, {}, {}) == []

    booking = await book(rt, city, member, catalogue.periods[catalogue.sessions[0].id][0].id)
    assert await his.pull_fee_items(city, catalogue.hospital.code, patient, {}, {}) == []  # not seen yet
    await report_check_in(rt, city, booking.id)

    items = await his.pull_fee_items(city, catalogue.hospital.code, patient, {}, {})
    assert [i.kind for i in items] == ["drug", "exam"]
    assert all(isinstance(i.amount_fen, int) and i.amount_fen > 0 for i in items)
    assert {i.booking_id for i in items} == {booking.id} and {i.visit_reference for i in items} == {f"DEMO-{booking.id}"}
    assert items == await his.pull_fee_items(city, catalogue.hospital.code, patient, {}, {})  # the same every time
    assert await his.pull_fee_items(city, "OTHER", patient, {}, {}) == []


async def test_visits_list_only_the_appointments_pushed_to_it(rt, city, catalogue):
    his = DemoHis()
    his.attach_runtime(rt)
    session = catalogue.sessions[0]
    first, second = catalogue.periods[session.id]
    kept = await book(rt, city, await make_member(rt, city), first.id)
    came = await book(rt, city, await make_member(rt, city), second.id)
    await drain_in_process(rt, city_id=city.id)
    late = await book(rt, city, await make_member(rt, city), second.id)  # not pushed yet
    await report_check_in(rt, city, came.id)

    now = await his.pull_visit_status(city, catalogue.hospital.code, session.date, {}, {})
    assert {(v.booking_id, v.outcome) for v in now} == {(kept.id, "unknown"), (came.id, "checked_in")}

    with frozen(second.ends_at + timedelta(minutes=1)):
        everyone_missed = await his.pull_visit_status(city, catalogue.hospital.code, session.date,
                                                      {"no_show_percent": 100}, {})
        nobody_missed = await his.pull_visit_status(city, catalogue.hospital.code, session.date,
                                                    {"no_show_percent": 0}, {})
    assert {(v.booking_id, v.outcome) for v in everyone_missed} == {(kept.id, "no_show"), (came.id, "seen")}
    assert {(v.booking_id, v.outcome) for v in nobody_missed} == {(kept.id, "seen"), (came.id, "seen")}
    assert late.id not in {v.booking_id for v in everyone_missed}


async def test_the_schedule_names_chosen_doctors_and_their_leave(rt, city, catalogue):
    his = DemoHis()
    his.attach_runtime(rt)
    start = catalogue.sessions[0].date
    end = start + timedelta(days=6)
    settings = {"schedule_doctors": catalogue.doctor2.name, "suspend_doctor": str(catalogue.doctor2.id),
                "schedule_capacity": 2}
    items = await his.pull_schedules(city, catalogue.hospital.code, start, end, settings, {})
    assert len(items) == 6 and {i.doctor_code for i in items} == {str(catalogue.doctor2.id)}
    assert {i.status for i in items} == {"suspended"} and all(i.reason for i in items)
    assert all(i.date.weekday() < 6 and i.half_day == "pm" for i in items)
    assert items[0].periods[0] == {"start": "13:00", "end": "14:00", "pools": {"public": 2, "onsite": 1}}
    assert await his.pull_schedules(city, catalogue.hospital.code, start, end, {}, {}) == []
