"""The demo's phone in the browser at phone size: a member dials, types the PIN, books by
keypad, hears the booking read back, then cancels it from the list of upcoming bookings."""

from __future__ import annotations

import httpx

from guahao.core.members.ids import check_digit

from .server import PHONE


def _register(base_url: str) -> dict:
    """A real-name member of this test's own, registered through the public API, so no booking
    another browser test left counts against the limit or sits past its cancellation time."""
    first17 = "32010219580306271"
    member = {"name": "赵秀兰", "id_number": first17 + check_digit(first17), "phone": "13900000271",
              "password": "Keypad-Pass-1958"}
    reply = httpx.post(base_url + "/api/v1/demo/members", json=member)
    assert reply.status_code in (200, 201), reply.text
    return member


async def _press(page, keys: str) -> str:
    for key in keys:
        ident = {"*": "star", "#": "hash"}.get(key, key)
        async with page.expect_navigation():
            await page.click(f"#key-{ident}")
    return await page.inner_text("#screen")


async def test_book_and_cancel_on_the_simulated_phone(chromium, base_url):
    context = await chromium.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    page = await context.new_page()
    page.set_default_timeout(10_000)
    member = _register(base_url)
    try:
        await page.goto(base_url + "/c/demo/ivr/simulator")
        await page.fill("#from", member["phone"])
        async with page.expect_navigation():
            await page.click("#dial")
        assert "请输入密码" in await page.inner_text("#screen")
        pin = member["id_number"][-6:].replace("X", "0")
        assert "预约挂号请按1" in await _press(page, pin)
        assert "更多请按9" in await _press(page, "1")
        assert "请选择科室" in await _press(page, "799#")  # 市一院 by its 拼音 initials
        assert "任意医生请按1" in await _press(page, "2")  # 消化内科 (the kiosk test books 呼吸内科)
        assert "请选择就诊日期" in await _press(page, "1")
        # the second day offered: tomorrow's bookings may already be past the cancellation time
        assert "请选择时段" in await _press(page, "2")
        read_back = await _press(page, "1")
        assert "示例市第一人民医院" in read_back and "挂号费" in read_back and "确认预约请按1" in read_back
        booked = await _press(page, "1")
        assert "预约成功" in booked and "预约号" in booked
        # the keypad fits the phone's width: no sideways scrolling
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        spelled = booked.split("预约号：", 1)[1].split("。", 1)[0]  # "7 K 3 Q P，2 M 9 X A"
        await _press(page, "1")  # pay at the hospital
        await _press(page, "1")  # back to the main menu
        listed = (await _press(page, "2")).rsplit("您有", 1)[1]
        [number] = [i for i in range(1, 6) if f"第{i}个" in listed and spelled in listed.split(f"第{i}个", 1)[1].split("；")[0]]
        await _press(page, "1")  # back to the main menu
        assert "确认取消请按1" in await _press(page, f"3{number}")
        assert "已取消预约" in await _press(page, "1")
        async with page.expect_navigation():
            await page.click("#hangup")
        assert "已挂断" in await page.inner_text("#screen")
    finally:
        await context.close()
