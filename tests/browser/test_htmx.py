"""htmx enhances the site without being needed: with JavaScript the doctor search updates the
results in place as you type; without it the whole journey (register, book, cancel) works
through plain links and forms."""

from __future__ import annotations

import httpx
import pytest

from guahao.core.booking.refs import is_booking_ref

from .server import PHONE
from .test_patient_site import _doctor_with_two_open_periods, _identity


async def test_search_updates_results_in_place(page, base_url):
    doctor = httpx.get(base_url + "/api/v1/demo/doctors?limit=1").json()["items"][0]
    await page.goto(base_url + "/c/demo/")
    await page.wait_for_function("window.htmx !== undefined")
    await page.evaluate("window.stayedOnPage = true")
    assert await page.locator("#doctor-results").count() == 0
    await page.locator("#q").press_sequentially(doctor["name"], delay=50)
    await page.wait_for_selector(f"#doctor-results a[href$='/doctors/{doctor['id']}']")
    assert await page.evaluate("window.stayedOnPage === true")  # no full page load
    assert "q=" in page.url  # the address can be shared and reloaded
    assert await page.locator("#hospitals").count() == 1
    await page.locator("#q").fill("没有这个医生")
    await page.locator("#q").dispatch_event("input")
    await page.wait_for_selector("#no-doctor")
    assert await page.evaluate("window.stayedOnPage === true")


async def test_boosted_links_keep_the_page(page, base_url):
    await page.goto(base_url + "/c/demo/")
    await page.wait_for_function("window.htmx !== undefined")
    await page.evaluate("window.stayedOnPage = true")
    await page.click("#hospitals a.title >> nth=0")
    await page.wait_for_selector("#departments")
    assert await page.evaluate("window.stayedOnPage === true") and "/hospitals/" in page.url
    await page.go_back()
    await page.wait_for_selector("#hospitals")


@pytest.fixture
async def no_js_page(chromium):
    context = await chromium.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, java_script_enabled=False)
    pg = await context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    await context.close()


async def test_register_book_and_cancel_without_javascript(no_js_page, base_url):
    page = no_js_page
    doctor_id, session_id = _doctor_with_two_open_periods(base_url)
    await page.goto(base_url + "/c/demo/register")
    who = _identity(4711)
    for field, value in who.items():
        await page.fill(f"#{field}", value)
    await page.click("#submit")
    await page.wait_for_selector("#member-name")

    await page.goto(base_url + "/c/demo/?q=" + httpx.get(base_url + f"/api/v1/demo/doctors/{doctor_id}").json()["name"])
    await page.click(f"#doctor-results a[href$='/doctors/{doctor_id}']")
    periods = page.locator(f"#session-{session_id} a[id^=period-]")
    await page.click("#" + await periods.nth(0).get_attribute("id"))
    await page.click("#confirm")
    ref = (await page.inner_text("#booking-ref")).strip()
    assert is_booking_ref(ref)
    await page.click("#cancel")
    await page.click("#confirm-cancel")
    await page.goto(base_url + f"/c/demo/bookings/{ref}")
    assert "取消" in await page.inner_text("#booking-status")
