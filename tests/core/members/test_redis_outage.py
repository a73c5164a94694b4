"""A Redis outage: member log-in keeps working (the failure count falls back to the process's
own counter, locks included), text-message codes are refused with a clear 503, and /healthz
says which dependency is down. Redis is a URL pointing at a closed port, so these tests need
no Redis of their own."""

from __future__ import annotations

import dataclasses
import socket

import httpx
import pytest
from redis.asyncio import Redis

from guahao.core.members.throttle import MemoryLoginThrottle, RedisLoginThrottle, TooManyAttempts
from guahao.core.plugins.manager import configure
from guahao.core.runtime import Runtime
from tests.plugins.web.conftest import Visitor, csrf_of


def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def down_url() -> str:
    return f"redis://127.0.0.1:{closed_port()}/0"


@pytest.fixture
async def down_redis(down_url):
    client = Redis.from_url(down_url, socket_connect_timeout=0.5)
    yield client
    await client.aclose()


async def test_the_throttle_counts_in_process_while_redis_is_down(down_redis):
    throttle = RedisLoginThrottle(down_redis, fallback=MemoryLoginThrottle())
    for _ in range(4):
        await throttle.check(1, "login:abc")
        await throttle.failed(1, "login:abc")
    await throttle.check(1, "login:abc")  # four failures: still allowed
    await throttle.failed(1, "login:abc")
    with pytest.raises(TooManyAttempts) as locked:
        await throttle.check(1, "login:abc")
    assert locked.value.status == 429 and int(locked.value.headers["Retry-After"]) > 800
    await throttle.check(1, "login:other")
    await throttle.succeeded(1, "login:other")


@pytest.fixture
async def site_city(rt, city, catalogue):
    await configure(rt, city, "web")
    return catalogue


@pytest.fixture
async def outage(rt, down_url, down_redis):
    """A web process whose Redis went away after it started: same database, Redis refused."""
    runtime = Runtime(dataclasses.replace(rt.settings, redis_url=down_url))
    runtime.redis = down_redis
    yield runtime
    runtime.redis = None
    await runtime.stop()


@pytest.fixture
async def outage_client(outage):
    from guahao.core.app import create_app

    transport = httpx.ASGITransport(app=create_app(outage.settings, runtime=outage))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_member_log_in_works_and_locks_without_redis(outage_client, site_city):
    visitor = Visitor(outage_client, site_city.city.slug)
    assert (await visitor.register()).status_code == 303
    await visitor.post("logout", {}, form_page="")
    ok = await visitor.login()
    assert ok.status_code == 303, ok.text
    await visitor.post("logout", {}, form_page="")
    for _ in range(5):
        assert (await visitor.login(password="wrong-password-1")).status_code == 401
    locked = await visitor.login()
    assert locked.status_code == 429 and "暂时锁定" in locked.text



async def test_api_log_in_works_and_locks_without_redis(outage_client, site_city):
    await Visitor(outage_client, site_city.city.slug).register()
    api = f"/api/v1/{site_city.city.slug}/auth/token"
    token = await outage_client.post(api, json={"login": "13800138000", "password": "secret123"})
    assert token.status_code == 200 and token.json()["access_token"]
    for _ in range(5):
        wrong = await outage_client.post(api, json={"login": "13800138000", "password": "wrong-password-1"})
        assert wrong.status_code == 401
    locked = await outage_client.post(api, json={"login": "13800138000", "password": "secret123"})
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "too_many_attempts"


async def test_text_message_codes_are_refused_clearly_without_redis(outage_client, site_city):
    visitor = Visitor(outage_client, site_city.city.slug)
    await visitor.register()
    await visitor.post("logout", {}, form_page="")
    page = await visitor.get("login/code")
    sent = await outage_client.post(visitor.root + "login/code",
                                    data={"csrf": csrf_of(page.text), "phone": "13800138000", "action": "send"})
    assert sent.status_code == 503 and 'id="error"' in sent.text and "密码登录" in sent.text


async def test_healthz_names_the_dependency_that_is_down(outage_client):
    r = await outage_client.get("/healthz")
    assert r.status_code == 503
    assert r.json() == {"status": "down", "database": "ok", "redis": "down"}
