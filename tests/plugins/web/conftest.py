"""Fixtures for the patient site: a city with the ``web`` plugin on, and form helpers."""

from __future__ import annotations

import re

import pytest

from guahao.core.members.ids import check_digit
from guahao.core.plugins.manager import configure

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
KEY = re.compile(r'name="key" value="([^"]+)"')


def id_number(first17: str = "11010519900307003") -> str:
    return first17 + check_digit(first17)


PHONE = "13800138000"
TERMINAL = "T-1"  # the kiosk fixture's terminal, registered for the catalogue's hospital
OTHER_ID = "11010519851111002" + check_digit("11010519851111002")


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


@pytest.fixture
async def site_city(rt, city, catalogue):
    """The test city with its catalogue, the ``web`` plugin enabled."""
    await configure(rt, city, "web")
    return catalogue


class Visitor:
    """A browser: follows the site through its forms, keeping cookies."""

    def __init__(self, client, slug: str):
        self.client = client
        self.root = f"/c/{slug}/"

    async def get(self, path: str = "", **kw):
        return await self.client.get(self.root + path, **kw)

    async def post(self, path: str, data: dict, *, form_page: str | None = None):
        page = await self.get(form_page if form_page is not None else path)
        return await self.client.post(self.root + path, data={"csrf": csrf_of(page.text), **data})

    async def register(self, name="张三", number=None, phone="13800138000", password="secret123"):
        return await self.post("register", {"name": name, "id_number": number or id_number(), "phone": phone,
                                            "password": password})

    async def login(self, login="13800138000", password="secret123"):
        return await self.post("login", {"login": login, "password": password})

    async def book(self, period_id: int):
        page = await self.get(f"book/{period_id}")
        key = KEY.search(page.text).group(1)
        return await self.client.post(self.root + f"book/{period_id}", data={"csrf": csrf_of(page.text), "key": key})

    async def set_language(self, lang: str):
        return await self.post("preferences", {"lang": lang, "next": self.root}, form_page="")


@pytest.fixture
def visitor(client, site_city):
    return Visitor(client, site_city.city.slug)


class Kiosk(Visitor):
    """A person at the terminal: the kiosk's pages, its own cookie."""

    def __init__(self, client, slug: str):
        super().__init__(client, slug)
        self.root = f"/c/{slug}/kiosk/"

    async def card(self, number: str):
        return await self.post("card", {"id_number": number}, form_page="")

    async def digits(self, digits: str):
        return await self.post("verify", {"action": "digits", "digits": digits}, form_page="")

    async def log_in(self, number: str | None = None, digits: str = PHONE[-4:]):
        assert (await self.card(number or id_number())).status_code == 303
        return await self.digits(digits)

    async def bind(self, terminal_id: str = TERMINAL):
        """Open the kiosk with ``?terminal=`` once, as the hospital's IT staff do on the machine."""
        bound = await self.get(f"?terminal={terminal_id}")
        assert bound.status_code == 303, bound.text
        return bound


async def register_terminal(rt, catalogue, terminal_id: str = TERMINAL) -> None:
    """List one kiosk terminal of the catalogue's hospital in the city's ``web`` settings."""
    await configure(rt, catalogue.city, "web", settings={"kiosk_terminals": {
        terminal_id: {"hospital_id": catalogue.hospital.id, "name": "门诊大厅1号机"}}})


async def bound_kiosk(client, rt, catalogue) -> Kiosk:
    """A kiosk on a registered terminal of the catalogue's hospital (identification needs one)."""
    await register_terminal(rt, catalogue)
    kiosk = Kiosk(client, catalogue.city.slug)
    await kiosk.bind()
    return kiosk


@pytest.fixture
async def kiosk(client, visitor, rt, site_city):
    """Two registered members and a visitor at the city's kiosk, on a registered terminal."""
    await visitor.register()
    await visitor.register(name="李四", number=OTHER_ID, phone="13900139000")
    return await bound_kiosk(client, rt, site_city)
