"""Status (degraded when pushes fail or a pull or health check failed) and the reconciliation
of a day between the platform and the HIS."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from guahao.core.his.reconcile import reconcile
from guahao.core.his.status import his_status
from guahao.core.his.sync import sync_schedules
from guahao.core.jobs import drain_in_process
from guahao.core.models import Booking, SlotPool
from guahao.core.plugins.interfaces import HisAck, HisAdapter, VisitStatus
from guahao.tenants.clock import frozen
from guahao.tenants.context import use_city
from tests.core.jobs.test_handlers import book
from tests.core.plugins.probes import make_member

from .helpers import demo_settings, next_weekday, periods_and_pools, sessions_of


async def test_a_hospital_whose_pushes_fail_shows_as_degraded(rt, city, catalogue):
    h = catalogue.hospital
    with use_city(city):
        [fine] = await his_status(rt)
    assert (fine.adapter, fine.degraded, fine.health["ok"]) == ("demo_his", False, True)
    assert {"book", "schedules", "visits", "health"} <= set(fine.operations)

    city = await demo_settings(rt, city, h.id, fail_pushes=True)
    await book(rt, city, await make_member(rt, city), catalogue.periods[catalogue.sessions[0].id][0].id)
    await drain_in_process(rt, city_id=city.id)

    with use_city(city):
        [row] = await his_status(rt)
    assert row.degraded and row.pushes["retrying"] == 1 and row.health["ok"] is False
    assert any("pushes failing" in r for r in row.reasons) and any("health" in r for r in row.reasons)
    with use_city(city):
        [quiet] = await his_status(rt, check=False)  # the recorded health check, no new call
    assert quiet.health["ok"] is False and quiet.degraded


async def test_reconcile_lists_the_differences_of_a_day(rt, city, catalogue):
    h, doctor = catalogue.hospital, catalogue.doctor
    city = await demo_settings(rt, city, h.id, schedule_doctors=str(doctor.id), no_show_percent=0)
    day = next_weekday(city)
    with use_city(city):
        await sync_schedules(rt, h.id, date_from=day, date_to=day)
    [cs] = await sessions_of(rt, city, h.id)
    (first, _), (second, pools) = (await periods_and_pools(rt, city, cs.id))[:2]
    missed = await book(rt, city, await make_member(rt, city), first.id)
    await drain_in_process(rt, city_id=city.id)
    with use_city(city):  # injected: a capacity changed on the platform alone, a visit marked missed
        async with rt.db.transaction() as s:
            await s.execute(update(SlotPool).where(SlotPool.id == pools["public"].id).values(capacity=9))
            await s.execute(update(Booking).where(Booking.id == missed.id).values(status="no_show"))

    with frozen(first.ends_at + timedelta(minutes=1)), use_city(city):
        report = await reconcile(rt, h.id, day)

    assert report.compared == ["sessions", "bookings"] and report.errors == []
    found = {(d.code, d.session_id, d.period, d.pool, d.booking_id, d.platform, d.his) for d in report.differences}
    assert ("capacity_differs", cs.id, f"{second.start:%H:%M}", "public", "", "9", "4") in found
    assert ("status_differs", cs.id, "", "", missed.id, "no_show", "seen") in found
    template_made = {x.id for x in catalogue.sessions if x.date == day}
    assert {d.session_id for d in report.differences if d.code == "missing_at_his"} == template_made
    assert len(report.differences) == 2 + len(template_made)
    assert report.csv().splitlines()[0].startswith("kind,code,message")


async def test_reconcile_names_pushed_bookings_the_his_does_not_know(rt, city, catalogue):
    class Forgetful(HisAdapter):
        name = "forgetful"
        operations = frozenset({"book", "cancel", "visits"})
        visits_complete = True

        async def push_booking(self, *a):
            return HisAck()

        async def push_cancellation(self, *a):
            return HisAck()

        async def pull_visit_status(self, *a):
            return [VisitStatus("NOTOURS00001", "checked_in")]

    session = catalogue.sessions[0]
    booking = await book(rt, city, await make_member(rt, city), catalogue.periods[session.id][0].id)
    await drain_in_process(rt, city_id=city.id)  # pushed to the demo HIS
    with use_city(city):
        report = await reconcile(rt, catalogue.hospital.id, session.date, adapter=Forgetful())
    assert report.compared == ["bookings"]
    assert {(d.code, d.booking_id) for d in report.differences} == {
        ("pushed_unknown_to_his", booking.id), ("unknown_on_platform", "NOTOURS00001")}
