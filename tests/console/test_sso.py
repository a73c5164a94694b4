"""Single sign-on through the fake OpenID Connect provider: the real authlib client runs,
ID tokens are real RS256 JWTs checked against the provider's JWKS."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from guahao.core.audit import SYSTEM
from guahao.core.models import AuditEntry
from guahao.core.staff.sso import configure_provider
from guahao.tenants.context import use_city

from .conftest import add_staff


@pytest.fixture
async def sso_city(rt, city, oidc):
    client_id, secret = oidc.add_client(f"http://testserver/console/c/{city.slug}/sso/callback")
    with use_city(city):
        async with rt.db.transaction() as s:
            await configure_provider(s, SYSTEM, discovery_url=oidc.url, client_id=client_id, client_secret=secret,
                                     label="政务统一身份认证", match_email=True)
    return city


async def _round_trip(browser, city, oidc, claims: dict, tamper: str | None = None) -> httpx.Response:
    oidc.login_as = claims
    oidc.tamper = tamper
    start = await browser.get(f"/console/c/{city.slug}/sso/login")
    assert start.status_code == 302 and start.headers["location"].startswith(f"{oidc.url}/authorize?")
    async with httpx.AsyncClient() as outside:  # the person's browser at the identity provider
        answer = await outside.get(start.headers["location"])
    assert answer.status_code == 302
    callback = answer.headers["location"]
    assert callback.startswith(f"http://testserver/console/c/{city.slug}/sso/callback?")
    return await browser.get(callback.removeprefix("http://testserver"))


async def test_sso_login_by_subject(rt, sso_city, oidc, browser):
    city = sso_city
    login_page = await browser.get(f"/console/c/{city.slug}/login")
    assert 'id="sso-login"' in login_page.text and "政务统一身份认证" in login_page.text
    agent = await add_staff(rt, city, "agent", sso_subject="sub-agent-1")
    r = await _round_trip(browser, city, oidc, {"sub": "sub-agent-1", "email": "x@example.cn"})
    assert r.status_code == 200 and f"/console/c/{city.slug}/" in r.text
    home = await browser.get(f"/console/c/{city.slug}/")
    assert home.status_code == 200 and agent.username in home.text
    with use_city(city):
        async with rt.db.transaction() as s:
            entry = await s.scalar(select(AuditEntry).where(AuditEntry.action == "staff.login"))
    assert entry.summary == f"{agent.username} (sso)"


async def test_sso_login_by_verified_email(rt, sso_city, oidc, browser):
    await add_staff(rt, sso_city, "bureau_viewer", email="Li.Ming@Example.cn")
    r = await _round_trip(browser, sso_city, oidc, {"sub": "other-sub", "email": "li.ming@example.cn", "email_verified": True})
    assert r.status_code == 200
    assert (await browser.get(f"/console/c/{sso_city.slug}/")).status_code == 200


async def test_unknown_subject_is_refused_and_nothing_is_created(rt, sso_city, oidc, browser):
    await add_staff(rt, sso_city, "agent", email="a@example.cn")
    r = await _round_trip(browser, sso_city, oidc, {"sub": "stranger", "email": "a@example.cn", "email_verified": False})
    assert r.status_code == 403 and 'data-code="sso_unknown"' in r.text
    assert (await browser.get(f"/console/c/{sso_city.slug}/")).status_code == 303


async def test_deactivated_account_cannot_use_sso(rt, sso_city, oidc, browser):
    agent = await add_staff(rt, sso_city, "agent", sso_subject="sub-gone")
    from guahao.core.staff.accounts import set_active

    with use_city(sso_city):
        async with rt.db.transaction() as s:
            await set_active(s, SYSTEM, agent.id, False)
    r = await _round_trip(browser, sso_city, oidc, {"sub": "sub-gone"})
    assert r.status_code == 403


@pytest.mark.parametrize("tamper", ["wrong_key", "wrong_nonce", "wrong_audience", "expired", "no_id_token"])
async def test_bad_tokens_are_refused(rt, sso_city, oidc, browser, tamper):
    await add_staff(rt, sso_city, "agent", sso_subject=f"sub-{tamper}")
    r = await _round_trip(browser, sso_city, oidc, {"sub": f"sub-{tamper}"}, tamper=tamper)
    assert r.status_code == 401 and 'data-code="sso_failed"' in r.text
    assert (await browser.get(f"/console/c/{sso_city.slug}/")).status_code == 303


async def test_callback_without_our_state_is_refused(rt, sso_city, oidc, browser, new_browser):
    await add_staff(rt, sso_city, "agent", sso_subject="sub-csrf")
    oidc.login_as = {"sub": "sub-csrf"}
    start = await browser.get(f"/console/c/{sso_city.slug}/sso/login")
    async with httpx.AsyncClient() as outside:
        callback = (await outside.get(start.headers["location"])).headers["location"]
    attacker_victim = new_browser()  # a different browser, lured to the callback URL
    r = await attacker_victim.get(callback.removeprefix("http://testserver"))
    assert r.status_code == 401
    assert (await attacker_victim.get(f"/console/c/{sso_city.slug}/")).status_code == 303


async def test_sso_not_configured_is_not_found(city, browser):
    assert (await browser.get(f"/console/c/{city.slug}/sso/login")).status_code == 404
