"""The operator console in a real browser: a city administrator logs in and creates a staff
account, on a laptop (1280x800) and a tablet (820x1180)."""

from __future__ import annotations

import itertools

import pytest

from guahao.core.demo.staff import PASSWORD

LAPTOP = {"width": 1280, "height": 800}
TABLET = {"width": 820, "height": 1180}
_seq = itertools.count(1)


@pytest.fixture(params=[("laptop", LAPTOP), ("tablet", TABLET)], ids=["laptop", "tablet"])
async def console_page(request, chromium):
    name, viewport = request.param
    context = await chromium.new_context(viewport=viewport, locale="zh-CN", has_touch=name == "tablet")
    pg = await context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    await context.close()


async def _fits(page) -> bool:
    return await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


async def test_city_admin_logs_in_and_creates_a_staff_account(console_page, base_url):
    page = console_page
    await page.goto(base_url + "/console/c/demo/login")
    assert "工作人员登录" in await page.inner_text("h1")
    assert "admin" in await page.inner_text(".demo")  # the demo accounts are listed
    await page.fill("#username", "admin")
    await page.fill("#password", "not-the-password-1")
    await page.click("#login-submit")
    assert "用户名或密码不正确" in await page.inner_text("#login-error")
    await page.fill("#username", "admin")
    await page.fill("#password", PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_url(base_url + "/console/c/demo/")
    assert await page.is_visible("#nav-staff") and await page.is_visible("#nav-settings")
    assert await _fits(page)

    await page.click("#home-staff")
    await page.wait_for_url("**/staff")
    assert await _fits(page)
    await page.click("#staff-new")
    username = f"sched.{next(_seq)}.{page.viewport_size['width']}"
    await page.fill("#f-username", username)
    await page.fill("#f-display_name", "排班员 测试")
    await page.select_option("#f-role", "scheduler")
    await page.select_option("#f-hospital", label="示例市第一人民医院")
    await page.fill("#f-password", "browser-pass-1")
    assert await _fits(page)
    await page.click("#staff-save")
    await page.wait_for_selector("#flash")
    assert username in await page.inner_text("#flash")
    assert await page.is_visible("#account-actions")

    await page.click("#nav-staff")
    assert username in await page.inner_text("#staff-table")
    await page.click("#nav-audit")
    assert "staff.create" in await page.inner_text("#audit-table")

    await page.click("#logout")
    await page.wait_for_url("**/console/c/demo/login")
    await page.goto(base_url + "/console/c/demo/staff")
    assert "/login" in page.url
