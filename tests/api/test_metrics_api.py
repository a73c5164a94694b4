"""/metrics counts requests by route template and status and bookings by result, shows each
city's outbox depth and oldest waiting delivery, and answers trusted scrapers only; /readyz
names what is not ready."""

from __future__ import annotations

import dataclasses
import socket
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from guahao.core.app import create_app
from guahao.core.models import OutboxMessage
from guahao.core.runtime import Runtime
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from tests.conftest import make_settings

from .conftest import signup, url
from .test_bookings_api import book, first_period


def sample(text: str, name: str, **labels) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0 when none)."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


async def scrape(client) -> str:
    r = await client.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return r.text


async def test_requests_by_route_template_and_status_and_bookings_by_result(client, rt, city, catalogue):
    route = "/api/v1/{city}/hospitals"
    before = await scrape(client)
    for _ in range(3):
        assert (await client.get(url(city, "/hospitals"))).status_code == 200
    assert (await client.get("/api/v1/nowhere-at-all/hospitals")).status_code == 404
    m = await signup(client, rt, city)
    pid = first_period(catalogue)
    assert (await book(client, city, m, pid)).status_code == 201
    again = await book(client, city, m, pid)
    assert again.status_code == 409
    refused = again.json()["error"]["code"]
    after = await scrape(client)

    def grew(name, **labels):
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("guahao_http_requests_total", method="GET", route=route, status="200") == 3
    assert grew("guahao_http_request_duration_seconds_count", method="GET", route=route) >= 4
    assert grew("guahao_http_requests_total", method="POST", route="/api/v1/{city}/bookings", status="201") == 1
    assert grew("guahao_http_requests_total", method="POST", route="/api/v1/{city}/bookings", status="409") == 1
    assert city.slug not in after.replace(f'city="{city.slug}"', "")  # raw paths never become labels
    assert sample(after, "guahao_bookings_total", city=city.slug, channel="app", result="booked") == 1
    assert sample(after, "guahao_bookings_total", city=city.slug, channel="app", result=refused) == 1
    assert sample(after, "guahao_db_pool_checked_out") >= 0
    r = await client.get(url(city, "/hospitals"), headers={"X-Request-ID": "probe-42"})
    assert r.headers["x-request-id"] == "probe-42"
    made = (await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})).headers["x-request-id"]
    assert made != "bad id\twith spaces" and len(made) == 32


async def test_outbox_age_gauge_shows_a_failing_delivery(client, rt, city):
    with use_city(city):
        async with rt.db.transaction() as s:
            s.add(OutboxMessage(topic="his.push", payload={"booking_id": "GH0"}, status="pending", attempts=4,
                                last_error="ConnectError: HIS down", created_at=utcnow() - timedelta(minutes=20),
                                due_at=utcnow() + timedelta(hours=1)))
    text = await scrape(client)
    assert sample(text, "guahao_outbox_oldest_pending_age_seconds", city=city.slug) >= 20 * 60
    assert sample(text, "guahao_outbox_open", city=city.slug) == 1
    assert sample(text, "guahao_outbox_failing", city=city.slug) == 1


async def test_metrics_refused_to_untrusted_addresses_unless_the_token_is_given(rt, monkeypatch):
    monkeypatch.setattr(rt, "settings", dataclasses.replace(rt.settings, metrics_token="scrape-token-0123456789"))
    app = create_app(rt.settings, runtime=rt)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as outsider:
        r = await outsider.get("/metrics")
        assert r.status_code == 403 and r.json()["error"]["code"] == "metrics_forbidden"
        assert "guahao_" not in r.text
        wrong = await outsider.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 403
        ok = await outsider.get("/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"})
        assert ok.status_code == 200 and "guahao_http_requests_total" in ok.text


