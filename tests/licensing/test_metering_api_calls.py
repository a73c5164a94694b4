"""Calls to the public API are counted per city, minute and client without a database write per
request, and each closed minute reaches the ledger once (``api.third_party_calls``), also when
a flush is repeated after dying half-way."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from guahao.core import usage_api
from guahao.core.app import create_app
from guahao.core.jobs import drain_in_process
from guahao.core.jobs.worker import worker_settings
from guahao.licensing.ledger.models import UsageEvent
from guahao.licensing.ledger.verify import verify
from guahao.plugin_api import city_session
from guahao.tenants.clock import frozen

T = datetime(2026, 1, 5, 3, 4, 20, tzinfo=UTC)  # in the past: other tests' open buckets stay open
BUCKET = "202601050304"
CLOSED = T + timedelta(minutes=2)


async def api_rows(rt, city) -> list[UsageEvent]:
    async with city_session(rt, city) as s:
        q = select(UsageEvent).where(UsageEvent.meter == "api.third_party_calls").order_by(UsageEvent.seq)
        return list((await s.scalars(q)).all())


async def calls(http: httpx.AsyncClient, city) -> None:
    """Six calls of the city's API (three by partner-a, three unnamed), and requests that are not
    calls of it: the platform's API documents, the patient site, and an answer of 500."""
    base = f"/api/v1/{city.slug}"
    for _ in range(3):
        assert (await http.get(f"{base}/districts", headers={"X-Guahao-Client": "  partner-a \t"})).status_code == 200
    assert (await http.get(f"{base}/districts")).status_code == 200
    assert (await http.get(f"{base}/hospitals", headers={"X-Guahao-Client": "   "})).status_code == 200
    assert (await http.get(f"{base}/hospitals/999999")).status_code == 404  # answered: a call
    assert (await http.get("/api/v1/openapi.json")).status_code == 200
    assert (await http.get("/api/v1/docs")).status_code == 200
    await http.get(f"/c/{city.slug}/")
    assert (await http.get(f"{base}/doctors", headers={"X-Guahao-Client": "partner-a"})).status_code == 500


@pytest.fixture
def failing_doctors(monkeypatch):
    """The doctors list fails with an unexpected error (answered 500: not a call to count)."""
    from guahao.core.api import catalogue

    async def broken(call):
        raise RuntimeError("the doctors list is broken")

    monkeypatch.setattr(catalogue, "doctors", broken)


async def http_client(rt):
    app = create_app(rt.settings, runtime=rt)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def test_client_names_and_buckets():
    assert usage_api.client_name(None) == usage_api.client_name(b"  \t ") == "unknown"
    assert usage_api.client_name(b" partner-a\r\n") == "partner-a"
    assert usage_api.client_name("医院APP".encode()) == "医院APP"
    assert len(usage_api.client_name(b"x" * 500)) == usage_api.MAX_CLIENT_CHARS
    assert usage_api.bucket_of(T) == BUCKET and usage_api.bucket_start(BUCKET) == T.replace(second=0)
    assert not usage_api.is_closed(BUCKET, T + timedelta(seconds=40 + 14))
    assert usage_api.is_closed(BUCKET, T + timedelta(seconds=40 + 15))
    assert usage_api.source_id(7, BUCKET, "partner-a") == f"api.third_party_calls:7:{BUCKET}:partner-a"
    assert usage_api.source_id(7, BUCKET, "a", "p1-x") == f"api.third_party_calls:7:{BUCKET}:p1-x:a"


async def test_calls_counted_in_memory_reach_the_ledger_once(rt, city, failing_doctors):
    async with await http_client(rt) as http:
        with frozen(T):
            await calls(http, city)
    memory = usage_api.memory_calls(rt)
    assert {k: n for k, n in memory.counts.items() if k[0] == city.id} == {
        (city.id, BUCKET, "partner-a"): 3, (city.id, BUCKET, "unknown"): 3,
    }
    assert await api_rows(rt, city) == []  # nothing was written while serving

    await usage_api.flush_api_calls(rt, now=T + timedelta(seconds=50))  # the minute is still open
    await drain_in_process(rt, city_id=city.id)
    assert await api_rows(rt, city) == []
    await usage_api.flush_api_calls(rt, now=CLOSED)
    assert not [k for k in memory.counts if k[0] == city.id]
    await usage_api.flush_api_calls(rt, now=CLOSED)  # nothing left: nothing reported again
    await drain_in_process(rt, city_id=city.id)

    rows = await api_rows(rt, city)
    assert [(r.quantity, r.dimensions, r.source_id, r.occurred_at) for r in rows] == [
        (3, {"client": name}, f"api.third_party_calls:{city.id}:{BUCKET}:{memory.process}:{name}", T.replace(second=0))
        for name in ("partner-a", "unknown")
    ]
    async with city_session(rt, city) as s:
        assert (await verify(s)).ok


