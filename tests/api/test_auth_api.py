"""Bearer tokens over HTTP: missing, malformed, expired, tampered and other cities' tokens."""

from datetime import timedelta

import pytest

from guahao.core.members.tokens import issue
from guahao.tenants.clock import frozen, utcnow

from .conftest import url

PROTECTED = [
    ("GET", "/me", None),
    ("GET", "/bookings", None),
    ("POST", "/bookings", {"period_id": 1, "channel": "app"}),
    ("GET", "/bookings/GHAAAAAAAAAAAAAAAA", None),
    ("POST", "/bookings/GHAAAAAAAAAAAAAAAA/cancel", None),
    ("POST", "/bookings/GHAAAAAAAAAAAAAAAA/accept", None),
    ("POST", "/waitlist", {"session_id": 1}),
    ("GET", "/waitlist", None),
    ("DELETE", "/waitlist/1", None),
]


@pytest.mark.parametrize("method, path, body", PROTECTED)
@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer garbage", "Bearer a.b.c", "Token abc"],
)
async def test_without_a_valid_token(client, shared_city, method, path, body, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    r = await client.request(method, url(shared_city, path), json=body, headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    expected = "Bearer" if r.json()["error"]["details"]["reason"] == "missing" else 'Bearer error="invalid_token"'
    assert r.headers["www-authenticate"] == expected


async def test_expired_token(client, rt, city, member):
    with frozen(utcnow() - timedelta(seconds=rt.settings.token_ttl_seconds + 60)):
        old, _ = issue(rt.settings, member_id=member.id, city_id=city.id)
    r = await client.get(url(city, "/me"), headers={"Authorization": f"Bearer {old}"})
    assert r.status_code == 401 and r.json()["error"]["details"]["reason"] == "expired"


async def test_tampered_token(client, city, member):
    head, payload, sig = member.token.split(".")
    bad = f"{head}.{payload}.{'A' if sig[0] != 'A' else 'B'}{sig[1:]}"
    r = await client.get(url(city, "/me"), headers={"Authorization": f"Bearer {bad}"})
    assert r.status_code == 401 and r.json()["error"]["details"]["reason"] == "invalid"


async def test_scheme_is_case_insensitive(client, city, member):
    r = await client.get(url(city, "/me"), headers={"Authorization": f"bearer {member.token}"})
    assert r.status_code == 200


async def test_token_of_a_member_that_does_not_exist(client, rt, city):
    token, _ = issue(rt.settings, member_id=2_000_000_000, city_id=city.id)
    r = await client.get(url(city, "/me"), headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["error"]["details"]["reason"] == "unknown_member"
