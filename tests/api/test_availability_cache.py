"""Availability answers are reused for a moment (the release-rush micro-cache), then fresh."""

import asyncio

from guahao.tenants.cache import TtlCache

from .conftest import url


async def test_availability_is_reused_within_the_ttl_then_refreshed(client, rt, city, catalogue, member):
    period = catalogue.periods[catalogue.sessions[0].id][0]
    path = url(city, f"/availability?doctor_id={catalogue.doctor.id}")

    def remaining(body: dict) -> int:
        return next(p["remaining"] for i in body["items"] for p in i["periods"] if p["period_id"] == period.id)

    # A long TTL while booking (a loaded machine may take longer than a short one), then a short
    # one the entry's age has passed.
    cache = TtlCache(60)
    saved, rt.availability_cache = rt.availability_cache, cache
    try:
        before = remaining((await client.get(path)).json())
        r = await client.post(url(city, "/bookings"), json={"period_id": period.id, "channel": "web"},
                              headers=member.headers)
        assert r.status_code == 201
        assert remaining((await client.get(path)).json()) == before  # the cached answer
        cache.ttl = 0.05
        await asyncio.sleep(0.06)
        assert remaining((await client.get(path)).json()) == before - 1
    finally:
        rt.availability_cache = saved


async def test_cache_keys_do_not_cross_cities(client, rt, city, catalogue):
    from tests.factories import make_catalogue, make_city

    other = await make_city(rt, city.slug + "-c")
    other_cat = await make_catalogue(rt, other)
    saved, rt.availability_cache = rt.availability_cache, TtlCache(60)
    try:
        # Same department id value asked in both cities: each city gets its own answer.
        a = (await client.get(url(city, f"/availability?department_id={catalogue.department.id}"))).json()
        b = (await client.get(url(other, f"/availability?department_id={catalogue.department.id}"))).json()
        assert a["items"] and b["items"] == []
        b2 = (await client.get(url(other, f"/availability?department_id={other_cat.department.id}"))).json()
        assert {i["session_id"] for i in b2["items"]}.isdisjoint({i["session_id"] for i in a["items"]})
    finally:
        rt.availability_cache = saved
