"""Refusals as sentences, CSRF, other members' bookings, cookies, display preferences."""

from __future__ import annotations

import re

from .conftest import Visitor, id_number


async def test_too_many_active_is_a_sentence(visitor, site_city):
    await visitor.register()
    s = site_city.sessions
    for session in (s[2], s[4]):
        assert (await visitor.book(site_city.periods[session.id][0].id)).status_code == 303
    refused = await visitor.book(site_city.periods[s[5].id][0].id)
    assert refused.status_code == 409
    assert 'data-code="too_many_active"' in refused.text and "最多可同时持有 2 个" in refused.text
    await visitor.set_language("en")
    refused = await visitor.book(site_city.periods[s[5].id][0].id)
    assert "the most allowed is 2" in refused.text


async def test_slot_full_is_a_sentence(client, visitor, site_city):
    period = site_city.periods[site_city.sessions[2].id][0]
    for i, phone in enumerate(("13900000001", "13900000002")):
        other = Visitor(client.__class__(transport=client._transport, base_url="http://testserver"), site_city.city.slug)
        async with other.client:
            await other.register(name="李四", number=id_number(f"1101051990030700{4 + i}"), phone=phone)
            assert (await other.book(period.id)).status_code == 303
    await visitor.register()
    refused = await visitor.book(period.id)
    assert refused.status_code == 409 and "该时段号源已约满" in refused.text


async def test_csrf_missing_or_wrong_is_403(visitor):
    r = await visitor.client.post(visitor.root + "register", data={"name": "张三"})
    assert r.status_code == 403 and "表单已过期" in r.text
    await visitor.get()
    r = await visitor.client.post(visitor.root + "logout", data={"csrf": "forged"})
    assert r.status_code == 403


async def test_another_members_booking_is_not_found(client, visitor, site_city):
    await visitor.register()
    r = await visitor.book(site_city.periods[site_city.sessions[2].id][0].id)
    ref = re.search(r"bookings/([^?]+)", r.headers["location"]).group(1)
    other = Visitor(client.__class__(transport=client._transport, base_url="http://testserver"), site_city.city.slug)
    async with other.client:
        await other.register(name="李四", number=id_number("11010519900307004"), phone="13900000001")
        assert (await other.get(f"bookings/{ref}")).status_code == 404
        assert (await other.get(f"bookings/{ref}/cancel")).status_code == 404
        page = await other.get(f"bookings/{ref}")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        assert (await other.client.post(other.root + f"bookings/{ref}/cancel", data={"csrf": token})).status_code == 404
    assert "已预约" in (await visitor.get(f"bookings/{ref}")).text


async def test_session_cookie_flags(visitor, site_city):
    r = await visitor.get()
    cookie = r.headers["set-cookie"]
    assert "guahao_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie and f"Path=/c/{site_city.city.slug}/" in cookie
    visitor.client.cookies.clear()
    behind_tls = await visitor.client.get(visitor.root, headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in behind_tls.headers["set-cookie"]


async def test_tampered_cookie_is_a_new_session(visitor):
    await visitor.register()
    value = visitor.client.cookies.get("guahao_session")
    visitor.client.cookies.clear()
    visitor.client.cookies.set("guahao_session", value[:-2] + "xx")
    assert 'id="nav-login"' in (await visitor.get()).text


async def test_display_toggles_and_language(visitor):
    page = await visitor.get()
    assert '<html lang="zh-CN" class="">' in page.text and "选择医院" in page.text
    await visitor.post("preferences", {"toggle": "large", "next": visitor.root}, form_page="")
    await visitor.post("preferences", {"toggle": "contrast", "next": visitor.root}, form_page="")
    page = await visitor.get()
    assert 'class="text-large contrast-high"' in page.text
    await visitor.post("preferences", {"toggle": "large", "next": "https://evil.example/"}, form_page="")
    page = await visitor.get()
    assert 'class=" contrast-high"' in page.text
    r = await visitor.set_language("en")
    assert r.headers["location"] == visitor.root
    page = await visitor.get()
    assert '<html lang="en"' in page.text and "Choose a hospital" in page.text


async def test_city_without_the_site_keeps_the_platform_page(client, city):
    r = await client.get(f"/c/{city.slug}/")
    assert r.status_code == 200 and "guahao_session" not in r.headers.get("set-cookie", "")
    assert (await client.get(f"/c/{city.slug}/login")).status_code == 404
