"""A city's licence in a real browser: in grace the operator console shows staff a banner with
the days left; once the grace is over the patient site refuses a new booking with the Chinese
sentence (and the English one), and the console says why and what still works.

Each state has a demo server of its own: the demo city seeded as usual, then a licence signed
with the demo key installed the way the vendor would (the embedded demo trusts that key)."""

from __future__ import annotations

import asyncio
from contextlib import nullcontext
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from guahao.core.demo.staff import PASSWORD as STAFF_PASSWORD
from guahao.core.runtime import Runtime
from guahao.licensing.licences.document import LicenceDocument
from guahao.licensing.licences.keys import demo_private_pem
from guahao.licensing.licences.service import install_licence
from guahao.licensing.licences.signing import sign
from guahao.licensing.licences.states import local_today
from guahao.tenants.clock import frozen, utcnow
from guahao.tenants.service import get_city
from guahao.tenants.settings import Settings

from .server import DESKTOP, PHONE, demo_server
from .test_patient_site import MEMBERS
from .test_patient_site import PASSWORD as MEMBER_PASSWORD


def _today() -> date:
    """Today in the demo city (Asia/Shanghai), whose calendar the licence's days follow."""
    return local_today(utcnow(), ZoneInfo("Asia/Shanghai"))


ZH_REFUSAL = "本市预约服务授权已到期，暂停受理新的预约；已有预约、取消、退款和就诊不受影响。请通过其他方式联系医院。"


def _installer(valid_from: date, valid_until: date, *, days_ago: int = 0):
    """A ``prepare`` step for the demo server: sign a demo licence and install it, as if
    ``days_ago`` days back (a licence whose grace is over can only have been installed before)."""

    def prepare(env: dict) -> None:
        async def go() -> None:
            rt = Runtime(Settings.from_env(env))
            try:
                city = await get_city(rt.db, "demo")
                token = sign(LicenceDocument(city="demo", valid_from=valid_from, valid_until=valid_until, grace_days=30,
                                             operator="示例市卫生健康委员会"), demo_private_pem())
                with frozen(utcnow() - timedelta(days=days_ago)) if days_ago else nullcontext():
                    await install_licence(rt, city, token)
            finally:
                await rt.stop()

        asyncio.run(go())

    return prepare


@pytest.fixture(scope="module")
def grace_url(tmp_path_factory):
    today = _today()
    with demo_server(tmp_path_factory.mktemp("grace"),
                     prepare=_installer(today - timedelta(days=300), today - timedelta(days=3))) as base:
        yield base


@pytest.fixture(scope="module")
def restricted_url(tmp_path_factory):
    today = _today()
    prepare = _installer(today - timedelta(days=400), today - timedelta(days=45), days_ago=60)
    with demo_server(tmp_path_factory.mktemp("restricted"), prepare=prepare) as base:
        yield base


async def _context(chromium, viewport):
    context = await chromium.new_context(viewport=viewport, locale="zh-CN", is_mobile=viewport is PHONE)
    page = await context.new_page()
    page.set_default_timeout(10_000)
    return context, page


async def _staff_login(page, base: str) -> None:
    await page.goto(base + "/console/c/demo/login")
    await page.fill("#username", "admin")
    await page.fill("#password", STAFF_PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_url(base + "/console/c/demo/")


async def test_staff_see_the_grace_banner_with_the_days_left(chromium, grace_url):
    context, page = await _context(chromium, DESKTOP)
    try:
        await page.goto(grace_url + "/console/c/demo/login")
        assert await page.locator("#licence-banner").count() == 0  # not before logging in
        await _staff_login(page, grace_url)
        banner = page.locator("#licence-banner")
        assert await banner.is_visible() and await banner.get_attribute("data-state") == "grace"
        ended = (_today() - timedelta(days=3)).isoformat()
        text = await banner.inner_text()
        assert f"已于 {ended} 到期" in text and "宽限期还剩 28 天" in text
        await page.click("#nav-staff")  # on every staff page of the city
        assert "宽限期还剩 28 天" in await page.inner_text("#licence-banner")
        await page.click("#lang-en")
        assert "28 days of grace are left" in await page.inner_text("#licence-banner")
        # The patient site says nothing of it.
        await page.goto(grace_url + "/c/demo/")
        assert await page.locator("#licence-banner").count() == 0
    finally:
        await context.close()


async def test_after_the_grace_the_patient_site_refuses_and_staff_are_told_why(chromium, restricted_url):
    from .test_patient_site import _doctor_with_two_open_periods

    doctor_id, session_id = _doctor_with_two_open_periods(restricted_url)
    context, page = await _context(chromium, PHONE)
    try:
        await page.goto(restricted_url + "/c/demo/login")
        await page.fill("#login", MEMBERS[PHONE["width"]])
        await page.fill("#password", MEMBER_PASSWORD)
        await page.click("#submit")
        await page.wait_for_selector("#member-name")
        await page.goto(restricted_url + f"/c/demo/doctors/{doctor_id}")  # browsing still works
        await page.click(f"#session-{session_id} a[id^=period-] >> nth=0")
        await page.click("#confirm")
        error = page.locator("#error")
        assert await error.get_attribute("data-code") == "licence_restricted"
        assert await error.inner_text() == ZH_REFUSAL
        await page.goto(restricted_url + "/c/demo/bookings")  # the member's own pages open
        assert await page.locator("#member-name").count() == 1

        await page.click("#lang-en")
        await page.goto(restricted_url + f"/c/demo/doctors/{doctor_id}")
        await page.click(f"#session-{session_id} a[id^=period-] >> nth=0")
        await page.click("#confirm")
        assert "no new bookings are being taken" in await page.inner_text("#error")
    finally:
        await context.close()

    context, page = await _context(chromium, DESKTOP)
    try:
        await _staff_login(page, restricted_url)
        banner = page.locator("#licence-banner")
        assert await banner.get_attribute("data-state") == "restricted"
        assert await banner.get_attribute("data-level") == "danger"
        text = await banner.inner_text()
        assert "所有渠道暂停受理新的预约" in text and "已有预约、取消、就诊签到、退款、导出和本控制台照常可用" in text
        await page.click("#nav-staff")  # the console keeps working
        assert await page.is_visible("#licence-banner")
    finally:
        await context.close()