async def test_a_process_stopping_reports_its_open_minute(rt, city):
    async with await http_client(rt) as http:
        with frozen(T):
            assert (await http.get(f"/api/v1/{city.slug}/districts")).status_code == 200
    await usage_api.flush_api_calls(rt, now=T + timedelta(seconds=45), everything=True)
    await drain_in_process(rt, city_id=city.id)
    assert [(r.quantity, r.dimensions["client"]) for r in await api_rows(rt, city)] == [(1, "unknown")]


async def redis_counts(rt, city) -> dict[str, int]:
    raw = await rt.redis.hgetall(usage_api.redis_key(rt.settings, city.id, BUCKET))
    return {k.decode(): int(v) for k, v in raw.items()}


async def test_calls_counted_in_redis_are_reported_then_deleted_and_a_repeated_flush_counts_once(
    redis_rt, city, failing_doctors, monkeypatch
):
    rt = redis_rt
    async with await http_client(rt) as http:
        with frozen(T):
            await calls(http, city)
    await usage_api.redis_calls(rt).settle()
    assert await redis_counts(rt, city) == {"partner-a": 3, "unknown": 3}
    assert usage_api.memory_calls(rt).counts == {}

    # The flush dies after the report committed, before the bucket was deleted ...
    forget = usage_api._forget_redis

    async def dies(*args):
        raise ConnectionError("the worker died here")

    monkeypatch.setattr(usage_api, "_forget_redis", dies)
    with pytest.raises(ConnectionError):
        await usage_api.flush_api_calls(rt, now=CLOSED)
    assert await redis_counts(rt, city) == {"partner-a": 3, "unknown": 3}
    # ... so the next flushes (two at once, as two workers would) report the bucket again.
    monkeypatch.setattr(usage_api, "_forget_redis", forget)
    await asyncio.gather(usage_api.flush_api_calls(rt, now=CLOSED), usage_api.flush_api_calls(rt, now=CLOSED))
    assert await redis_counts(rt, city) == {}
    assert f"{city.id}:{BUCKET}".encode() not in await rt.redis.smembers(usage_api.redis_index(rt.settings))
    await drain_in_process(rt, city_id=city.id)

    rows = await api_rows(rt, city)
    assert [(r.quantity, r.dimensions, r.source_id) for r in rows] == [
        (3, {"client": name}, f"api.third_party_calls:{city.id}:{BUCKET}:{name}") for name in ("partner-a", "unknown")
    ]
    async with city_session(rt, city) as s:
        assert (await verify(s)).ok


async def test_a_report_that_fails_keeps_the_bucket_for_the_next_flush(redis_rt, city, monkeypatch):
    rt = redis_rt
    async with await http_client(rt) as http:
        with frozen(T):
            assert (await http.get(f"/api/v1/{city.slug}/districts", headers={"X-Guahao-Client": "b"})).status_code == 200
    await usage_api.redis_calls(rt).settle()

    def refused(*args, **kwargs):
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(usage_api, "report_usage", refused)
    await usage_api.flush_api_calls(rt, now=CLOSED)  # logged; the bucket stays
    assert await redis_counts(rt, city) == {"b": 1}
    monkeypatch.undo()
    await usage_api.flush_api_calls(rt, now=CLOSED)
    await drain_in_process(rt, city_id=city.id)
    assert [(r.quantity, r.dimensions["client"]) for r in await api_rows(rt, city)] == [(1, "b")]
    assert await redis_counts(rt, city) == {}


def test_the_worker_reports_api_calls_every_minute(settings):
    import dataclasses

    ws = worker_settings(dataclasses.replace(settings, redis_url="redis://127.0.0.1:6379/0"))
    [job] = [j for j in ws.cron_jobs if j.name.endswith("api_calls")]
    assert job.second == 20 and job.minute is None
