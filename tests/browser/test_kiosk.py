"""Kiosk mode in a real browser on a portrait self-service terminal: the card reader types
the ID number and Enter, the patient books and gets the receipt (凭条)."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from guahao.core.booking.refs import is_booking_ref
from guahao.core.demo import data
from guahao.core.demo.data import MEMBERS
from guahao.core.demo.seed import demo_id_number

KIOSK = {"width": 1080, "height": 1920}
MEMBER = MEMBERS[2]  # the patient tests use the first two demo members


def _open_period(base_url: str) -> tuple[int, int]:
    """A released session at least two days ahead with an open period: (doctor, session)."""
    soon = date.today() + timedelta(days=2)
    for dept in httpx.get(base_url + "/api/v1/demo/hospitals/1/departments").json()["items"]:
        for item in httpx.get(base_url + f"/api/v1/demo/availability?department_id={dept['id']}").json()["items"]:
            if item["released"] and date.fromisoformat(item["date"]) >= soon and any(
                    p["remaining"] > 0 for p in item["periods"]):
                return item["doctor_id"], item["session_id"]
    raise AssertionError("the demo city has no open session two days ahead")


@pytest.fixture
async def kiosk_page(chromium):
    context = await chromium.new_context(viewport=KIOSK, locale="zh-CN", has_touch=True)
    pg = await context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    await context.close()


async def test_card_login_book_and_receipt(kiosk_page, base_url):
    page = kiosk_page
    doctor_id, session_id = _open_period(base_url)
    # Identification works only on a registered terminal: IT staff bind the machine once.
    await page.goto(base_url + "/c/demo/kiosk/")
    assert await page.get_attribute("#error", "data-code") == "terminal_required"
    await page.goto(base_url + f"/c/demo/kiosk/?terminal={data.KIOSK_TERMINAL}")
    assert data.KIOSK_NAME in await page.inner_text("#terminal-name")
    # The field has the focus: the card reader types into it and presses Enter.
    assert await page.evaluate("document.activeElement && document.activeElement.id") == "id_number"
    await page.keyboard.type(demo_id_number(MEMBER))
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#digits")
    await page.keyboard.type(MEMBER.phone[-4:])
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#member-name")
    assert MEMBER.name in await page.inner_text("#member-name")
    heights = await page.eval_on_selector_all(
        ".kiosk-bar a, .kiosk-bar button", "els => els.map(e => e.getBoundingClientRect().height)")
    assert heights and min(heights) >= 64

    await page.goto(base_url + f"/c/demo/kiosk/doctors/{doctor_id}")
    await page.click(f"#session-{session_id} a[id^=period-]")
    await page.click("#confirm")
    ref = (await page.inner_text("#booking-ref")).strip()
    assert is_booking_ref(ref)
    assert "/kiosk/bookings/" in page.url
    await page.click("#print-receipt")
    assert (await page.inner_text("#receipt-ref")).strip() == ref
    assert "身份证" in await page.inner_text("#receipt-bring")
    width = await page.eval_on_selector(".receipt", "e => e.getBoundingClientRect().width")
    assert 295 <= width <= 310  # 80 mm at 96 dpi
    await page.emulate_media(media="print")
    assert not await page.is_visible("#print")
    await page.emulate_media(media="screen")
    await page.click("#logout")
    await page.wait_for_selector("#id_number")
