"""Anti-scalper limits on the API (R4.4): a script registering accounts from one address is
stopped with 429 + Retry-After + ``rate_limited``; a member's normal day never meets a limit."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from guahao.core import ratelimit
from guahao.core.ratelimit import RateLimiter
from guahao.tenants.rate_limits import parse_rate_limits
from guahao.tenants.settings import Settings, SettingsError

from .conftest import identity, url

FIRST = 5  # the default register_ip window: 5 an hour


def from_ip(ip: str) -> dict:
    return {"X-Forwarded-For": ip}  # the test client is the trusted local proxy


async def register(client, city, ip: str):
    return await client.post(url(city, "/members"), json=identity(), headers=from_ip(ip))


async def test_forty_registrations_from_one_address_stop_at_the_limit(client, city):
    answers = [await register(client, city, "203.0.113.7") for _ in range(40)]
    assert [r.status_code for r in answers[:FIRST]] == [201] * FIRST
    refused = answers[FIRST:]
    assert {r.status_code for r in refused} == {429}
    body = refused[0].json()["error"]
    assert body["code"] == "rate_limited" and body["details"]["scope"] == "ip"
    wait = body["details"]["retry_after"]
    assert 0 < wait <= 3600 and refused[0].headers["Retry-After"] == str(wait)
    assert body["message"] == f"操作过于频繁，请 {wait} 秒后再试。"


async def test_the_same_number_from_different_addresses_pass(client, city):
    answers = [await register(client, city, f"198.51.100.{i}") for i in range(1, 41)]
    assert {r.status_code for r in answers} == {201}


async def test_another_city_counts_on_its_own(client, city, rt):
    from tests.factories import make_city

    for _ in range(FIRST):
        await register(client, city, "203.0.113.8")
    assert (await register(client, city, "203.0.113.8")).status_code == 429
    other = await make_city(rt, f"{city.slug}-b")
    assert (await register(client, other, "203.0.113.8")).status_code == 201


async def test_a_members_normal_flow_never_meets_a_limit(client, city, catalogue):
    ip = {"X-Forwarded-For": "192.0.2.50"}
    ident = identity()
    assert (await client.post(url(city, "/members"), json=ident, headers=ip)).status_code == 201
    r = await client.post(url(city, "/auth/token"), json={"login": ident["phone"], "password": ident["password"]},
                          headers=ip)
    assert r.status_code == 200, r.text
    auth = {**ip, "Authorization": f"Bearer {r.json()['access_token']}"}
    for _ in range(20):
        r = await client.get(url(city, f"/availability?doctor_id={catalogue.doctor.id}"), headers=ip)
        assert r.status_code == 200, r.text
        assert (await client.get(url(city, f"/doctors?q={catalogue.doctor.name}"), headers=ip)).status_code == 200
    periods = [p.id for s in catalogue.sessions for p in catalogue.periods[s.id]]
    for pid in periods[:3]:
        r = await client.post(url(city, "/bookings"), json={"period_id": pid, "channel": "app"}, headers=auth)
        assert r.status_code == 201, r.text
        r = await client.post(url(city, f"/bookings/{r.json()['id']}/cancel"), headers=auth)
        assert r.status_code == 200, r.text
    r = await client.post(url(city, "/bookings"), json={"period_id": periods[0], "channel": "app"}, headers=auth)
    assert r.status_code == 201, r.text


async def test_searches_from_one_address_are_limited(client, city, catalogue, rt, monkeypatch):
    tight = RateLimiter(dataclasses.replace(rt.settings, rate_limits={"search_ip": "3/minute"}))
    monkeypatch.setitem(ratelimit._limiters, rt, tight)
    path = url(city, f"/availability?doctor_id={catalogue.doctor.id}")
    codes = [(await client.get(path, headers=from_ip("203.0.113.9"))).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert (await client.get(path, headers=from_ip("203.0.113.10"))).status_code == 200


async def test_booking_per_member_is_limited(client, city, catalogue, rt, monkeypatch):
    from .conftest import signup

    member = await signup(client, rt, city)
    monkeypatch.setitem(ratelimit._limiters, rt,
                        RateLimiter(dataclasses.replace(rt.settings, rate_limits={"book_member": "2/minute"})))
    pids = [p.id for s in catalogue.sessions for p in catalogue.periods[s.id]]
    answers = []
    for i, pid in enumerate(pids[:3]):
        answers.append(await client.post(url(city, "/bookings"), json={"period_id": pid, "channel": "app"},
                                         headers={**member.headers, **from_ip(f"192.0.2.{i + 1}")}))
    assert [r.status_code for r in answers[:2]] != [429, 429]
    assert answers[2].status_code == 429 and answers[2].json()["error"]["details"]["scope"] == "member"


async def test_limits_reset_after_the_window(client, city, rt, monkeypatch):
    monkeypatch.setitem(ratelimit._limiters, rt,
                        RateLimiter(dataclasses.replace(rt.settings, rate_limits={"register_ip": "2/second"})))
    codes = [(await register(client, city, "203.0.113.11")).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    await asyncio.sleep(1.1)
    assert (await register(client, city, "203.0.113.11")).status_code == 201


async def test_log_in_attempts_from_one_address_are_limited(client, city, rt, monkeypatch):
    monkeypatch.setitem(ratelimit._limiters, rt,
                        RateLimiter(dataclasses.replace(rt.settings, rate_limits={"login_ip": "2/minute"})))
    answers = [await client.post(url(city, "/auth/token"), json={"login": f"1390000000{i}", "password": "x1234567"},
                                 headers=from_ip("203.0.113.14")) for i in range(3)]
    assert [r.status_code for r in answers] == [401, 401, 429]
    assert answers[2].json()["error"]["code"] == "rate_limited" and answers[2].headers["Retry-After"]


def test_configured_limits_are_checked_at_start():
    assert parse_rate_limits("register_ip=3/hour;10/day, search_ip=60/minute") == {
        "register_ip": "3/hour;10/day", "search_ip": "60/minute"}
    for bad in ("register=3/hour", "search_ip=often", "search_ip"):
        with pytest.raises(SettingsError):
            Settings.from_env({"GUAHAO_RATE_LIMITS": bad})
    assert Settings.from_env({"GUAHAO_RATE_LIMITS": "book_ip=5/minute"}).rate_limit("book_ip") == "5/minute"
    assert Settings.from_env({}).rate_limit("book_ip") == "30/10minutes"


async def test_openapi_documents_429_where_limited(client):
    doc = (await client.get("/api/v1/openapi.json")).json()
    for path, method in (("/api/v1/{city}/members", "post"), ("/api/v1/{city}/bookings", "post"),
                         ("/api/v1/{city}/availability", "get")):
        answer = doc["paths"][path][method]["responses"]["429"]
        assert "Retry-After" in answer.get("headers", {}), path
    assert "429" not in doc["paths"]["/api/v1/{city}/me"]["get"]["responses"]


@pytest.mark.redis
async def test_redis_counts_are_shared_between_processes(settings):
    """Two runtimes on one Redis (two processes) share one count."""
    import uuid

    from guahao.core.runtime import Runtime
    from tests.conftest import REDIS_URL

    shared = dataclasses.replace(settings, redis_url=REDIS_URL, rate_limits={"register_ip": "3/minute"},
                                 extra={"arq_namespace": f"test-{uuid.uuid4().hex[:10]}"})
    one, two = Runtime(shared), Runtime(shared)
    assert ratelimit.limiter(one).shared is not None
    await ratelimit.check(one, 1, [("register_ip", "203.0.113.12")])
    await ratelimit.check(two, 1, [("register_ip", "203.0.113.12")])
    await ratelimit.check(one, 1, [("register_ip", "203.0.113.12")])
    with pytest.raises(ratelimit.RateLimited) as refused:
        await ratelimit.check(two, 1, [("register_ip", "203.0.113.12")])
    assert refused.value.details["scope"] == "ip"


async def test_redis_down_keeps_registration_limited_and_lets_searches_through(settings):
    """With Redis unreachable, registration is counted in the process; searches go through."""
    broken = dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0",
                                 rate_limits={"register_ip": "1/minute", "search_ip": "1/minute"})
    limiter = RateLimiter(broken)
    await limiter.hit(1, ("register_ip", "203.0.113.13"))
    with pytest.raises(ratelimit.RateLimited):
        await limiter.hit(1, ("register_ip", "203.0.113.13"))
    for _ in range(3):
        await limiter.hit(1, ("search_ip", "203.0.113.13"))


async def test_asking_again_for_a_sold_out_period_costs_no_count(client, city, catalogue, rt, monkeypatch):
    """The release rush's losers are answered slot_full by the sold-out gate before any count:
    a member who keeps asking for a sold-out period is not limited for it, and can still book
    elsewhere; the count starts where a booking could happen."""
    from .conftest import signup

    monkeypatch.setitem(ratelimit._limiters, rt,
                        RateLimiter(dataclasses.replace(rt.settings, rate_limits={"book_member": "2/minute"})))
    member = await signup(client, rt, city)
    sold_out, other = catalogue.periods[catalogue.sessions[0].id][0].id, catalogue.periods[catalogue.sessions[2].id][0].id
    await rt.gate.mark_sold_out(city.id, sold_out)
    for _ in range(6):
        r = await client.post(url(city, "/bookings"), json={"period_id": sold_out, "channel": "app"}, headers=member.headers)
        assert r.status_code == 409 and r.json()["error"]["code"] == "slot_full"
    r = await client.post(url(city, "/bookings"), json={"period_id": other, "channel": "app"}, headers=member.headers)
    assert r.status_code == 201, r.text
