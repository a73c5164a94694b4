"""Usage in the console: a city admin sees its own meters month by month, downloads the
ledger rows and checks the chain; the vendor sees every city's month; nobody else's."""

from __future__ import annotations

import io
from datetime import timedelta

from openpyxl import load_workbook

from guahao.licensing.ledger.append import Usage, append
from guahao.plugin_api import city_session, utcnow
from tests.factories import make_city

from .conftest import add_staff, add_vendor


async def _usage(rt, city, n: int, sms: int = 0) -> None:
    now = utcnow() - timedelta(minutes=5)
    items = [Usage("booking.confirmed", 1, f"booking.confirmed:b{i}", now, {"channel": "web"}) for i in range(n)]
    items += [Usage("notification.sent", 2, f"notification.sent:{i}", now, {"channel": "sms"}) for i in range(sms)]
    async with city_session(rt, city) as s:
        await append(s, items)


async def test_a_city_admin_sees_downloads_and_checks_its_usage(rt, city, browser, admin):
    await _usage(rt, city, 3, sms=2)
    other = await make_city(rt, city.slug + "-x")
    await _usage(rt, other, 7)
    await browser.login(admin)
    page = (await browser.get(f"/console/c/{city.slug}/licensing/usage")).text
    row = page.split('id="meter-booking.confirmed"')[1].split("</tr>")[0]
    assert '<td class="num">3</td>' in row and "确认的预约" in row  # this city's 3, not the other's 7
    assert "notification.sent" in page and "· sms" in page
    assert 'data-chart="usage-chart-data"' in page

    month = utcnow().astimezone(city.tz).strftime("%Y-%m")
    r = await browser.get(f"/console/c/{city.slug}/licensing/usage/export?period={month}&format=xlsx")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(r.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("seq", "meter", "quantity", "occurred_at", "source_id")
    assert len(rows) == 1 + 5 and {r[1] for r in rows[1:]} == {"booking.confirmed", "notification.sent"}

    r = await browser.post(f"/console/c/{city.slug}/licensing/usage/verify")
    assert r.status_code == 303
    page = (await browser.get(r.headers["location"])).text
    assert "5" in page.split('id="flash"')[1].split("</p>")[0]

    assert (await browser.get(f"/console/c/{other.slug}/licensing/usage")).status_code == 404


async def test_the_vendor_sees_every_city_and_staff_without_the_right_do_not(rt, city, browser, new_browser):
    await _usage(rt, city, 4)
    vendor = await add_vendor(rt)
    await browser.login(vendor)
    page = (await browser.get("/console/vendor/usage")).text
    row = page.split(f'id="usage-{city.slug}"')[1].split("</tr>")[0]
    assert '<td class="num">4</td>' in row
    assert (await browser.get("/console/vendor/usage?period=2026-13")).status_code == 422

    agent = await add_staff(rt, city, "agent")
    other = new_browser()
    await other.login(agent)
    assert (await other.get(f"/console/c/{city.slug}/licensing/usage")).status_code == 403


async def test_licensing_is_always_on_and_cannot_be_turned_off(rt, city, browser, admin):
    await browser.login(admin)
    page = (await browser.get(f"/console/c/{city.slug}/settings/plugins")).text
    assert "始终启用" in page.split('id="plugin-licensing"')[1].split("</tr>")[0]
    page = (await browser.get(f"/console/c/{city.slug}/settings/plugins/licensing")).text
    assert 'id="plugin-always"' in page and 'id="plugin-enabled"' not in page
    await browser.post(f"/console/c/{city.slug}/settings/plugins/licensing", {})  # no "enabled" box posted
    plugins = await rt.plugins.for_city(await _fresh(rt, city))
    assert "licensing" in plugins.names


async def _fresh(rt, city):
    from guahao.tenants.service import get_city

    return await get_city(rt.db, city.slug)
