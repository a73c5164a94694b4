"""Ending console sessions: log-out, a new password and an administrator's "End sessions" stop
every copy of the cookie issued before, at its next request."""

from __future__ import annotations

from sqlalchemy import select

from guahao.core.models import AuditEntry
from guahao.tenants.context import use_city

from .conftest import PASSWORD, Browser, add_staff, add_vendor


def copy_of(browser: Browser, new_browser) -> Browser:
    """Another client holding a copy of ``browser``'s cookies (a stolen or second-device cookie)."""
    other = new_browser()
    other.client.cookies.update(browser.client.cookies)
    other.csrf = browser.csrf
    return other


async def _audit(rt, city, action: str) -> list[AuditEntry]:
    with use_city(city):
        async with rt.db.transaction() as s:
            return list((await s.scalars(select(AuditEntry).where(AuditEntry.action == action))).all())


def _logged_out(r) -> bool:
    return r.status_code == 303 and "/login" in r.headers["location"]


async def test_a_copied_cookie_stops_working_after_log_out(city, browser, new_browser, admin):
    await browser.login(admin)
    copy = copy_of(browser, new_browser)
    assert (await copy.get(f"/console/c/{city.slug}/staff")).status_code == 200
    assert (await browser.post("/console/logout")).status_code == 303
    assert _logged_out(await copy.get(f"/console/c/{city.slug}/staff"))
    # logging in again gives a working session
    await browser.login(admin)
    assert (await browser.get(f"/console/c/{city.slug}/staff")).status_code == 200


async def test_a_vendor_cookie_copy_stops_working_after_log_out(rt, browser, new_browser):
    vendor = await add_vendor(rt)
    await browser.login(vendor)
    copy = copy_of(browser, new_browser)
    assert (await copy.get("/console/vendor/")).status_code == 200
    await browser.post("/console/logout")
    assert _logged_out(await copy.get("/console/vendor/"))


async def test_changing_ones_password_ends_the_other_sessions_but_not_this_one(city, browser, new_browser, admin):
    await browser.login(admin)
    elsewhere = new_browser()
    await elsewhere.login(admin)
    copy = copy_of(browser, new_browser)
    await browser.get("/console/account/password")
    r = await browser.post("/console/account/password",
                           {"current": PASSWORD, "new": "another-pass-2", "repeat": "another-pass-2"})
    assert r.status_code == 303
    assert (await browser.get(f"/console/c/{city.slug}/staff")).status_code == 200
    assert _logged_out(await elsewhere.get(f"/console/c/{city.slug}/staff"))
    assert _logged_out(await copy.get(f"/console/c/{city.slug}/staff"))


async def test_a_vendor_password_change_ends_the_other_sessions(rt, browser, new_browser):
    vendor = await add_vendor(rt)
    await browser.login(vendor)
    elsewhere = new_browser()
    await elsewhere.login(vendor)
    await browser.get("/console/account/password")
    r = await browser.post("/console/account/password",
                           {"current": PASSWORD, "new": "another-pass-2", "repeat": "another-pass-2"})
    assert r.status_code == 303
    assert (await browser.get("/console/vendor/")).status_code == 200
    assert _logged_out(await elsewhere.get("/console/vendor/"))


async def test_a_password_reset_by_the_administrator_logs_the_person_out(rt, city, browser, new_browser, admin):
    agent = await add_staff(rt, city, "agent")
    await browser.login(agent)
    boss = new_browser()
    await boss.login(admin)
    await boss.get(f"/console/c/{city.slug}/staff/{agent.id}")
    r = await boss.post(f"/console/c/{city.slug}/staff/{agent.id}/password", {"password": "reset-pass-77"})
    assert r.status_code == 303
    assert _logged_out(await browser.get(f"/console/c/{city.slug}/"))
    assert (await browser.login(agent, "reset-pass-77")).status_code == 303


async def test_end_sessions_logs_the_person_out_at_once_and_is_audited(rt, city, browser, new_browser, admin):
    agent = await add_staff(rt, city, "agent")
    await browser.login(agent)
    phone = copy_of(browser, new_browser)
    assert (await browser.get(f"/console/c/{city.slug}/")).status_code == 200
    boss = new_browser()
    await boss.login(admin)
    page = await boss.get(f"/console/c/{city.slug}/staff/{agent.id}")
    assert 'id="end-sessions"' in page.text
    r = await boss.post(f"/console/c/{city.slug}/staff/{agent.id}/end-sessions", {})
    assert r.status_code == 303
    assert "会话已结束" in (await boss.get(r.headers["location"])).text
    assert _logged_out(await browser.get(f"/console/c/{city.slug}/"))
    assert _logged_out(await phone.get(f"/console/c/{city.slug}/"))
    [entry] = await _audit(rt, city, "staff.end_sessions")
    assert entry.target_id == str(agent.id)
    assert entry.actor == f"staff:{admin.id}"
    # the administrator's own session goes on; the person can log in again
    assert (await boss.get(f"/console/c/{city.slug}/staff")).status_code == 200
    assert (await browser.login(agent)).status_code == 303
    assert (await browser.get(f"/console/c/{city.slug}/")).status_code == 200


async def test_end_sessions_needs_the_right_to_manage_staff(rt, city, browser):
    agent = await add_staff(rt, city, "agent")
    other = await add_staff(rt, city, "agent")
    await browser.login(agent)
    await browser.get(f"/console/c/{city.slug}/")
    r = await browser.post(f"/console/c/{city.slug}/staff/{other.id}/end-sessions", {})
    assert r.status_code == 403
    assert await _audit(rt, city, "staff.end_sessions") == []
