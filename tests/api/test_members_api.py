"""Registration, login and the profile over HTTP."""

import pytest

from .conftest import identity, signup, url


async def test_register_returns_the_masked_member(client, city):
    ident = identity(id_number="11010519491231002x")
    r = await client.post(url(city, "/members"), json=ident)
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"id", "name", "id_number_masked", "phone"}
    assert body["id_number_masked"] == "1101**********002X" and body["phone"] == ident["phone"]
    assert "11010519491231002" not in r.text


@pytest.mark.parametrize(
    "overrides, status, code",
    [
        ({"id_number": "110105194912310021"}, 422, "invalid_id_number"),
        ({"id_number": "11010519900230001X"}, 422, "invalid_id_number"),
        ({"id_number": "1101051949123100"}, 422, "invalid_id_number"),
        ({"phone": "12345"}, 422, "invalid_phone"),
        ({"name": "王"}, 422, "invalid_name"),
        ({"password": "abcdefgh"}, 422, "weak_password"),
    ],
)
async def test_register_refusals(client, city, overrides, status, code):
    r = await client.post(url(city, "/members"), json=identity(**overrides))
    assert r.status_code == status
    assert r.json()["error"]["code"] == code
    assert r.json()["error"]["message"]


async def test_register_twice_is_a_conflict(client, rt, city):
    m = await signup(client, rt, city)
    r = await client.post(url(city, "/members"), json={**m.identity, "phone": "13711112222"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "member_exists"


async def test_token_by_phone_and_by_id_number(client, rt, city):
    m = await signup(client, rt, city)
    for login in (m.identity["phone"], m.identity["id_number"], m.identity["id_number"].lower()):
        r = await client.post(url(city, "/auth/token"), json={"login": login, "password": "secret123"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["token_type"] == "bearer" and body["expires_in"] == rt.settings.token_ttl_seconds
        me = await client.get(url(city, "/me"), headers={"Authorization": f"Bearer {body['access_token']}"})
        assert me.status_code == 200 and me.json()["id"] == m.id


async def test_wrong_password_then_lockout(client, rt, city):
    m = await signup(client, rt, city)
    login = {"login": m.identity["phone"], "password": "wrong1234"}
    for _ in range(5):
        r = await client.post(url(city, "/auth/token"), json=login)
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"
    r = await client.post(url(city, "/auth/token"), json={**login, "password": "secret123"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_attempts"
    assert int(r.headers["retry-after"]) > 800
    # Another login of the same city is not affected.
    other = await signup(client, rt, city)
    r = await client.post(url(city, "/auth/token"), json={"login": other.identity["phone"], "password": "secret123"})
    assert r.status_code == 200


async def test_me_shows_profile_and_credit(client, city, member):
    r = await client.get(url(city, "/me"), headers=member.headers)
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == member.id and body["name"] == "张伟"
    assert body["id_number_masked"].startswith(member.identity["id_number"][:4]) and "*" in body["id_number_masked"]
    assert body["credit"]["status"] == "good" and body["credit"]["no_shows_in_window"] == 0


async def test_failures_add_up_across_processes_sharing_redis(rt, redis_rt, city):
    """Two web processes (two runtimes on one Redis): five failures spread over both lock the
    login in both."""
    import httpx

    from guahao.core.app import create_app
    from guahao.core.runtime import Runtime

    other = Runtime(redis_rt.settings)
    await other.start()
    try:
        apps = [create_app(rt.settings, runtime=r) for r in (redis_rt, other)]
        clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://t") for a in apps]
        m = await signup(clients[0], rt, city)
        wrong = {"login": m.identity["phone"], "password": "wrong1234"}
        try:
            for i in range(5):
                r = await clients[i % 2].post(url(city, "/auth/token"), json=wrong)
                assert r.status_code == 401
            for c in clients:
                r = await c.post(url(city, "/auth/token"), json={**wrong, "password": "secret123"})
                assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_attempts"
        finally:
            for c in clients:
                await c.aclose()
            keys = [k async for k in redis_rt.redis.scan_iter(f"guahao:login:{city.id}:*")]
            if keys:
                await redis_rt.redis.delete(*keys)
    finally:
        await other.stop()
