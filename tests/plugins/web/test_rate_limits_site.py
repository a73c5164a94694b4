"""Anti-scalper limits on the patient site and the kiosk (R4.4): scripts are stopped with a 429
page saying how long to wait; a member's normal visit never meets a limit."""

from __future__ import annotations

import dataclasses
import itertools

from guahao.core import ratelimit
from guahao.core.members.ids import check_digit
from guahao.core.ratelimit import RateLimiter

from .conftest import KEY, Visitor, bound_kiosk, csrf_of

_n = itertools.count(1)
LIMITED = "操作过于频繁，请"


def fresh_identity() -> tuple[str, str]:
    n = next(_n)
    first17 = f"110105{1970 + n % 30}0{1 + n % 9}1{n % 10}{n % 1000:03d}"
    return first17 + check_digit(first17), f"137{n:08d}"


async def register_from(client, slug: str, ip: str, *, keep_cookies: bool = False):
    """One registration as a script does it: the form, then the post (no cookies kept over)."""
    if not keep_cookies:
        client.cookies.clear()
    root = f"/c/{slug}/"
    page = await client.get(root + "register", headers={"X-Forwarded-For": ip})
    number, phone = fresh_identity()
    return await client.post(root + "register", headers={"X-Forwarded-For": ip}, data={
        "csrf": csrf_of(page.text), "name": "王五", "id_number": number, "phone": phone, "password": "secret123"})


async def test_forty_registrations_from_one_address_are_stopped(client, site_city):
    slug = site_city.city.slug
    answers = [await register_from(client, slug, "203.0.113.20") for _ in range(40)]
    assert [r.status_code for r in answers[:5]] == [303] * 5
    refused = answers[5:]
    assert {r.status_code for r in refused} == {429}
    wait = int(refused[0].headers["Retry-After"])
    assert 0 < wait <= 3600  # a sliding window frees a place before the hour is over
    assert f"{LIMITED} {wait} 秒后再试。" in refused[0].text


async def test_the_same_number_from_different_addresses_pass(client, site_city):
    slug = site_city.city.slug
    answers = [await register_from(client, slug, f"198.51.100.{i}") for i in range(1, 41)]
    assert {r.status_code for r in answers} == {303}


async def test_one_browser_registering_from_many_addresses_is_stopped_per_device(client, site_city):
    slug = site_city.city.slug
    await client.get(f"/c/{slug}/")  # the site gives the browser its device cookie
    assert client.cookies.get("guahao_device")
    codes = []
    for i in range(5):
        r = await register_from(client, slug, f"192.0.2.{i + 1}", keep_cookies=True)
        codes.append(r.status_code)
        await client.post(f"/c/{slug}/logout", data={"csrf": csrf_of((await client.get(f"/c/{slug}/")).text)})
    assert codes == [303, 303, 303, 429, 429]


async def test_codes_to_twenty_phones_from_one_address_are_stopped(client, site_city):
    root = f"/c/{site_city.city.slug}/"
    answers = []
    for i in range(20):
        client.cookies.clear()
        page = await client.get(root + "login/code", headers={"X-Forwarded-For": "203.0.113.21"})
        answers.append(await client.post(root + "login/code", headers={"X-Forwarded-For": "203.0.113.21"}, data={
            "csrf": csrf_of(page.text), "phone": f"1360000{i:04d}", "action": "send"}))
    assert [r.status_code for r in answers[:10]] == [200] * 10
    assert {r.status_code for r in answers[10:]} == {429}
    assert LIMITED in answers[10].text and answers[10].headers["Retry-After"]


async def test_a_members_normal_visit_never_meets_a_limit(client, site_city, visitor):
    cat = site_city
    assert (await visitor.register()).status_code == 303
    await visitor.post("logout", {}, form_page="")
    assert (await visitor.login()).status_code == 303
    for _ in range(10):
        assert (await visitor.get(f"?q={cat.doctor.name}")).status_code == 200
        assert (await visitor.get(f"doctors/{cat.doctor.id}")).status_code == 200
    periods = [p.id for s in cat.sessions for p in cat.periods[s.id]]
    booked = await visitor.book(periods[0])
    assert booked.status_code == 303, booked.text
    ref = booked.headers["location"].split("bookings/")[1].split("?")[0]
    cancelled = await visitor.post(f"bookings/{ref}/cancel", {})
    assert cancelled.status_code in (200, 303), cancelled.text
    again = await visitor.book(periods[1])
    assert again.status_code == 303, again.text


async def test_searches_are_limited_per_address(client, site_city, rt, monkeypatch):
    monkeypatch.setitem(ratelimit._limiters, rt,
                        RateLimiter(dataclasses.replace(rt.settings, rate_limits={"search_ip": "2/minute"})))
    visitor = Visitor(client, site_city.city.slug)
    answers = [await visitor.get(f"doctors/{site_city.doctor.id}") for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 429]
    assert LIMITED in answers[2].text and int(answers[2].headers["Retry-After"]) > 0


async def test_bookings_at_one_kiosk_terminal_are_limited(client, rt, site_city, monkeypatch):
    monkeypatch.setitem(ratelimit._limiters, rt,
                        RateLimiter(dataclasses.replace(rt.settings, rate_limits={"sms_device": "2/hour"})))
    kiosk = await bound_kiosk(client, rt, site_city)
    codes = []
    for _ in range(3):
        number, _phone = fresh_identity()
        assert (await kiosk.card(number)).status_code == 303
        codes.append((await kiosk.post("verify", {"action": "send"}, form_page="")).status_code)
    assert codes == [200, 200, 429]


async def test_booking_too_often_shows_the_sentence(client, site_city, visitor, rt, monkeypatch):
    monkeypatch.setitem(ratelimit._limiters, rt,
                        RateLimiter(dataclasses.replace(rt.settings, rate_limits={"book_member": "1/minute"})))
    await visitor.register()
    periods = [p.id for s in site_city.sessions for p in site_city.periods[s.id]]
    assert (await visitor.book(periods[0])).status_code == 303
    page = await visitor.get(f"book/{periods[1]}")
    refused = await client.post(visitor.root + f"book/{periods[1]}",
                                data={"csrf": csrf_of(page.text), "key": KEY.search(page.text).group(1)})
    assert refused.status_code == 429 and LIMITED in refused.text and refused.headers["Retry-After"]


async def test_log_in_attempts_from_one_address_are_limited(client, site_city, visitor, rt, monkeypatch):
    monkeypatch.setitem(ratelimit._limiters, rt,
                        RateLimiter(dataclasses.replace(rt.settings, rate_limits={"login_ip": "2/minute"})))
    codes = [(await visitor.login(password="wrong-password1")).status_code for _ in range(3)]
    assert codes == [401, 401, 429]
