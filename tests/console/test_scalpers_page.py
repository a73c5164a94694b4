"""The suspected-scalpers page (R4.4): accounts registered together from one address, and
members who book and soon cancel, masked, for city administrators of that city only."""

from __future__ import annotations

import dataclasses

from guahao.core import ratelimit
from guahao.core.members.tokens import issue
from guahao.core.ratelimit import RateLimiter
from tests.api.conftest import identity, url
from tests.console.conftest import add_staff, add_vendor
from tests.factories import make_catalogue, make_city

SCALPER_IP = "203.0.113.30"


async def _register_many(client, city, n: int, ip: str) -> list[dict]:
    people = []
    for _ in range(n):
        ident = identity()
        r = await client.post(url(city, "/members"), json=ident, headers={"X-Forwarded-For": ip})
        assert r.status_code == 201, r.text
        people.append({**ident, "id": r.json()["id"]})
    return people


async def test_forty_accounts_from_one_address_are_listed_masked(client, rt, city, browser, admin, monkeypatch):
    # The deployment's limit was raised (or the accounts came over days): all forty got in.
    monkeypatch.setitem(ratelimit._limiters, rt,
                        RateLimiter(dataclasses.replace(rt.settings, rate_limits={"register_ip": "100/hour"})))
    people = await _register_many(client, city, 40, SCALPER_IP)
    await _register_many(client, city, 2, "198.51.100.99")  # a family: two accounts, no cluster

    await browser.login(admin)
    page = await browser.get(f"/console/c/{city.slug}/scalpers")
    assert page.status_code == 200 and 'id="nav-scalpers"' in page.text and "疑似号贩子" in page.text
    assert page.text.count('class="cluster"') == 1
    assert 'data-kind="ip" data-size="40"' in page.text and "203.0.113.x" in page.text
    assert SCALPER_IP not in page.text and "198.51.100" not in page.text
    first = people[0]
    assert f"{first['phone'][:3]}****{first['phone'][-4:]}" in page.text
    assert not any(p["phone"] in page.text or p["id_number"] in page.text for p in people)


async def test_a_member_who_books_and_soon_cancels_is_listed(client, rt, city, browser, admin):
    cat = await make_catalogue(rt, city)
    [person] = await _register_many(client, city, 1, "192.0.2.40")
    token, _ = issue(rt.settings, member_id=person["id"], city_id=city.id)
    auth = {"Authorization": f"Bearer {token}", "X-Forwarded-For": "192.0.2.40"}
    periods = [p.id for s in cat.sessions for p in cat.periods[s.id]]
    for pid in periods[:3]:
        r = await client.post(url(city, "/bookings"), json={"period_id": pid, "channel": "app"}, headers=auth)
        assert r.status_code == 201, r.text
        assert (await client.post(url(city, f"/bookings/{r.json()['id']}/cancel"), headers=auth)).status_code == 200

    await browser.login(admin)
    page = await browser.get(f"/console/c/{city.slug}/scalpers")
    table = page.text[page.text.index('id="book-then-cancel"'):]
    assert f"{person['phone'][:3]}****{person['phone'][-4:]}" in table and person["phone"] not in page.text


async def test_another_citys_admin_never_sees_the_cluster(client, rt, city, new_browser, monkeypatch):
    monkeypatch.setitem(ratelimit._limiters, rt,
                        RateLimiter(dataclasses.replace(rt.settings, rate_limits={"register_ip": "100/hour"})))
    await _register_many(client, city, 5, SCALPER_IP)
    other = await make_city(rt, f"{city.slug}-o")
    other_admin = await add_staff(rt, other, "city_admin")
    b = new_browser()
    await b.login(other_admin)
    own = await b.get(f"/console/c/{other.slug}/scalpers")
    assert own.status_code == 200 and 'id="no-clusters"' in own.text
    theirs = await b.get(f"/console/c/{city.slug}/scalpers")
    assert theirs.status_code in (403, 404) and "203.0.113.x" not in theirs.text


async def test_hospital_staff_cannot_open_the_page_and_the_vendor_can(client, rt, city, new_browser):
    cat = await make_catalogue(rt, city)
    hospital_admin = await add_staff(rt, city, "hospital_admin", hospital_id=cat.hospital.id)
    b = new_browser()
    await b.login(hospital_admin)
    page = await b.get(f"/console/c/{city.slug}/scalpers")
    assert page.status_code == 403
    vendor = new_browser()
    await vendor.login(await add_vendor(rt))
    assert (await vendor.get(f"/console/c/{city.slug}/scalpers")).status_code == 200
