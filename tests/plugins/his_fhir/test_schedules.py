"""Schedules read from the hospital's FHIR server (Schedule + Slot, page by page) become sessions
through the same sync ``guahao his sync`` runs; busy-unavailable Slots are a 停诊 with the
Slot's comment as the reason, which cancels and tells the booked patients."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from guahao.core.his.sync import SyncFailed, sync_schedules
from guahao.core.models import Booking, ClinicSession, HisSession
from guahao.plugins.his.fhir.meta import SID
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from tests.core.his.helpers import periods_and_pools, sessions_of

from .conftest import at_local, slot


def tomorrow(fhir):
    return utcnow().astimezone(fhir.city.tz).date() + timedelta(days=1)


async def _sync(fhir, day, days: int = 0):
    with use_city(fhir.city):
        return await sync_schedules(fhir.rt, fhir.cat.hospital.id, date_from=day, date_to=day + timedelta(days=days),
                                    trigger="cli")


async def test_slots_become_a_session_with_its_periods_and_a_second_pull_changes_nothing(fhir):
    await fhir.configure(page_size=2)
    day, city, doctor = tomorrow(fhir), fhir.city, fhir.cat.doctor
    schedule = fhir.schedules[doctor.id]
    for hour, units, status in ((13, 3, "free"), (14, 2, "free"), (15, 1, "busy")):
        fhir.server.add(slot(schedule, city, at_local(city, day, hour), at_local(city, day, hour, 45), capacity=units,
                             status=status))
    fhir.server.add(slot(schedule, city, at_local(city, day + timedelta(days=5), 13), at_local(city, day + timedelta(
        days=5), 14)))  # outside the range asked for

    run = await _sync(fhir, day)

    assert (run.outcome, run.items, run.created, run.changed, run.suspended) == ("ok", 3, 1, 0, 0)
    [made] = await sessions_of(fhir.rt, city, fhir.cat.hospital.id)
    assert (made.doctor_id, made.date, str(made.status), made.department_id) == (
        doctor.id, day, "open", fhir.cat.department.id)
    periods = await periods_and_pools(fhir.rt, city, made.id)
    assert [(f"{p.start:%H:%M}", f"{p.end:%H:%M}") for p, _ in periods] == [("13:00", "13:45"), ("14:00", "14:45"),
                                                                          ("15:00", "15:45")]
    assert [{k: v.capacity for k, v in pools.items()} for _, pools in periods] == [
        {"public": 3}, {"public": 2}, {"public": 1}]  # a busy Slot's units are taken, not gone
    with use_city(city):
        async with fhir.rt.db.transaction() as s:
            link = await s.scalar(select(HisSession).where(HisSession.session_id == made.id))
    assert (link.adapter, link.reference) == ("fhir", f"{schedule}/{day.isoformat()}/pm")

    # paging: 2 am Slots of each doctor and 3 pm Slots, two a page
    slot_pages = fhir.server.requests("GET", "/Slot")
    assert len(slot_pages) == 4 and all(dict(r.query)["_count"] == "2" for r in slot_pages)
    first = dict(slot_pages[0].query)
    assert first["schedule"].count("Schedule/") == 2
    assert [v for k, v in slot_pages[0].query if k == "start"] == [
        f"ge{day.isoformat()}T00:00:00+08:00", f"lt{(day + timedelta(days=1)).isoformat()}T00:00:00+08:00"]
    [schedules] = fhir.server.requests("GET", "/Schedule")
    assert ("_include", "Schedule:actor") in schedules.query and ("active", "true") in schedules.query

    again = await _sync(fhir, day)
    assert (again.outcome, again.items, again.created, again.changed, again.suspended) == ("ok", 3, 0, 0, 0)


async def test_busy_unavailable_slots_suspend_the_session_with_the_slot_comment(fhir):
    b = await fhir.book(session_index=1, name="赵六")  # doctor 2, tomorrow morning
    await fhir.drain()
    [appt] = fhir.appointments(b.id)
    session = fhir.cat.sessions[1]
    for s in fhir.server.all("Slot"):
        if s["schedule"]["reference"] == fhir.schedules[session.doctor_id] and s["start"].startswith(
                session.date.isoformat()):
            s.update(status="busy-unavailable", comment="医生外出会诊")

    run = await _sync(fhir, session.date)

    assert (run.outcome, run.suspended) == ("ok", 1)
    with use_city(fhir.city):
        async with fhir.rt.db.transaction() as s:
            cs = await s.get(ClinicSession, session.id)
            booking = await s.get(Booking, b.id)
    assert str(cs.status) == "suspended" and cs.status_reason.endswith("医生外出会诊")
    assert str(booking.status) == "cancelled"
    await fhir.drain()  # the cancellation goes back to the HIS
    [appt] = fhir.appointments(b.id)
    assert appt["status"] == "cancelled"


async def test_a_doctor_the_platform_does_not_know_is_reported_not_guessed(fhir):
    day, city = tomorrow(fhir), fhir.city
    person = fhir.server.add({"resourceType": "Practitioner", "name": [{"family": "钱", "given": ["七"]}],
                              "identifier": [{"system": f"{SID}/doctor", "value": "D999999"}]})
    schedule = fhir.server.add({"resourceType": "Schedule", "actor": [{"reference": f"Practitioner/{person['id']}"}]})
    fhir.server.add(slot(f"Schedule/{schedule['id']}", city, at_local(city, day, 14), at_local(city, day, 15)))

    run = await _sync(fhir, day)

    assert run.outcome == "ok" and run.created == 0
    assert [c["code"] for c in run.details["conflicts"]] == ["unknown_doctor"]
    assert run.details["conflicts"][0]["doctor"] == "D999999"


async def test_a_refused_search_fails_the_run_with_the_servers_text(fhir):
    fhir.server.fail_next(400, "不支持的查询参数", method="GET", resource="Slot")
    with use_city(fhir.city), pytest.raises(SyncFailed, match="不支持的查询参数"):
        await sync_schedules(fhir.rt, fhir.cat.hospital.id, date_from=tomorrow(fhir), date_to=tomorrow(fhir))


async def test_the_simulators_hospital_publishes_afternoons_the_platform_can_book(fhir):
    from guahao.plugins.his.fhir.simulate import seed

    day = tomorrow(fhir)
    if day.weekday() == 6:
        day += timedelta(days=1)
    doctor = fhir.cat.doctor
    added = seed(fhir.server, {f"D{doctor.id}": doctor.name}, start=day, days=1, capacity=4, tz=fhir.city.tz,
                 department=fhir.cat.department.code)
    assert added == 3

    run = await _sync(fhir, day)

    assert run.outcome == "ok" and run.created == 1 and run.details["conflicts"] == []
    [made] = await sessions_of(fhir.rt, fhir.city, fhir.cat.hospital.id)
    periods = await periods_and_pools(fhir.rt, fhir.city, made.id)
    assert [(f"{p.start:%H:%M}", pools["public"].capacity) for p, pools in periods] == [
        ("14:00", 4), ("15:00", 4), ("16:00", 4)]
