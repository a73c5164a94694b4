"""In a real browser: a visitor chooses a time before logging in, is told why log-in is needed,
registers, comes back to that very time and books it — on a phone and on a desktop, in Chinese
and in English."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from guahao.core.booking.refs import is_booking_ref
from guahao.core.members.ids import check_digit

LANG = {"zh-CN": {"why": "预约挂号需要先登录", "booked": "身份证"},
        "en": {"why": "Log in to book: you will come back to the time you chose.", "booked": "ID card"}}


def _open_period(base_url: str) -> tuple[int, int]:
    """A released session at least three days ahead with an open period: (doctor, session)."""
    soon = date.today() + timedelta(days=3)
    for dept in httpx.get(base_url + "/api/v1/demo/hospitals/1/departments").json()["items"]:
        for item in httpx.get(base_url + f"/api/v1/demo/availability?department_id={dept['id']}").json()["items"]:
            if item["released"] and any(p["remaining"] > 0 for p in item["periods"]) \
                    and date.fromisoformat(item["date"]) >= soon:
                return item["doctor_id"], item["session_id"]
    raise AssertionError("the demo city has no session three days ahead with an open period")


def _identity(n: int) -> dict:
    """A real-name identity of its own per run (other browser tests use theirs)."""
    first17 = f"310104198{n % 10}0{1 + n % 9}2{n % 10}{(500 + n) % 1000:03d}"
    return {"name": "周" + "一二三四五六七八九十"[n % 10] + "宁", "id_number": first17 + check_digit(first17),
            "phone": f"136{n:08d}", "password": "Slot-Kept-2024"}


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_choose_a_time_register_and_book_it(page, base_url, lang):
    doctor_id, session_id = _open_period(base_url)
    await page.goto(base_url + "/c/demo/")
    if lang == "en":
        await page.click("#lang-en")
    await page.goto(base_url + f"/c/demo/doctors/{doctor_id}")
    period = page.locator(f"#session-{session_id} a[id^=period-]").first
    period_id = (await period.get_attribute("id")).removeprefix("period-")
    slot_time = (await period.inner_text()).split()[0]
    await period.click()

    # Told why, with the chosen time, on the log-in page; registration keeps it.
    await page.wait_for_selector("#login-reason")
    reason = await page.inner_text("#login-reason")
    assert LANG[lang]["why"] in reason
    assert slot_time.split("–")[0] in reason
    await page.click("#register-link")
    await page.wait_for_selector("#chosen-slot")

    # Everything wrong at once first, then right.
    await page.fill("#name", "X")
    await page.fill("#phone", "123")
    await page.click("#submit")
    await page.wait_for_selector("#error-summary")
    for field in ("name", "id_number", "phone", "password"):
        assert await page.locator(f"#{field}-error").count() == 1
    n = page.viewport_size["width"] + (1 if lang == "en" else 0)
    for field, value in _identity(n).items():
        await page.fill(f"#{field}", value)
    await page.click("#submit")

    # Back on the chosen time, logged in; book it.
    await page.wait_for_url(f"**/c/demo/book/{period_id}")
    await page.wait_for_selector("#member-name")
    await page.click("#confirm")
    await page.wait_for_selector("#booking-ref")
    assert is_booking_ref((await page.inner_text("#booking-ref")).strip())
    assert LANG[lang]["booked"] in await page.inner_text("#bring")
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
