"""Console tests: staff accounts in a fresh city, a logged-in client per person, form helpers.

Everything goes through real HTTP on the ASGI app (httpx), cookies and CSRF tokens included.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import httpx
import pytest
from argon2 import PasswordHasher

from guahao.core.audit import SYSTEM
from guahao.core.members import passwords
from guahao.core.models import Hospital
from guahao.core.staff.accounts import create_staff
from guahao.core.staff.vendor import create_vendor
from guahao.tenants.context import use_city

PASSWORD = "console-pass-1"
_seq = itertools.count(1)
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(autouse=True)
def cheap_password_hashing():
    """Argon2id with minimal cost: the same code path, milliseconds per hash."""
    previous = passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    passwords.use_hasher(previous)


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


@dataclass
class Staff:
    id: int
    username: str
    role: str
    city_slug: str | None


async def add_staff(rt, city, role: str, *, hospital_id: int | None = None, password: str = PASSWORD, **extra) -> Staff:
    username = f"{role.replace('_', '')}{next(_seq)}"
    with use_city(city):
        async with rt.db.transaction() as s:
            a = await create_staff(s, SYSTEM, username=username, display_name=f"{role} {username}", role=role,
                                   password=password, hospital_id=hospital_id, **extra)
    return Staff(a.id, username, role, city.slug)


async def add_vendor(rt) -> Staff:
    username = f"vendor{next(_seq)}x"
    a = await create_vendor(rt.db, username=username, password=PASSWORD, display_name="Vendor Admin")
    return Staff(a.id, username, "vendor_admin", None)


async def add_hospital(rt, city, code: str, kind: str = "general") -> Hospital:
    with use_city(city):
        async with rt.db.transaction() as s:
            h = Hospital(code=code, name=f"医院 {code}", short_name=code, kind=kind)
            s.add(h)
    return h


class Browser:
    """An httpx client that keeps cookies and posts forms with the page's CSRF token."""

    def __init__(self, client: httpx.AsyncClient):
        self.client = client
        self.csrf = ""

    async def get(self, url: str, **kw) -> httpx.Response:
        r = await self.client.get(url, **kw)
        m = CSRF_RE.search(r.text)
        if m:
            self.csrf = m.group(1)
        return r

    async def post(self, url: str, data: dict | list | None = None, *, csrf: str | None = None) -> httpx.Response:
        if not self.csrf:
            await self.get("/console/login")
        items = list(data.items()) if isinstance(data, dict) else list(data or [])
        items.append(("csrf", self.csrf if csrf is None else csrf))
        r = await self.client.post(url, data=_form(items))
        m = CSRF_RE.search(r.text)
        if m:
            self.csrf = m.group(1)
        return r

    async def login(self, who: Staff, password: str = PASSWORD) -> httpx.Response:
        url = f"/console/c/{who.city_slug}/login" if who.city_slug else "/console/login"
        await self.get(url)
        r = await self.post(url, {"username": who.username, "password": password})
        if r.status_code == 303:  # a fresh CSRF token comes with the session: read it from the next page
            await self.get(r.headers["location"])
        return r


def _form(items: list[tuple[str, str]]) -> dict:
    out: dict = {}
    for k, v in items:
        if k in out:
            out[k] = out[k] if isinstance(out[k], list) else [out[k]]
            out[k].append(v)
        else:
            out[k] = v
    return out


@pytest.fixture
async def browser(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield Browser(c)


@pytest.fixture
def new_browser(app):
    """Factory for more browsers (several people at once)."""
    clients = []

    def make() -> Browser:
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        clients.append(c)
        return Browser(c)

    yield make
    # closed by garbage collection of the transport; nothing is held open


@pytest.fixture
async def admin(rt, city) -> Staff:
    return await add_staff(rt, city, "city_admin")


@pytest.fixture(scope="session")
def oidc():
    """The fake OpenID Connect provider, served on a free port for the session."""
    from tests.fakes.live import LiveServer
    from tests.fakes.oidc import FakeOidcProvider

    fake = FakeOidcProvider()
    with LiveServer(fake.app) as server:
        fake.url = server.url
        yield fake
