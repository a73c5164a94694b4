"""The patient site in a real browser: log in, find a doctor, book, be refused, cancel —
on a phone and on a desktop, in Chinese and in English."""

from __future__ import annotations

from datetime import date, timedelta

import httpx

from guahao.core.booking.refs import is_booking_ref

# Demo members (core/demo): one per viewport, so the runs do not refuse each other.
MEMBERS = {360: "13800000001", 1280: "13800000002"}
PASSWORD = "Demo-Pass-1234"


def _doctor_with_two_open_periods(base_url: str) -> tuple[int, int]:
    """A session at least three days ahead with two open periods (so it can still be
    cancelled under the demo city's rule: until 18:00 the day before): (doctor, session)."""
    soon = date.today() + timedelta(days=3)
    for dept in httpx.get(base_url + "/api/v1/demo/hospitals/1/departments").json()["items"]:
        for item in httpx.get(base_url + f"/api/v1/demo/availability?department_id={dept['id']}").json()["items"]:
            open_periods = sum(p["remaining"] > 0 for p in item["periods"])
            if item["released"] and open_periods >= 2 and date.fromisoformat(item["date"]) >= soon:
                return item["doctor_id"], item["session_id"]
    raise AssertionError("the demo city has no session three days ahead with two open periods")


async def _login(page, base_url: str) -> None:
    await page.goto(base_url + "/c/demo/login")
    await page.fill("#login", MEMBERS[page.viewport_size["width"]])
    await page.fill("#password", PASSWORD)
    await page.click("#submit")
    await page.wait_for_selector("#member-name")


async def test_book_be_refused_and_cancel(page, base_url):
    doctor_id, session_id = _doctor_with_two_open_periods(base_url)
    await _login(page, base_url)
    await page.goto(base_url + f"/c/demo/doctors/{doctor_id}")
    periods = page.locator(f"#session-{session_id} a[id^=period-]")
    first_period = await periods.nth(0).get_attribute("id")
    second_period = await periods.nth(1).get_attribute("id")
    await page.click(f"#{first_period}")
    await page.click("#confirm")
    ref = (await page.inner_text("#booking-ref")).strip()
    assert is_booking_ref(ref)
    assert "身份证" in await page.inner_text("#bring")
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

    # A second period of the same session is refused with a sentence, not an error page.
    await page.goto(base_url + f"/c/demo/doctors/{doctor_id}")
    await page.click(f"#{second_period}")
    await page.click("#confirm")
    error = page.locator("#error")
    assert await error.get_attribute("data-code") == "duplicate_session"
    assert "同一" in await error.inner_text() or "已" in await error.inner_text()

    await page.goto(base_url + f"/c/demo/bookings/{ref}")
    await page.click("#cancel")
    await page.click("#confirm-cancel")
    await page.goto(base_url + f"/c/demo/bookings/{ref}")
    assert "取消" in await page.inner_text("#booking-status")


async def test_english_and_large_text_for_older_users(page, base_url):
    await page.goto(base_url + "/c/demo/")
    await page.click("#lang-en")
    assert "Log in" in await page.inner_text("#nav-login")
    await page.click("#toggle-large")
    assert await page.get_attribute("#toggle-large", "aria-pressed") == "true"
    # Tap targets stay at least 44 px high.
    heights = await page.eval_on_selector_all(
        "main a.button, button", "els => els.map(e => e.getBoundingClientRect().height).filter(h => h > 0)"
    )
    assert heights and min(heights) >= 44
    await page.click("#lang-zh_CN") if await page.locator("#lang-zh_CN").count() else None


def _identity(n: int) -> dict:
    from guahao.core.members.ids import check_digit

    first17 = f"110105199{n % 10}0{1 + n % 9}1{n % 10}{(300 + n) % 1000:03d}"
    return {"name": "林晓" + "一二三四五六七八九十"[n % 10], "id_number": first17 + check_digit(first17),
            "phone": f"137{n:08d}", "password": "Secret-2024x"}


async def test_english_register_book_refused_and_cancel(page, base_url):
    """The same journey in English, starting from registration with a real name."""
    doctor_id, session_id = _doctor_with_two_open_periods(base_url)
    await page.goto(base_url + "/c/demo/")
    await page.click("#lang-en")
    await page.goto(base_url + "/c/demo/register")
    who = _identity(page.viewport_size["width"])
    for field, value in who.items():
        await page.fill(f"#{field}", value)
    await page.click("#submit")
    await page.wait_for_selector("#member-name")
    assert await page.inner_text("#member-name") == who["name"]
    assert who["id_number"] not in await page.content()  # never shown unmasked

    await page.goto(base_url + f"/c/demo/doctors/{doctor_id}")
    periods = page.locator(f"#session-{session_id} a[id^=period-]")
    first, second = await periods.nth(2).get_attribute("id"), await periods.nth(3).get_attribute("id")
    await page.click(f"#{first}")
    await page.click("#confirm")
    ref = (await page.inner_text("#booking-ref")).strip()
    assert "ID card" in await page.inner_text("#bring")

    await page.goto(base_url + f"/c/demo/doctors/{doctor_id}")
    await page.click(f"#{second}")
    await page.click("#confirm")
    error = page.locator("#error")
    assert await error.get_attribute("data-code") == "duplicate_session"
    assert "already" in (await error.inner_text()).lower()

    await page.goto(base_url + f"/c/demo/bookings/{ref}")
    await page.click("#cancel")
    await page.click("#confirm-cancel")
    await page.goto(base_url + f"/c/demo/bookings/{ref}")
    assert "Cancelled" in await page.inner_text("#booking-status")
