"""Log-in, lock-out, the TOTP second step (lock-out and replay), CSRF, session expiry and cookie flags."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import httpx
import pyotp
import pytest
from sqlalchemy import select

from guahao.core.errors import DomainError
from guahao.core.models import AuditEntry
from guahao.core.models.staff import StaffAccount, VendorAccount
from guahao.core.staff.auth import ACCOUNT_LOCK_AFTER, AccountLocked, second_factor
from guahao.tenants.clock import frozen, utcnow
from guahao.tenants.context import use_city
from guahao.tenants.crypto import cipher

from .conftest import PASSWORD, Browser, add_staff, add_vendor


async def _audit(rt, city, action: str) -> list[AuditEntry]:
    with use_city(city):
        async with rt.db.transaction() as s:
            return list((await s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))).all())


async def test_login_success_and_failure(rt, city, browser, admin):
    r = await browser.login(admin, password="wrong-password-1")
    assert r.status_code == 401
    assert 'id="login-error"' in r.text and "用户名或密码不正确" in r.text
    r = await browser.login(admin)
    assert r.status_code == 303 and r.headers["location"] == f"/console/c/{city.slug}/"
    home = await browser.get(f"/console/c/{city.slug}/")
    assert home.status_code == 200 and admin.username in home.text
    assert [e.summary for e in await _audit(rt, city, "staff.login")] == [f"{admin.username} (password)"]


async def test_unknown_user_gets_the_same_answer(city, browser):
    await browser.get(f"/console/c/{city.slug}/login")
    r = await browser.post(f"/console/c/{city.slug}/login", {"username": "nobody-here", "password": "whatever-1"})
    assert r.status_code == 401 and "用户名或密码不正确" in r.text


async def test_staff_log_in_from_the_general_page_naming_the_city(city, browser, new_browser, admin):
    await browser.get("/console/login")
    r = await browser.post("/console/login", {"city": city.slug, "username": admin.username, "password": PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == f"/console/c/{city.slug}/"
    other = new_browser()
    await other.get("/console/login")
    r = await other.post("/console/login", {"city": "no-such-city", "username": admin.username, "password": PASSWORD})
    assert r.status_code == 404


async def test_vendor_logs_in_without_a_city(rt, browser):
    vendor = await add_vendor(rt)
    r = await browser.login(vendor)
    assert r.status_code == 303 and r.headers["location"] == "/console/vendor/"
    page = await browser.get("/console/vendor/")
    assert page.status_code == 200 and 'id="nav-cities"' in page.text


WRONG = "wrong-password-1"


def _from(app, address: str) -> Browser:
    """A browser on another machine: its requests come from ``address``."""
    return Browser(httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 52000)),
                                     base_url="http://testserver"))


async def _fail_until_locked(browser, who, start) -> list[int]:
    """Wrong passwords from one address, each once the address may try again (0, 0, 2, 4 s)."""
    statuses, at = [], start
    for wait in (0, 0, 2, 4, 8):
        at += timedelta(seconds=wait)
        with frozen(at):
            statuses.append((await browser.login(who, password=WRONG)).status_code)
    return statuses


async def test_wrong_passwords_from_one_address_lock_that_address_only(rt, city, app, new_browser, admin):
    clerk = await add_staff(rt, city, "agent")
    guesser, colleague = _from(app, "203.0.113.66"), _from(app, "198.51.100.7")
    start = utcnow()
    assert await _fail_until_locked(guesser, clerk, start) == [401, 401, 401, 401, 403]
    with frozen(start + timedelta(seconds=20)):
        r = await guesser.login(clerk)  # the right password no longer helps from there
        assert r.status_code == 403 and "此地址" in r.text and 'id="login-error"' in r.text
        assert (await colleague.login(clerk)).status_code == 303  # the account works from everywhere else
    with use_city(city):
        async with rt.db.transaction() as s:
            row = await s.get(StaffAccount, clerk.id)
    assert row.locked_until is None
    [locked] = await _audit(rt, city, "staff.locked")
    assert locked.summary == f"{clerk.username}: log-in from one address paused for 15 minutes after 5 wrong passwords"
    assert locked.ip == "203.0.113.66"

    # A city administrator sees the paused address and lifts it (audited).
    boss = new_browser()
    await boss.login(admin)
    page = await boss.get(f"/console/c/{city.slug}/staff/{clerk.id}")
    assert 'id="unlock"' in page.text and 'id="locked-addresses"' in page.text
    r = await boss.post(f"/console/c/{city.slug}/staff/{clerk.id}/unlock")
    assert r.status_code == 303
    [entry] = await _audit(rt, city, "staff.unlock")
    assert entry.actor == f"staff:{admin.id}" and entry.before["locked_addresses"] == 1
    assert entry.after["locked_addresses"] == 0
    with frozen(start + timedelta(seconds=30)):
        assert (await guesser.login(clerk)).status_code == 303


async def test_the_delay_grows_with_each_wrong_password_and_the_lock_runs_out(rt, city, app):
    clerk = await add_staff(rt, city, "agent")
    guesser = _from(app, "203.0.113.67")
    start = utcnow()
    with frozen(start):
        for _ in range(3):
            assert (await guesser.login(clerk, password=WRONG)).status_code == 401
        too_soon = await guesser.login(clerk)  # within 2 s of the third: not even the right password is tried
        assert too_soon.status_code == 429 and "秒后再试" in too_soon.text
    with frozen(start + timedelta(seconds=2)):
        assert (await guesser.login(clerk, password=WRONG)).status_code == 401
    with frozen(start + timedelta(seconds=5)):
        assert (await guesser.login(clerk, password=WRONG)).status_code == 429  # now 4 s
    with frozen(start + timedelta(seconds=6)):
        assert (await guesser.login(clerk, password=WRONG)).status_code == 403  # the fifth: 15 minutes
    with frozen(start + timedelta(minutes=16)):  # the lock runs out by itself
        assert (await guesser.login(clerk, password=WRONG)).status_code == 403  # the sixth: 30 minutes
    with frozen(start + timedelta(minutes=40)):
        assert (await guesser.login(clerk)).status_code == 403
    with frozen(start + timedelta(minutes=47)):
        assert (await guesser.login(clerk)).status_code == 303  # a success forgets the address's count
        await guesser.post("/console/logout")
        assert (await guesser.login(clerk, password=WRONG)).status_code == 401


async def test_wrong_passwords_from_many_addresses_lock_the_account(rt, city, app):
    clerk = await add_staff(rt, city, "agent")
    start = utcnow()
    for n in range(ACCOUNT_LOCK_AFTER // 5):
        assert await _fail_until_locked(_from(app, f"203.0.113.{n + 1}"), clerk, start) == [401, 401, 401, 401, 403]
    with frozen(start + timedelta(minutes=1)):
        r = await _from(app, "198.51.100.8").login(clerk)
        assert r.status_code == 403 and "锁定" in r.text
    with use_city(city):
        async with rt.db.transaction() as s:
            row = await s.get(StaffAccount, clerk.id)
    assert row.failed_logins == ACCOUNT_LOCK_AFTER and row.locked_until > start + timedelta(minutes=14)
    assert [e.summary for e in await _audit(rt, city, "staff.locked")][-1] == (
        f"{clerk.username} locked after {ACCOUNT_LOCK_AFTER} failed log-ins")


async def test_vendor_log_in_pauses_one_address_too(rt, app):
    vendor = await add_vendor(rt)
    start = utcnow()
    assert await _fail_until_locked(_from(app, "203.0.113.90"), vendor, start) == [401, 401, 401, 401, 403]
    with frozen(start + timedelta(seconds=20)):
        assert (await _from(app, "198.51.100.9").login(vendor)).status_code == 303


async def test_totp_enrolment_and_second_step(rt, city, browser, new_browser, admin):
    await browser.login(admin)
    page = await browser.get("/console/account/totp")
    assert page.status_code == 200 and "otpauth://totp/" in page.text and "<svg" in page.text
    secret = page.text.split('id="totp-secret">', 1)[1].split("<", 1)[0]
    r = await browser.post("/console/account/totp", {"code": "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"})
    assert r.status_code == 422
    r = await browser.post("/console/account/totp", {"code": pyotp.TOTP(secret).now()})
    assert r.status_code == 303
    assert 'id="totp-on"' in (await browser.get("/console/account/totp")).text
    assert secret not in str([e.after for e in await _audit(rt, city, "staff.totp_enable")])

    other = new_browser()
    r = await other.login(admin)
    assert r.status_code == 303 and r.headers["location"] == "/console/login/totp"
    assert (await other.get(f"/console/c/{city.slug}/")).status_code == 303  # not logged in yet
    r = await other.post("/console/login/totp", {"code": "12345x"})
    assert r.status_code == 401 and 'id="totp-error"' in r.text
    r = await other.post("/console/login/totp", {"code": pyotp.TOTP(secret).now()})
    assert r.status_code == 303 and r.headers["location"] == f"/console/c/{city.slug}/"
    assert (await other.get(f"/console/c/{city.slug}/")).status_code == 200


async def test_post_without_the_csrf_token_is_refused(rt, city, browser, admin):
    await browser.login(admin)
    r = await browser.post(f"/console/c/{city.slug}/settings/districts", {"code": "09", "name": "新区"}, csrf="forged")
    assert r.status_code == 403 and 'data-code="csrf"' in r.text and "表单已过期" in r.text
    r = await browser.client.post(f"/console/c/{city.slug}/settings/districts", data={"code": "09", "name": "新区"})
    assert r.status_code == 403
    assert await _audit(rt, city, "district.create") == []


async def test_session_ends_after_thirty_idle_minutes(city, browser, admin):
    start = utcnow()
    with frozen(start):
        await browser.login(admin)
    with frozen(start + timedelta(minutes=29)):
        assert (await browser.get(f"/console/c/{city.slug}/")).status_code == 200
    with frozen(start + timedelta(minutes=29 + 31)):
        r = await browser.get(f"/console/c/{city.slug}/staff")
        assert r.status_code == 303 and r.headers["location"].startswith(f"/console/c/{city.slug}/login")
        assert "登录已过期" in (await browser.get(r.headers["location"])).text


async def test_session_ends_eight_hours_after_log_in_even_when_active(city, browser, admin):
    start = utcnow()
    with frozen(start):
        await browser.login(admin)
    for minutes in range(20, 8 * 60, 20):
        with frozen(start + timedelta(minutes=minutes)):
            assert (await browser.get(f"/console/c/{city.slug}/")).status_code == 200
    with frozen(start + timedelta(hours=8, minutes=1)):
        assert (await browser.get(f"/console/c/{city.slug}/")).status_code == 303


async def test_deactivated_account_is_logged_out_on_its_next_request(rt, city, browser, new_browser, admin):
    agent = await add_staff(rt, city, "agent")
    await browser.login(agent)
    assert (await browser.get(f"/console/c/{city.slug}/")).status_code == 200
    boss = new_browser()
    await boss.login(admin)
    await boss.get(f"/console/c/{city.slug}/staff/{agent.id}")
    r = await boss.post(f"/console/c/{city.slug}/staff/{agent.id}/active", {"active": "0", "reason": "离职"})
    assert r.status_code == 303
    r = await browser.get(f"/console/c/{city.slug}/")
    assert r.status_code == 303 and "/login" in r.headers["location"]
    assert (await browser.login(agent)).status_code == 401
    [entry] = await _audit(rt, city, "staff.deactivate")
    assert entry.reason == "离职" and entry.before["active"] is True and entry.after["active"] is False


async def test_cookie_flags(city, browser, admin):
    await browser.get(f"/console/c/{city.slug}/login")
    await browser.post(f"/console/c/{city.slug}/login", {"username": admin.username, "password": PASSWORD})
    r = await browser.client.post(
        f"/console/c/{city.slug}/login", data={"username": admin.username, "password": PASSWORD, "csrf": browser.csrf},
        headers={"X-Forwarded-Proto": "https"},
    )
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith("guahao_console=")
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie and "path=/console" in cookie


async def test_logout(city, browser, admin):
    await browser.login(admin)
    await browser.get(f"/console/c/{city.slug}/")
    r = await browser.post("/console/logout")
    assert r.status_code == 303
    assert (await browser.get(f"/console/c/{city.slug}/")).status_code == 303


async def test_language_switch(city, browser, admin):
    await browser.login(admin)
    page = await browser.get(f"/console/c/{city.slug}/")
    assert "工作人员账号" in page.text
    await browser.post("/console/lang", {"lang": "en", "next": f"/console/c/{city.slug}/"})
    page = await browser.get(f"/console/c/{city.slug}/")
    assert "Staff accounts" in page.text and 'lang="en"' in page.text


# --- the second factor: brute force and replay ----------------------------------------------


async def _with_totp(rt, city, who) -> str:
    """Turn the second factor on for ``who`` (as if enrolled); returns the secret."""
    secret = pyotp.random_base32()
    model = StaffAccount if city is not None else VendorAccount
    with use_city(city) if city is not None else contextlib.nullcontext():
        async with rt.db.transaction() as s:
            account = await s.get(model, who.id)
            account.totp_secret, account.totp_enabled = cipher().encrypt(secret), True
    return secret


def _wrong_code(secret: str, at) -> str:
    totp = pyotp.TOTP(secret)
    near = {totp.at(at + timedelta(seconds=d)) for d in (-30, 0, 30)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


async def test_wrong_codes_lock_the_account_across_rounds_of_right_passwords(rt, city, browser):
    clerk = await add_staff(rt, city, "agent")
    secret = await _with_totp(rt, city, clerk)
    start = utcnow()
    with frozen(start):
        statuses = []
        for _ in range(6):
            r = await browser.login(clerk)  # the right password every round
            statuses.append(r.status_code)
            if r.status_code == 303:
                assert r.headers["location"] == "/console/login/totp"
                r = await browser.post("/console/login/totp", {"code": _wrong_code(secret, start)})
                statuses.append(r.status_code)
        assert statuses == [303, 401] * 4 + [303, 403, 403]
        r = await browser.login(clerk)  # right password, and the right code would follow: locked
        assert r.status_code == 403 and "锁定" in r.text
        with use_city(city):
            with pytest.raises(AccountLocked):
                await second_factor(rt.db, StaffAccount, clerk.id, pyotp.TOTP(secret).at(start))
            async with rt.db.transaction() as s:
                row = await s.get(StaffAccount, clerk.id)
        assert row.totp_failures == 5 and row.failed_logins == 0 and row.locked_until > start + timedelta(minutes=14)
    assert [e.summary for e in await _audit(rt, city, "staff.locked")] == [
        f"{clerk.username} locked after 5 wrong verification codes"]
    with frozen(start + timedelta(minutes=16)):  # the lock runs out; a right code clears the count
        assert (await browser.login(clerk)).status_code == 303
        code = pyotp.TOTP(secret).at(start + timedelta(minutes=16))
        r = await browser.post("/console/login/totp", {"code": code})
        assert r.status_code == 303 and r.headers["location"] == f"/console/c/{city.slug}/"
    with use_city(city):
        async with rt.db.transaction() as s:
            assert (await s.get(StaffAccount, clerk.id)).totp_failures == 0


async def test_a_code_is_accepted_once(rt, city, browser, new_browser):
    clerk = await add_staff(rt, city, "agent")
    secret = await _with_totp(rt, city, clerk)
    start = utcnow()
    code = pyotp.TOTP(secret).at(start)
    with frozen(start):
        await browser.login(clerk)
        assert (await browser.post("/console/login/totp", {"code": code})).status_code == 303
        thief = new_browser()  # knows the password and saw the code
        assert (await thief.login(clerk)).status_code == 303
        r = await thief.post("/console/login/totp", {"code": code})
        assert r.status_code == 401 and "验证码已使用过" in r.text
        assert (await thief.get(f"/console/c/{city.slug}/")).status_code == 303  # not logged in
    later = start + timedelta(seconds=30)
    with frozen(later):  # the previous step stays spent; the next code works
        r = await thief.post("/console/login/totp", {"code": code})
        assert r.status_code == 401
        r = await thief.post("/console/login/totp", {"code": pyotp.TOTP(secret).at(later)})
        assert r.status_code == 303


async def test_vendor_code_is_accepted_once(rt):
    vendor = await add_vendor(rt)
    secret = await _with_totp(rt, None, vendor)
    start = utcnow()
    with frozen(start):
        code = pyotp.TOTP(secret).at(start)
        assert (await second_factor(rt.db, VendorAccount, vendor.id, code)).id == vendor.id
        with pytest.raises(DomainError) as exc:
            await second_factor(rt.db, VendorAccount, vendor.id, code)
        assert exc.value.code == "totp_failed"
