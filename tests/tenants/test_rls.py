"""The database wall: PostgreSQL row-level security, seen with raw SQL as the app role."""

import asyncpg
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from guahao.tenants.models import tenant_tables
from guahao.tenants.rls import platform_role

pytestmark = pytest.mark.usefixtures("pg_only")


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
async def app_conn(rt):
    """A raw connection as the application role: no ORM, no scoping of ours."""
    conn = await asyncpg.connect(_dsn(rt.settings.app_url))
    yield conn
    await conn.close()


async def test_app_role_is_neither_superuser_nor_owner_nor_bypassing(rt, app_conn):
    role = await app_conn.fetchrow(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user"
    )
    assert tuple(role) == (False, False, False, False)
    owned = await app_conn.fetchval(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user"
    )
    assert owned == 0


async def test_every_tenant_table_forces_a_policy(rt, app_conn):
    rows = await app_conn.fetch(
        """SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                  (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind = 'r'"""
    )
    by_name = {r["relname"]: r for r in rows}
    for table in tenant_tables():
        r = by_name[table]
        assert r["relrowsecurity"] and r["relforcerowsecurity"] and r["policies"] >= 1, table


async def test_no_city_set_means_no_rows(rt, city, catalogue, app_conn):
    async with app_conn.transaction():
        for table in tenant_tables():
            assert await app_conn.fetchval(f'SELECT count(*) FROM "{table}"') == 0, table


async def test_raw_sql_sees_only_the_city_set_for_the_transaction(rt, city, catalogue, app_conn):
    from tests.factories import make_catalogue, make_city

    other = await make_city(rt, city.slug + "-r")
    await make_catalogue(rt, other)
    for ctx in (city, other):
        async with app_conn.transaction():
            await app_conn.execute("SELECT set_config('app.city_id', $1, true)", str(ctx.id))
            cities = await app_conn.fetch("SELECT DISTINCT city_id FROM hospitals")
            assert [r["city_id"] for r in cities] == [ctx.id]
            doctors = await app_conn.fetchval(
                "SELECT count(*) FROM doctors WHERE city_id = $1", other.id if ctx is city else city.id
            )
            assert doctors == 0
    # SET LOCAL ends with the transaction: the next one on the same connection sees nothing.
    assert await app_conn.fetchval("SELECT count(*) FROM hospitals") == 0


async def test_writing_into_another_city_is_refused_by_the_database(rt, city, catalogue, app_conn):
    from tests.factories import make_city

    other = await make_city(rt, city.slug + "-x")
    async with app_conn.transaction():
        await app_conn.execute("SELECT set_config('app.city_id', $1, true)", str(city.id))
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app_conn.execute(
                "INSERT INTO hospitals (city_id, code, name, short_name, kind, level, grade, address, phone,"
                " description, payment_mode, his_adapter, active) VALUES ($1, 'X', '越界', '', 'general', 3,"
                " '甲', '', '', '', 'at_hospital', '', true)",
                other.id,
            )


async def test_moving_a_row_to_another_city_fails_with_check(rt, city, catalogue, app_conn):
    from tests.factories import make_city

    other = await make_city(rt, city.slug + "-m")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with app_conn.transaction():
            await app_conn.execute("SELECT set_config('app.city_id', $1, true)", str(city.id))
            await app_conn.execute("UPDATE doctors SET city_id = $1", other.id)
    async with app_conn.transaction():
        await app_conn.execute("SELECT set_config('app.city_id', $1, true)", str(city.id))
        assert await app_conn.fetchval("SELECT count(*) FROM doctors") == 2


async def test_updates_and_deletes_cannot_reach_another_city(rt, city, catalogue, app_conn):
    from tests.factories import make_catalogue, make_city

    other = await make_city(rt, city.slug + "-d")
    await make_catalogue(rt, other)
    async with app_conn.transaction():
        await app_conn.execute("SELECT set_config('app.city_id', $1, true)", str(city.id))
        assert await app_conn.execute("UPDATE doctors SET name = '篡改' WHERE city_id = $1", other.id) == "UPDATE 0"
        assert await app_conn.execute("DELETE FROM slot_pools WHERE city_id = $1", other.id) == "DELETE 0"


async def test_app_role_cannot_switch_the_wall_off(rt, app_conn):
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await app_conn.execute("ALTER TABLE bookings DISABLE ROW LEVEL SECURITY")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await app_conn.execute("DROP POLICY city_isolation ON bookings")


