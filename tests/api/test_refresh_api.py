"""Refresh tokens: rotation, reuse revoking the family, RFC 7009 revocation, and access tokens
ending with the member's log-out or new password."""

from __future__ import annotations

import uuid
from datetime import timedelta

from guahao.core.members import refresh, sessions
from guahao.tenants.clock import frozen, utcnow
from guahao.tenants.context import use_city

from .conftest import signup, url


async def _log_in(client, city, member) -> dict:
    r = await client.post(url(city, "/auth/token"), json={"login": member.identity["phone"], "password": "secret123"})
    assert r.status_code == 200, r.text
    return r.json()


async def _refresh(client, city, token: str):
    return await client.post(url(city, "/auth/refresh"), json={"refresh_token": token})


def _bearer(body: dict) -> dict:
    return {"Authorization": f"Bearer {body['access_token']}"}


async def test_log_in_gives_a_short_lived_access_token_and_a_refresh_token(client, rt, city, member):
    body = await _log_in(client, city, member)
    assert body["expires_in"] == rt.settings.token_ttl_seconds
    assert len(body["refresh_token"]) >= 40 and body["refresh_expires_in"] == 30 * 24 * 3600
    assert (await client.get(url(city, "/me"), headers=_bearer(body))).status_code == 200


async def test_a_refresh_token_rotates(client, city, member):
    first = await _log_in(client, city, member)
    r = await _refresh(client, city, first["refresh_token"])
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get(url(city, "/me"), headers=_bearer(second))).status_code == 200
    r = await _refresh(client, city, second["refresh_token"])
    assert r.status_code == 200


async def test_a_reused_refresh_token_revokes_its_family(client, city, member):
    first = await _log_in(client, city, member)
    other_login = await _log_in(client, city, member)  # another device: a family of its own
    second = (await _refresh(client, city, first["refresh_token"])).json()
    r = await _refresh(client, city, first["refresh_token"])  # a stolen copy of the spent token
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_refresh_token"
    assert r.json()["error"]["details"]["reason"] == "reused"
    r = await _refresh(client, city, second["refresh_token"])  # the family's newest token is dead too
    assert r.status_code == 401 and r.json()["error"]["details"]["reason"] == "revoked"
    assert (await _refresh(client, city, other_login["refresh_token"])).status_code == 200


async def test_revoke(client, city, member):
    body = await _log_in(client, city, member)
    r = await client.post(url(city, "/auth/revoke"), json={"token": body["refresh_token"],
                                                            "token_type_hint": "refresh_token"})
    assert r.status_code == 200 and r.json() == {"revoked": True}
    r = await _refresh(client, city, body["refresh_token"])
    assert r.status_code == 401 and r.json()["error"]["details"]["reason"] == "revoked"
    # an unknown token is answered the same (RFC 7009 §2.2)
    r = await client.post(url(city, "/auth/revoke"), json={"token": "no-such-token"})
    assert r.status_code == 200


async def test_unknown_expired_and_other_citys_refresh_tokens_are_refused(client, rt, city):
    from tests.factories import make_city

    member = await signup(client, rt, city)
    r = await _refresh(client, city, "no-such-token")
    assert r.status_code == 401 and r.json()["error"]["details"]["reason"] == "invalid"
    r = await client.post(url(city, "/auth/refresh"), json={"refresh_token": ""})
    assert r.status_code == 422
    body = await _log_in(client, city, member)
    other = await make_city(rt, f"rf-{uuid.uuid4().hex[:8]}")
    r = await _refresh(client, other, body["refresh_token"])
    assert r.status_code == 401 and r.json()["error"]["details"]["reason"] == "invalid"
    with frozen(utcnow() + refresh.LIFETIME + timedelta(minutes=1)):
        r = await _refresh(client, city, body["refresh_token"])
    assert r.status_code == 401 and r.json()["error"]["details"]["reason"] == "expired"


async def test_a_password_change_ends_access_and_refresh_tokens_issued_before(client, rt, city, member):
    body = await _log_in(client, city, member)
    assert (await client.get(url(city, "/me"), headers=_bearer(body))).status_code == 200
    with use_city(city):
        async with rt.db.transaction() as s:
            await sessions.change_password(s, member.id, current="secret123", new="changed789")
    r = await client.get(url(city, "/me"), headers=_bearer(body))
    assert r.status_code == 401 and r.json()["error"]["details"]["reason"] == "revoked"
    r = await client.get(url(city, "/bookings"), headers=member.headers)  # the fixture's token too
    assert r.status_code == 401
    r = await _refresh(client, city, body["refresh_token"])
    assert r.status_code == 401 and r.json()["error"]["details"]["reason"] == "revoked"
    r = await client.post(url(city, "/auth/token"), json={"login": member.identity["phone"], "password": "changed789"})
    assert (await client.get(url(city, "/me"), headers=_bearer(r.json()))).status_code == 200


async def test_logging_out_of_the_site_ends_api_tokens(client, rt, city, member):
    body = await _log_in(client, city, member)
    with use_city(city):
        async with rt.db.transaction() as s:
            await sessions.end_sessions(s, member.id)
    r = await client.get(url(city, "/me"), headers=_bearer(body))
    assert r.status_code == 401 and r.json()["error"]["details"]["reason"] == "revoked"
    assert (await _refresh(client, city, body["refresh_token"])).status_code == 401
