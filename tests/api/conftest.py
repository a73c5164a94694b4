"""Helpers for API tests: real-name identities, members with tokens, URL building."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from argon2 import PasswordHasher

from guahao.core.api.schemas import INT32_MAX
from guahao.core.members import passwords
from guahao.core.members.ids import check_digit
from guahao.core.members.tokens import issue

_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def cheap_password_hashing():
    """Argon2id with minimal cost: the same code path, milliseconds instead of ~0.1 s a hash."""
    previous = passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    passwords.use_hasher(previous)


def id_number(n: int, *, region: str = "110105", male: bool = True) -> str:
    """A valid ID number, different for every ``n`` below 7.5 million."""
    born = date(1960, 1, 1) + timedelta(days=n % 15000)
    seq = (n // 15000) % 500 * 2 + (1 if male else 0)
    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    return first17 + check_digit(first17)


def identity(**overrides) -> dict:
    n = next(_seq)
    out = {
        "name": "张伟",
        "id_number": id_number(n),
        "phone": f"139{n:08d}",
        "password": "secret123",
    }
    out.update(overrides)
    return out


@dataclass
class ApiMember:
    id: int
    token: str
    identity: dict

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}


def url(city, path: str) -> str:
    return f"/api/v1/{city.slug}{path}"


async def signup(client, rt, city, **overrides) -> ApiMember:
    """Register through the API; the token is issued directly (login has tests of its own)."""
    ident = identity(**overrides)
    r = await client.post(url(city, "/members"), json=ident)
    assert r.status_code == 201, r.text
    member_id = r.json()["id"]
    token, _ = issue(rt.settings, member_id=member_id, city_id=city.id)
    return ApiMember(member_id, token, ident)


@pytest.fixture
async def member(client, rt, city) -> ApiMember:
    return await signup(client, rt, city)


@pytest.fixture(scope="module")
async def shared_city(rt):
    """One city for a module of tests that only read or are refused (cheaper than one per test)."""
    from tests.factories import make_city

    return await make_city(rt, f"shared-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def token_headers(rt, shared_city) -> dict:
    """A valid token of ``shared_city`` for a member id that has no row: enough to pass the auth
    step, which comes before body validation."""
    token, _ = issue(rt.settings, member_id=INT32_MAX, city_id=shared_city.id)
    return {"Authorization": f"Bearer {token}"}
