"""On Redis: the worker's five-minute sweep asks for the HIS pulls, the relay hands them to arq
and the arq worker runs them (the handler ``core.his`` adds)."""

from __future__ import annotations

from sqlalchemy import select

import guahao.core.his  # noqa: F401  (registers the his.sync handler)
from guahao.core.jobs.periodic import sweep_no_shows
from guahao.core.jobs.relay import relay_once
from guahao.core.models import HisSyncRun
from guahao.tenants.context import use_city
from tests.core.jobs.test_relay import _burst
from tests.core.plugins.probes import outbox_rows, set_aside_other_cities

from .helpers import demo_settings, sessions_of


async def test_the_worker_pulls_a_hospitals_schedule(rt, redis_rt, city, catalogue):
    h = catalogue.hospital
    city = await demo_settings(rt, city, h.id, schedule_doctors="*")

    await sweep_no_shows(redis_rt)
    await set_aside_other_cities(rt, city)  # the sweep plans pulls for every earlier test's city too
    asked = await outbox_rows(rt, city, topic="his.sync")
    assert "every_15_min" in {r.payload["trigger"] for r in asked}
    assert await relay_once(redis_rt) >= len(asked)
    assert await _burst(redis_rt) >= len(asked)

    assert {r.status for r in await outbox_rows(rt, city, topic="his.sync")} == {"done"}
    with use_city(city):
        async with rt.db.transaction() as s:
            runs = (await s.scalars(select(HisSyncRun).where(HisSyncRun.hospital_id == h.id))).all()
    assert runs and {r.outcome for r in runs} == {"ok"}
    assert len(await sessions_of(rt, city, h.id)) == sum(r.created for r in runs)
