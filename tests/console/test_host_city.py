"""Console pages without a city in the path (``/console/account/…``) work in the signed-in staff
member's own city, never the one the Host header names: another city's host name is a 404, not
a 500 and not that city's data; the vendor's pages run in no city whatever the host."""

from __future__ import annotations

import uuid

from guahao.core.models.staff import StaffAccount
from guahao.tenants.context import use_city
from guahao.tenants.models import CityHost
from tests.factories import make_city

from .conftest import add_staff, add_vendor


async def _host(rt, city) -> str:
    host = f"{city.slug}.guahao.test"
    async with rt.db.transaction() as s:
        s.add(CityHost(host=host, city_id=city.id))
    return host


async def test_another_citys_host_is_a_404_on_pages_without_a_city(rt, city, browser):
    other = await make_city(rt, f"host-{uuid.uuid4().hex[:6]}")
    elsewhere, own = await _host(rt, other), await _host(rt, city)
    admin = await add_staff(rt, city, "city_admin")
    await browser.login(admin)
    for path in ("/console/account/totp", "/console/account/password"):
        r = await browser.client.get(path, headers={"host": elsewhere})
        assert r.status_code == 404 and 'data-code="city_not_found"' in r.text, path
        assert other.name not in r.text
    changed = await browser.client.post("/console/account/password", headers={"host": elsewhere},
                                        data={"csrf": browser.csrf, "current": "x", "new": "y", "repeat": "y"})
    assert changed.status_code == 404

    # The account's own city, named by the host or by nothing, is the page's city.
    for headers in ({"host": own}, {}):
        page = await browser.client.get("/console/account/totp", headers=headers)
        assert page.status_code == 200 and 'id="error-message"' not in page.text
    with use_city(city):
        async with rt.db.transaction() as s:
            account = await s.get(StaffAccount, admin.id)
    assert account.totp_secret  # the enrolment was written to the staff member's own row


async def test_the_vendors_pages_ignore_a_city_host(rt, city, browser):
    elsewhere = await _host(rt, city)
    await browser.login(await add_vendor(rt))
    for path in ("/console/vendor/", "/console/account/totp"):
        r = await browser.client.get(path, headers={"host": elsewhere})
        assert r.status_code == 200, path
    cities = await browser.client.get("/console/vendor/", headers={"host": elsewhere})
    assert city.slug in cities.text
