"""Database cells on two real PostgreSQL clusters (R15.5): cities on different cells book at the
same time, and a city moved under booking load loses nothing and doubles nothing.

The platform database is on ``DATABASE_URL``'s cluster, the cell on ``CELL_DATABASE_URL``'s (a
second cluster, e.g. ``pg_createcluster 15 cells -p 5433``); both databases are made for this
module and dropped afterwards. Without ``CELL_DATABASE_URL`` there is nothing to run against
and the tests are deselected (CI sets it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid
from collections import Counter

import asyncpg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from guahao.core.booking import service
from guahao.core.cells import CellError, drop_old_copy, move_city
from guahao.core.cells import add_cell as add_cell_
from guahao.core.errors import DomainError
from guahao.core.jobs import drain_in_process
from guahao.core.migrate import upgrade_async
from guahao.core.models import Booking, OutboxMessage, SlotPool
from guahao.core.runtime import Runtime
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from guahao.tenants.db import CityMoving
from tests.conftest import PG_URL, _pg_admin, make_settings
from tests.core.booking.helpers import make_members
from tests.factories import make_catalogue, make_city

CELL_URL = os.environ.get("CELL_DATABASE_URL", "")

pytestmark = [pytest.mark.postgres, pytest.mark.cells]


def _db_url(base: str, name: str) -> str:
    return make_url(base).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
async def cells_rt(backend, tmp_path_factory):
    """A runtime on a platform database of its own, and the URL of an empty cell database on
    the second cluster."""
    # The module's markers keep it to the postgres backend with CELL_DATABASE_URL (tests/conftest.py).
    assert backend == "postgres" and CELL_URL
    tag = uuid.uuid4().hex[:8]
    settings = make_settings("postgres", tmp_path_factory.mktemp("cells"))
    settings = dataclasses.replace(settings, database_url=_db_url(PG_URL, f"guahao_cells_{tag}"))
    cell_url = _db_url(CELL_URL, f"guahao_cell_{tag}")
    for url in (settings.database_url, cell_url):
        await _pg_admin(url, 'DROP DATABASE IF EXISTS "{db}"', 'CREATE DATABASE "{db}"')
    await upgrade_async(settings)
    rt = Runtime(settings)
    await rt.start()
    yield rt, cell_url
    await rt.stop()
    for url in (settings.database_url, cell_url):
        await _pg_admin(url, 'DROP DATABASE IF EXISTS "{db}"')


async def _rows(url: str, sql: str, *args):
    conn = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def _book_with_retries(rt, slug: str, member_id: int, period_id: int, seen: Counter, *, after: float = 0) -> str:
    """Book as a client would (``after`` seconds from now): a 503 (city moving) is retried after
    a pause; the city is looked up again each time, as every request does."""
    await asyncio.sleep(after)
    for _ in range(1000):
        city = await rt.resolver.by_slug(slug)
        try:
            with use_city(city):
                await service.book(rt, member_id=member_id, period_id=period_id, channel="app",
                                   idempotency_key=f"m{member_id}-p{period_id}")
            return "ok"
        except CityMoving:
            seen["503"] += 1
            await asyncio.sleep(0.25)
        except DomainError as exc:
            return exc.code
    return "gave up"


async def test_cities_on_two_cells_book_at_the_same_time(cells_rt):
    rt, cell_url = cells_rt
    assert await add_cell_(rt, "east", cell_url) == 1
    with pytest.raises(CellError):
        await add_cell_(rt, "east", cell_url)
    home = await make_city(rt, "home-" + uuid.uuid4().hex[:6])
    away = await make_city(rt, "away-" + uuid.uuid4().hex[:6])
    cats = {c.slug: await make_catalogue(rt, c, days_ahead=1, periods=1, capacity=30) for c in (home, away)}
    members = {c.slug: await make_members(rt, c, 30) for c in (home, away)}
    report = await move_city(rt, away.slug, "east")
    print("\n".join(report.lines()))
    assert report.source == "" and report.target == "east"

    async def book_all(slug):
        period = cats[slug].periods[cats[slug].sessions[0].id][0]
        return await asyncio.gather(*(_book_with_retries(rt, slug, m, period.id, Counter()) for m in members[slug]))

    outcomes = await asyncio.gather(book_all(home.slug), book_all(away.slug))
    assert [Counter(o) for o in outcomes] == [Counter(ok=30), Counter(ok=30)]

    # Each city's bookings are in its own cell's database, and only there.
    away_id, home_id = (await rt.resolver.by_slug(away.slug)).id, home.id
    in_cell = await _rows(cell_url, "SELECT city_id, count(*) AS n FROM bookings GROUP BY city_id")
    in_platform = await _rows(rt.settings.database_url, "SELECT city_id, count(*) AS n FROM bookings GROUP BY city_id")
    assert {r["city_id"]: r["n"] for r in in_cell} == {away_id: 30}
    assert {r["city_id"]: r["n"] for r in in_platform} == {home_id: 30}
    # Ids come from disjoint ranges: the cell's from 2^48 up.
    [low] = await _rows(cell_url, "SELECT min(id) AS id FROM booking_events WHERE city_id = $1", away_id)
    assert low["id"] >= 1 << 48

    # The outbox of each cell is drained: the cell's rows run in their city, on their cell.
    await drain_in_process(rt)
    for city in (home, await rt.resolver.by_slug(away.slug)):
        with use_city(city):
            async with rt.db.transaction() as s:
                done = await s.scalar(select(func.count()).select_from(OutboxMessage)
                                      .where(OutboxMessage.status == "done"))
                due = await s.scalar(select(func.count()).select_from(OutboxMessage)
                                     .where(OutboxMessage.status.in_(("pending", "queued")), OutboxMessage.due_at <= utcnow()))
                assert done >= 30 and due == 0, (city.slug, done, due)


async def test_a_city_moved_under_booking_load_loses_and_doubles_nothing(cells_rt, monkeypatch):
    from guahao.core import cells as cells_module

    rt, cell_url = cells_rt
    if "east" not in rt.db.cell_names:
        await add_cell_(rt, "east", cell_url)
    city = await make_city(rt, "moving-" + uuid.uuid4().hex[:6])
    cat = await make_catalogue(rt, city, days_ahead=2, periods=4, capacity=25)
    periods = [p for s in cat.sessions for p in cat.periods[s.id]]
    *members, spare, latecomer = await make_members(rt, city, 162)
    seen: Counter = Counter()
    copy = cells_module.copy_city_between

    async def copy_while_a_write_comes(*args, **kwargs):  # one write surely meets the freeze
        async def attempt():
            with use_city(await rt.resolver.by_slug(city.slug)):
                await service.book(rt, member_id=spare, period_id=periods[-1].id, channel="app", idempotency_key="spare")
        try:
            await asyncio.wait_for(attempt(), 10)
        except CityMoving:
            seen["503"] += 1
            seen["503 during the copy"] += 1
        return await copy(*args, **kwargs)

    monkeypatch.setattr(cells_module, "copy_city_between", copy_while_a_write_comes)

    async def load():  # a booking every 40 ms for about 6 s: before, during and after the move
        return await asyncio.gather(*(
            _book_with_retries(rt, city.slug, m, periods[i % len(periods)].id, seen, after=i * 0.04)
            for i, m in enumerate(members)))

    async def move_soon():
        await asyncio.sleep(1.0)
        return await move_city(rt, city.slug, "east")

    outcomes, report = await asyncio.gather(load(), move_soon())
    counts = Counter(outcomes)
    print("\n".join(report.lines()))
    print(f"bookings: {dict(counts)}; refused with 503 while moving: {seen['503']}")
    assert set(counts) <= {"ok", "slot_full", "too_many_active", "duplicate_session"}, counts
    assert seen["503 during the copy"] == 1  # a write during the freeze got a 503 and changed nothing

    # Booking goes on after the switch, on the new cell (the load may have ended before it).
    assert await _book_with_retries(rt, city.slug, latecomer, periods[0].id, seen) == "ok"
    counts["ok"] += 1
    moved = await rt.resolver.by_slug(city.slug)
    assert moved.cell == "east"
    with use_city(moved):
        async with rt.db.transaction() as s:
            bookings = (await s.scalars(select(Booking))).all()
            pools = (await s.scalars(select(SlotPool))).all()
    # Nothing lost: every booking a member was told about is on the new cell; nothing doubled:
    # one booking per member, and every pool's counter equals its bookings.
    assert len(bookings) == counts["ok"]
    assert len({b.member_id for b in bookings}) == len(bookings)
    assert any(b.created_at > report.switched_at for b in bookings)  # and went on after the switch
    per_pool = Counter(b.pool_id for b in bookings)
    assert all(p.booked == per_pool[p.id] for p in pools)
    assert sum(p.booked for p in pools) == counts["ok"]

    # The old copy (in the platform database) is frozen in time and refused; dropping it keeps
    # the directory's row.
    [old] = await _rows(rt.settings.database_url, "SELECT count(*) AS n FROM bookings WHERE city_id = $1", city.id)
    assert old["n"] <= counts["ok"]
    with pytest.raises(CityMoving):
        with use_city(city):  # a process that has not seen the move yet
            async with rt.db.transaction() as s:
                await s.scalar(select(func.count()).select_from(Booking))
    assert await drop_old_copy(rt, city.slug) == [""]
    [old] = await _rows(rt.settings.database_url, "SELECT count(*) AS n FROM bookings WHERE city_id = $1", city.id)
    assert old["n"] == 0
    [row] = await _rows(rt.settings.database_url, "SELECT cell FROM cities WHERE id = $1", city.id)
    assert row["cell"] == "east"


async def test_readyz_checks_every_cell_of_the_directory(cells_rt):
    import httpx

    from guahao.core.app import create_app
    from guahao.tenants import cells

    rt, cell_url = cells_rt
    if "east" not in await cells.load_all(rt.db):
        await add_cell_(rt, "east", cell_url)
    transport = httpx.ASGITransport(app=create_app(rt.settings, runtime=rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        ready = await c.get("/readyz")
        assert ready.status_code == 200 and ready.json()["cells"] == {"east": "ok"}, ready.text
        await _rows(cell_url, "INSERT INTO alembic_version VALUES ('0001')")  # a cell with a branch left behind
        try:
            behind = await c.get("/readyz")
        finally:
            await _rows(cell_url, "DELETE FROM alembic_version WHERE version_num = '0001'")
        assert behind.status_code == 503
        assert behind.json()["cells"] == {"east": "behind"} and behind.json()["failed"] == ["cell:east"]
        assert cell_url not in behind.text and "guahao_cell_" not in behind.text