async def test_metrics_allow_list_replaces_the_default(rt, monkeypatch):
    monkeypatch.setattr(rt, "settings", dataclasses.replace(rt.settings, metrics_allow=("10.20.0.0/16",)))
    app = create_app(rt.settings, runtime=rt)
    for host, status in (("10.20.3.4", 200), ("127.0.0.1", 403)):
        transport = httpx.ASGITransport(app=app, client=(host, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            assert (await c.get("/metrics")).status_code == status, host


# --- /readyz ---------------------------------------------------------------------------------


async def test_readyz_ok_when_database_and_schema_are_current(client):
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok", "database": "ok", "redis": "disabled", "migrations": "ok", "cells": {},
                        "failed": []}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _get(runtime, path):
    transport = httpx.ASGITransport(app=create_app(runtime.settings, runtime=runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        return await c.get(path)


async def test_readyz_503_when_redis_is_unreachable(rt):
    down_url = f"redis://127.0.0.1:{_closed_port()}/0"
    runtime = Runtime(dataclasses.replace(rt.settings, redis_url=down_url))
    runtime.redis = Redis.from_url(down_url, socket_connect_timeout=0.5)
    try:
        r = await _get(runtime, "/readyz")
    finally:
        await runtime.redis.aclose()
        runtime.redis = None
        await runtime.stop()
    assert r.status_code == 503
    assert r.json() == {"status": "down", "database": "ok", "redis": "down", "migrations": "ok", "cells": {},
                        "failed": ["redis"]}
    assert down_url not in r.text


async def test_readyz_503_when_the_schema_is_behind(tmp_path):
    runtime = Runtime(make_settings("sqlite", tmp_path))  # an empty database file: never migrated
    try:
        r = await _get(runtime, "/readyz")
        alive = await _get(runtime, "/healthz")
    finally:
        await runtime.stop()
    assert r.status_code == 503
    assert r.json()["migrations"] == "behind" and r.json()["failed"] == ["migrations"]
    assert alive.status_code == 200  # alive, just not ready


@pytest.mark.parametrize("path", ["/metrics", "/readyz"])
async def test_probe_routes_are_not_city_pages(client, path):
    r = await client.get(path)
    assert r.headers.get("cache-control") == "no-store"


def test_alert_rules_use_metrics_that_exist():
    import re
    from pathlib import Path

    from prometheus_client import REGISTRY

    from guahao.core.metrics import OutboxStats

    rules = (Path(__file__).parents[2] / "deploy" / "prometheus" / "alerts.yml").read_text()
    families = [*REGISTRY.collect(), *OutboxStats().collect()]
    known = {s.name for f in families for s in f.samples} | {f.name for f in families}
    known |= {f.name + suffix for f in families for suffix in ("_total", "_bucket", "_count", "_sum")}
    used = set(re.findall(r"\bguahao_\w+", rules))
    assert "guahao_outbox_oldest_pending_age_seconds" in used
    assert used <= known, used - known
    assert re.search(r"guahao_outbox_oldest_pending_age_seconds\) > 900", rules)  # 15 minutes


async def test_a_requests_log_context_ends_with_it(client, rt, city):
    from structlog.contextvars import get_contextvars

    m = await signup(client, rt, city)
    assert (await client.get(url(city, "/bookings"), headers=m.headers)).status_code == 200
    assert not {"member_id", "request_id", "route"} & set(get_contextvars())  # the next request starts clean


async def test_gate_refusals_are_counted(client, rt, city):
    from tests.factories import make_catalogue

    cat = await make_catalogue(rt, city, capacity=1)
    pid = first_period(cat)
    first, second, third = [await signup(client, rt, city) for _ in range(3)]
    assert (await book(client, city, first, pid)).status_code == 201
    assert (await book(client, city, second, pid)).json()["error"]["code"] == "slot_full"  # marks the period sold out
    assert (await book(client, city, third, pid)).json()["error"]["code"] == "slot_full"  # the gate says so
    text = await scrape(client)
    assert sample(text, "guahao_gate_refusals_total", city=city.slug) == 1
    assert sample(text, "guahao_bookings_total", city=city.slug, result="slot_full") == 2
