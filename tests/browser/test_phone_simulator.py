"""The demo's phone in the browser at phone size: a demo member dials, types the PIN, books
by keypad, hears the booking read back, then cancels it from the list of upcoming bookings."""

from __future__ import annotations

from guahao.core.demo.data import MEMBERS
from guahao.core.demo.seed import demo_id_number

from .server import PHONE

MEMBER = MEMBERS[2]  # the kiosk's member; the booking made here is cancelled before the end


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
    try:
        await page.goto(base_url + "/c/demo/ivr/simulator")
        await page.fill("#from", MEMBER.phone)
        async with page.expect_navigation():
            await page.click("#dial")
        assert "请输入密码" in await page.inner_text("#screen")
        pin = demo_id_number(MEMBER)[-6:].replace("X", "0")
        assert "预约挂号请按1" in await _press(page, pin)
        for _ in range(5):  # bookings earlier tests left to this demo member count against the limit of 2
            if "没有可取消的预约" in await _press(page, "3"):
                break
            assert "确认取消请按1" in await _press(page, "1")
            assert "已取消预约" in await _press(page, "1")
        assert "更多请按9" in await _press(page, "1")
        assert "请选择科室" in await _press(page, "799#")  # 市一院 by its 拼音 initials
        assert "任意医生请按1" in await _press(page, "2")  # 消化内科 (the kiosk test books 呼吸内科)
        assert "请选择就诊日期" in await _press(page, "1")
        assert "请选择时段" in await _press(page, "1")
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
