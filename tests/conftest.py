"""Shared fixtures.

Database tests run on SQLite always, and on PostgreSQL too when ``DATABASE_URL`` points at
one (CI sets it). Each test gets its own city, so tests never see each other's rows — the
same isolation the product promises. ``REDIS_URL`` enables the Redis-backed tests.
"""

from __future__ import annotations

import itertools
import os
import uuid

import httpx
import pytest
from sqlalchemy.engine import make_url

from guahao.core.runtime import Runtime
from guahao.tenants.settings import Settings

from .factories import Catalogue, make_catalogue, make_city

# Fixtures shared across folders, registered once: the fakes of the far ends and the probe
# plugins of the plugin and job tests.
pytest_plugins = ["tests.fakes.fixtures", "tests.core.plugins.probes"]

PG_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
HAVE_PG = PG_URL.startswith("postgres")

BACKENDS = ["sqlite"] + (["postgres"] if HAVE_PG else [])


def _pg_test_url() -> str:
    """A database of its own for the test run, next to the one DATABASE_URL names."""
    u = make_url(PG_URL)
    name = f"{u.database or 'guahao'}_pytest_{os.getpid()}"
    return u.set(database=name).render_as_string(hide_password=False)


async def _pg_admin(url: str, *statements: str) -> None:
    import asyncpg

    u = make_url(url)
    admin = u.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            u.database,
        )
        for stmt in statements:
            await conn.execute(stmt.format(db=u.database))
    finally:
        await conn.close()


def make_settings(backend: str, tmp_dir, **overrides) -> Settings:
    if backend == "postgres":
        url = _pg_test_url()
    else:
        url = f"sqlite+aiosqlite:///{tmp_dir}/guahao-test.sqlite3"
    overrides.setdefault("availability_cache_seconds", 0)  # tests look right after they book
    return Settings(database_url=url, secret_key="test-secret-" + "x" * 40, **overrides)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="session")
async def settings(backend, tmp_path_factory) -> Settings:
    from guahao.core.migrate import upgrade_async

    s = make_settings(backend, tmp_path_factory.mktemp(backend))
    if backend == "postgres":
        await _pg_admin(s.database_url, 'DROP DATABASE IF EXISTS "{db}"', 'CREATE DATABASE "{db}"')
    await upgrade_async(s)
    yield s
    if backend == "postgres":
        await _pg_admin(s.database_url, 'DROP DATABASE IF EXISTS "{db}"')


@pytest.fixture(scope="session")
async def rt(settings):
    """The process services (database, resolver, plugins, gate) for the test run."""
    runtime = Runtime(settings)
    await runtime.start()
    yield runtime
    await runtime.stop()


_seq = itertools.count(1)


# The test city lets members cancel until the period starts, so a test that cancels tomorrow's
# booking passes at any hour (the platform's default stops at 18:00 the day before). A test of
# the cut-off marks itself ``@pytest.mark.city_rules(cancel_days_before=1)``.
TEST_CITY_RULES = {"cancel_days_before": 0}


@pytest.fixture
async def city(rt, request):
    """A fresh city with the built-in plugins enabled."""
    marker = request.node.get_closest_marker("city_rules")
    rules = {**TEST_CITY_RULES, **(marker.kwargs if marker else {})}
    return await make_city(rt, f"t{next(_seq)}-{uuid.uuid4().hex[:6]}", **rules)


@pytest.fixture
async def catalogue(rt, city) -> Catalogue:
    """One hospital with a department, a doctor and sessions over the coming days."""
    return await make_catalogue(rt, city)


@pytest.fixture
async def app(rt):
    from guahao.core.app import create_app

    return create_app(rt.settings, runtime=rt)


@pytest.fixture
async def client(app):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def redis_rt(settings):
    """A runtime on the real Redis of ``REDIS_URL``, with a queue namespace of its own (tests
    using it are deselected without one)."""
    import dataclasses

    runtime = Runtime(
        dataclasses.replace(settings, redis_url=REDIS_URL, extra={"arq_namespace": f"test-{uuid.uuid4().hex[:10]}"})
    )
    await runtime.start()
    yield runtime
    await runtime.stop()


@pytest.fixture
def pg_only(backend):
    """Marks a test as PostgreSQL-only (row-level security, real concurrency)."""
    assert backend == "postgres"


# Fixtures that need a real Redis; tests using them run only when REDIS_URL is set.
REDIS_FIXTURES = {"redis", "redis_rt"}


def pytest_collection_modifyitems(config, items):
    """Run PostgreSQL-only tests on the postgres backend alone, embedded-only tests on the
    sqlite backend alone, and Redis tests only with REDIS_URL; otherwise they are deselected
    (not skipped): there is nothing to run against."""
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        names = set(getattr(item, "fixturenames", ()))
        pg_only = "pg_only" in names or item.get_closest_marker("postgres")
        if pg_only and (callspec is None or callspec.params.get("backend") != "postgres"):
            drop.append(item)
        elif item.get_closest_marker("embedded") and (callspec is None or callspec.params.get("backend") != "sqlite"):
            drop.append(item)  # what only the embedded default (SQLite, no Redis) does
        elif (names & REDIS_FIXTURES or item.get_closest_marker("redis")) and not REDIS_URL:
            drop.append(item)
        elif item.get_closest_marker("cells") and not os.environ.get("CELL_DATABASE_URL"):
            drop.append(item)  # database cells need a second PostgreSQL cluster
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
