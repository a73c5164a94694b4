"""The periodic planning of HIS pulls: due pulls become ``his.sync`` outbox rows, asked once,
carried out by the outbox runner (which retries a down HIS)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select

import guahao.core.his  # noqa: F401  (registers the his.sync handler)
from guahao.core.jobs import drain_in_process
from guahao.core.jobs.periodic import plan_his_pulls
from guahao.core.models import HisSyncRun
from guahao.tenants.clock import frozen
from guahao.tenants.context import use_city
from tests.core.jobs.test_handlers import book
from tests.core.plugins.probes import make_member, outbox_rows

from .helpers import demo_settings, local_today, sessions_of


async def test_due_pulls_are_asked_once_and_run_through_the_outbox(rt, city, catalogue):
    h = catalogue.hospital
    city = await demo_settings(rt, city, h.id, schedule_doctors=str(catalogue.doctor.id))
    morning = datetime.combine(local_today(city), time(9, 0), tzinfo=city.tz)

    await plan_his_pulls(rt, now=morning)
    await plan_his_pulls(rt, now=morning + timedelta(minutes=1))

    rows = await outbox_rows(rt, city, topic="his.sync")
    assert sorted(r.payload["trigger"] for r in rows) == ["every_15_min", "nightly"]
    assert all(r.payload["hospital_id"] == h.id and r.payload["kind"] == "schedules" for r in rows)

    with frozen(morning):
        await drain_in_process(rt, city_id=city.id, now=morning)
    with use_city(city):
        async with rt.db.transaction() as s:
            runs = (await s.scalars(select(HisSyncRun).where(HisSyncRun.hospital_id == h.id))).all()
    assert sorted(r.trigger for r in runs) == ["every_15_min", "nightly"] and {r.outcome for r in runs} == {"ok"}
    made = await sessions_of(rt, city, h.id)
    window = city.rules.booking_window_days
    assert made and max(cs.date for cs in made) <= local_today(city) + timedelta(days=window)

    # Ten minutes on nothing is due; after a quarter of an hour the near pull is asked again.
    await plan_his_pulls(rt, now=morning + timedelta(minutes=10))
    assert len(await outbox_rows(rt, city, topic="his.sync")) == 2
    await plan_his_pulls(rt, now=morning + timedelta(minutes=16))
    triggers = [r.payload["trigger"] for r in await outbox_rows(rt, city, topic="his.sync")]
    assert triggers.count("every_15_min") == 2 and triggers.count("nightly") == 1


async def test_a_day_with_bookings_under_way_gets_a_visit_sweep(rt, city, catalogue):
    session = catalogue.sessions[0]
    period = catalogue.periods[session.id][0]
    await book(rt, city, await make_member(rt, city), period.id)

    await plan_his_pulls(rt, now=period.starts_at - timedelta(hours=2))
    assert [r for r in await outbox_rows(rt, city, topic="his.sync") if r.payload["kind"] == "visits"] == []

    await plan_his_pulls(rt, now=period.starts_at - timedelta(minutes=10))
    [visits] = [r for r in await outbox_rows(rt, city, topic="his.sync") if r.payload["kind"] == "visits"]
    assert visits.payload == {"hospital_id": catalogue.hospital.id, "kind": "visits",
                              "day": session.date.isoformat(), "trigger": "sweep"}


async def test_requests_that_waited_past_their_use_are_dropped(rt, city, catalogue):
    from guahao.core.his.sync import run_request

    plugins = await rt.plugins.for_city(city)
    long_ago = local_today(city) - timedelta(days=5)
    with use_city(city):
        assert await run_request(rt, plugins, {"hospital_id": catalogue.hospital.id, "kind": "visits",
                                               "day": long_ago.isoformat()}) is None
        assert await run_request(rt, plugins, {"hospital_id": catalogue.hospital.id, "kind": "schedules",
                                               "date_from": long_ago.isoformat(),
                                               "date_to": (long_ago + timedelta(days=1)).isoformat()}) is None
        run = await run_request(rt, plugins, {"hospital_id": catalogue.hospital.id, "kind": "schedules",
                                              "date_from": long_ago.isoformat(),
                                              "date_to": local_today(city).isoformat()})
    assert run.outcome == "ok" and run.date_from == local_today(city)
