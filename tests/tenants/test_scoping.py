"""The ORM wall: every query of a tenant model is scoped to the current city."""

import pytest
from sqlalchemy import func, select, update

from guahao.core.models import Doctor, Hospital
from guahao.tenants.context import platform_scope, use_city
from guahao.tenants.db import TenantIsolationError


async def test_queries_see_only_the_current_city(rt, city, catalogue):
    from tests.factories import make_catalogue, make_city

    other = await make_city(rt, city.slug + "-o")
    await make_catalogue(rt, other)
    for ctx in (city, other):
        with use_city(ctx):
            async with rt.db.transaction() as s:
                hospitals = (await s.scalars(select(Hospital))).all()
                assert {h.city_id for h in hospitals} == {ctx.id}
                assert await s.scalar(select(func.count()).select_from(Doctor)) == 2


async def test_get_by_primary_key_of_another_city_finds_nothing(rt, city, catalogue):
    from tests.factories import make_city

    other = await make_city(rt, city.slug + "-g")
    with use_city(other):
        async with rt.db.transaction() as s:
            assert (await s.scalars(select(Doctor).where(Doctor.id == catalogue.doctor.id))).first() is None


async def test_bulk_update_does_not_cross_cities(rt, city, catalogue):
    from tests.factories import make_city

    other = await make_city(rt, city.slug + "-u")
    with use_city(other):
        async with rt.db.transaction() as s:
            await s.execute(update(Doctor).values(name="篡改"))
    with use_city(city):
        async with rt.db.transaction() as s:
            names = set((await s.scalars(select(Doctor.name))).all())
    assert "篡改" not in names


async def test_no_city_means_no_query(rt, catalogue):
    async with rt.db.transaction() as s:
        with pytest.raises(TenantIsolationError):
            await s.scalars(select(Doctor))


async def test_writing_a_row_of_another_city_is_refused(rt, city, catalogue):
    from tests.factories import make_city

    other = await make_city(rt, city.slug + "-w")
    with use_city(other):
        with pytest.raises(TenantIsolationError):
            async with rt.db.transaction() as s:
                s.add(Hospital(city_id=city.id, code="X", name="越界医院"))


async def test_platform_scope_reads_across_cities(rt, city, catalogue):
    from tests.factories import make_catalogue, make_city

    other = await make_city(rt, city.slug + "-p")
    await make_catalogue(rt, other)
    with platform_scope("test: count hospitals of two cities"):
        async with rt.db.transaction() as s:
            ids = set((await s.scalars(select(Hospital.city_id).where(Hospital.city_id.in_([city.id, other.id])))).all())
    assert ids == {city.id, other.id}
