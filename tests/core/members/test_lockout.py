"""Member lock-out counts per member, per normalized login and per client address, so other
spellings of one phone number (``+86``, spaces, hyphens) or the ID number get no fresh tries."""

from __future__ import annotations

import os
import uuid

import pytest

from guahao.core.errors import DomainError
from guahao.core.members import service
from guahao.core.members.throttle import (
    IP_MAX_FAILURES,
    MemoryLoginThrottle,
    RedisLoginThrottle,
)
from guahao.tenants.context import use_city

ID = "11010519491231002X"
PHONE = "13800000000"
SPELLINGS = ["13800000000", "+86 138 0000 0000", "138-0000-0000"]
WITH_REDIS = bool(os.environ.get("REDIS_URL"))


@pytest.fixture(params=["memory"] + (["redis"] if WITH_REDIS else []))
async def throttle(request):
    if request.param == "memory":
        yield MemoryLoginThrottle()
        return
    from arq import create_pool
    from arq.connections import RedisSettings

    redis = await create_pool(RedisSettings.from_dsn(os.environ["REDIS_URL"]))
    prefix = f"test:lockout:{uuid.uuid4().hex[:10]}"
    yield RedisLoginThrottle(redis, prefix=prefix)
    keys = [k async for k in redis.scan_iter(f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def register(rt, city, phone=PHONE, id_number=ID):
    with use_city(city):
        async with rt.db.transaction() as s:
            return await service.register(s, name="张伟", id_number=id_number, phone=phone, password="secret123")


async def attempt(rt, city, throttle, login, password="wrong1234", ip="203.0.113.7") -> str:
    """The refusal's code, or ``"ok"``."""
    with use_city(city):
        try:
            await service.login(rt.db, login=login, password=password, throttle=throttle, ip=ip)
        except DomainError as exc:
            return exc.code
    return "ok"


async def test_six_tries_over_three_spellings_lock_the_member(rt, city, throttle):
    await register(rt, city)
    codes = [await attempt(rt, city, throttle, SPELLINGS[i % 3]) for i in range(6)]
    assert codes == ["invalid_credentials"] * 5 + ["too_many_attempts"]
    for login in (*SPELLINGS, ID):  # the right password no longer helps, whichever the login
        assert await attempt(rt, city, throttle, login, "secret123") == "too_many_attempts"


async def test_phone_and_id_number_count_as_one_member(rt, city, throttle):
    await register(rt, city)
    for login in (PHONE, ID.lower(), "+86 13800000000", ID, "138 0000 0000"):
        assert await attempt(rt, city, throttle, login) == "invalid_credentials"
    assert await attempt(rt, city, throttle, PHONE, "secret123") == "too_many_attempts"
    assert await attempt(rt, city, throttle, ID, "secret123") == "too_many_attempts"


async def test_a_success_forgets_the_member_failures(rt, city, throttle):
    await register(rt, city)
    for login in SPELLINGS + [ID]:
        assert await attempt(rt, city, throttle, login) == "invalid_credentials"
    assert await attempt(rt, city, throttle, "+86 138-0000-0000", "secret123") == "ok"
    for login in SPELLINGS + [ID]:
        assert await attempt(rt, city, throttle, login) == "invalid_credentials"
    assert await attempt(rt, city, throttle, PHONE, "secret123") == "ok"


async def test_one_address_guessing_at_many_members_is_locked(rt, city, throttle):
    """Four tries at each of many logins never lock a login, but the address's limit does."""
    logins = [f"139{i:08d}" for i in range(IP_MAX_FAILURES // 4 + 1)]
    tries = [login for login in logins for _ in range(4)][:IP_MAX_FAILURES]
    assert {await attempt(rt, city, throttle, login, ip="198.51.100.9") for login in tries} == {"invalid_credentials"}
    await register(rt, city, phone="13700000000", id_number="110105194912310038")
    assert await attempt(rt, city, throttle, "13700000000", "secret123", ip="198.51.100.9") == "too_many_attempts"
    assert await attempt(rt, city, throttle, "13700000000", "secret123", ip="198.51.100.10") == "ok"


async def test_throttle_keys_hold_no_phone_or_id_number(rt, city):
    await register(rt, city)
    throttle = MemoryLoginThrottle()
    for login in (PHONE, ID):
        await attempt(rt, city, throttle, login)
    stored = " ".join(key for _, key in throttle._entries)
    assert PHONE not in stored and ID not in stored and "203.0.113.7" in stored


async def test_api_token_lockout_spans_spellings(client, city):
    r = await client.post(f"/api/v1/{city.slug}/members", json={
        "name": "张伟", "id_number": ID, "phone": PHONE, "password": "secret123"})
    assert r.status_code == 201, r.text
    token_url = f"/api/v1/{city.slug}/auth/token"
    for i in range(5):
        r = await client.post(token_url, json={"login": SPELLINGS[i % 3], "password": "wrong1234"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"
    r = await client.post(token_url, json={"login": "+86 138 0000 0000", "password": "secret123"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_attempts"
    assert r.json()["error"]["message"] == "登录失败次数过多，请稍后再试"
