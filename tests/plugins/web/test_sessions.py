"""Ending site sessions: log-out and a new password stop every copy of the member's cookie."""

from __future__ import annotations

import httpx

from guahao.core.members import sessions
from guahao.core.models import Member
from guahao.tenants.context import use_city

from .conftest import Visitor


def copy_of(client: httpx.AsyncClient, app, slug: str, kiosk: bool = False) -> Visitor:
    """Another browser holding a copy of ``client``'s cookies (a stolen or second-device cookie)."""
    other = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    other.cookies.update(client.cookies)
    copy = Visitor(other, slug)
    if kiosk:
        copy.root = f"/c/{slug}/kiosk/"
    return copy


def _logged_out(r) -> bool:
    return r.status_code == 303 and "login" in r.headers["location"]


async def _member_id(rt, city, phone: str = "13800138000") -> int:
    from sqlalchemy import select

    with use_city(city):
        async with rt.db.transaction() as s:
            return await s.scalar(select(Member.id).where(Member.phone == phone))


async def test_a_copied_cookie_stops_working_after_log_out(app, visitor, site_city):
    assert (await visitor.register()).status_code == 303
    copy = copy_of(visitor.client, app, site_city.city.slug)
    assert (await copy.get("bookings")).status_code == 200
    assert (await visitor.post("logout", {}, form_page="")).status_code == 303
    assert _logged_out(await copy.get("bookings"))
    assert _logged_out(await visitor.get("bookings"))
    # logging in again works, and so does the new cookie
    assert (await visitor.login()).status_code == 303
    assert (await visitor.get("bookings")).status_code == 200


async def test_log_out_ends_the_members_other_devices_too(app, client, visitor, site_city):
    await visitor.register()
    phone = Visitor(httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver"),
                    site_city.city.slug)
    assert (await phone.login()).status_code == 303
    await visitor.post("logout", {}, form_page="")
    assert _logged_out(await phone.get("bookings"))


async def test_a_new_password_ends_the_cookies_issued_before(rt, app, visitor, site_city):
    await visitor.register()
    copy = copy_of(visitor.client, app, site_city.city.slug)
    assert (await copy.get("bookings")).status_code == 200
    with use_city(site_city.city):
        async with rt.db.transaction() as s:
            await sessions.change_password(s, await _member_id(rt, site_city.city), current="secret123",
                                           new="another456")
    assert _logged_out(await copy.get("bookings"))
    assert (await visitor.login(password="another456")).status_code == 303
    assert (await visitor.get("bookings")).status_code == 200


async def test_a_copied_kiosk_cookie_stops_working_after_the_kiosk_log_out(app, kiosk, site_city):
    assert (await kiosk.log_in()).status_code == 303
    assert (await kiosk.get("bookings")).status_code == 200
    copy = copy_of(kiosk.client, app, site_city.city.slug, kiosk=True)
    assert (await copy.get("bookings")).status_code == 200
    assert (await kiosk.post("logout", {}, form_page="")).status_code == 303
    r = await copy.get("bookings")
    assert r.status_code == 303 and r.headers["location"].rstrip("/").endswith("/kiosk")