async def test_the_app_login_cannot_become_the_platform_role(rt, city, catalogue, app_conn):
    plat = platform_role(rt.settings.app_role)
    assert await app_conn.fetchval("SELECT pg_has_role(current_user, $1, 'MEMBER')", plat) is False
    for stmt in (f'SET ROLE "{plat}"', f'SET SESSION AUTHORIZATION "{plat}"'):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app_conn.execute(stmt)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with app_conn.transaction():
            await app_conn.execute(f'SET LOCAL ROLE "{plat}"')
    assert await app_conn.fetchval("SELECT current_user") == rt.settings.app_role
    assert await app_conn.fetchval("SELECT count(*) FROM hospitals WHERE city_id = $1", city.id) == 0


async def test_the_platform_login_is_its_own_role_and_reads_every_city(rt, city, catalogue):
    from tests.factories import make_catalogue, make_city

    other = await make_city(rt, city.slug + "-p")
    await make_catalogue(rt, other)
    conn = await asyncpg.connect(_dsn(rt.settings.platform_url))
    try:
        role = await conn.fetchrow(
            "SELECT rolname, rolcanlogin, rolbypassrls, rolsuper, rolcreaterole, rolcreatedb"
            " FROM pg_roles WHERE rolname = current_user"
        )
        assert tuple(role) == (platform_role(rt.settings.app_role), True, True, False, False, False)
        owned = await conn.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user"
        )
        assert owned == 0
        cities = await conn.fetch(
            "SELECT DISTINCT city_id FROM hospitals WHERE city_id = ANY($1::int[]) ORDER BY 1", [city.id, other.id]
        )
        assert [r["city_id"] for r in cities] == sorted([city.id, other.id])
    finally:
        await conn.close()


async def test_platform_scope_transactions_log_in_as_the_platform_role(rt, city, catalogue):
    from guahao.core.models import Hospital
    from guahao.tenants.context import platform_scope
    from tests.factories import make_catalogue, make_city

    other = await make_city(rt, city.slug + "-s")
    await make_catalogue(rt, other)
    with platform_scope("test: read every city"):
        async with rt.db.transaction() as s:
            who = (await s.execute(text("SELECT current_user, session_user"))).one()
            ids = set((await s.scalars(select(Hospital.city_id).where(Hospital.city_id.in_([city.id, other.id])))).all())
    plat = platform_role(rt.settings.app_role)
    assert tuple(who) == (plat, plat)
    assert ids == {city.id, other.id}
    async with rt.db.transaction() as s:  # outside the scope: the app login again, no city, no rows
        who = (await s.execute(text("SELECT current_user"))).scalar_one()
        assert who == rt.settings.app_role
        assert (await s.execute(text("SELECT count(*) FROM hospitals"))).scalar_one() == 0


async def test_migrating_takes_the_platform_role_away_from_an_app_role_that_had_it(settings):
    """A database migrated by an earlier release: the app role was a member of a NOLOGIN
    platform role. Migrating again leaves a platform login the app role cannot switch to."""
    import dataclasses
    import os

    from guahao.core.migrate import upgrade_async

    app = f"guahao_old_{os.getpid()}"
    plat = platform_role(app)
    admin = await asyncpg.connect(_dsn(settings.owner_url))
    try:
        await admin.execute(f'CREATE ROLE "{app}" LOGIN NOSUPERUSER NOBYPASSRLS')
        await admin.execute(f'CREATE ROLE "{plat}" NOLOGIN NOSUPERUSER BYPASSRLS')
        await admin.execute(f'GRANT "{plat}" TO "{app}"')
        await upgrade_async(dataclasses.replace(settings, app_role=app))
        member = await admin.fetchval("SELECT pg_has_role($1, $2, 'MEMBER')", app, plat)
        can_login = await admin.fetchval("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", plat)
        assert (member, can_login) == (False, True)
    finally:
        await admin.execute(f'DROP ROLE IF EXISTS "{plat}"')
        await admin.execute(f'DROP ROLE IF EXISTS "{app}"')
        await admin.close()


async def test_orm_sessions_run_as_the_app_role_with_the_city_set(rt, city, catalogue):
    from guahao.tenants.context import use_city

    with use_city(city):
        async with rt.db.transaction() as s:
            row = (await s.execute(text("SELECT current_user, current_setting('app.city_id', true)"))).one()
    assert row[0] == rt.settings.app_role
    assert row[1] == str(city.id)
