"""The demo's mobile phone in the browser at phone size: a member books by SMS, sees the reply
with the booking number arrive in the conversation by itself, lists it with 查询 and cancels it
with the 取消 example the page offers."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from guahao.core.members.ids import check_digit

from .server import PHONE

RECEIVED = "#thread .msg.received .text"
ARRIVED = """(args) => Array.from(document.querySelectorAll(args.sel)).slice(args.before)
  .some(e => args.words.some(w => e.textContent.includes(w)))"""


def _register(base_url: str) -> dict:
    """A real-name member of this test's own, registered through the public API, so no booking
    another browser test left counts against the limit or sits past its cancellation time."""
    first17 = "32010219490815272"
    member = {"name": "孙桂英", "id_number": first17 + check_digit(first17), "phone": "13900000272",
              "password": "Texting-Pass-1949"}
    reply = httpx.post(base_url + "/api/v1/demo/members", json=member)
    assert reply.status_code in (200, 201), reply.text
    return member


async def _received(page) -> list[str]:
    return await page.locator(RECEIVED).all_inner_texts()


async def _send(page, text: str, *words: str) -> str:
    """Send ``text`` and wait until a reply containing one of ``words`` arrives (the page
    refreshes the conversation itself); that reply."""
    before = len(await _received(page))
    await page.fill("#text", text)
    async with page.expect_navigation():
        await page.click("#send")
    await page.wait_for_function(ARRIVED, arg={"sel": RECEIVED, "before": before, "words": list(words)},
                                 timeout=30_000)
    return next(t for t in (await _received(page))[before:] if any(w in t for w in words))


async def test_book_list_and_cancel_by_sms_on_the_simulated_phone(chromium, base_url):
    context = await chromium.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    page = await context.new_page()
    page.set_default_timeout(10_000)
    member = _register(base_url)
    try:
        await page.goto(base_url + "/c/demo/sms/simulator")
        assert "张伟 13800000001" in await page.inner_text("#pick")  # the demo members to pick from
        await page.fill("#phone", member["phone"])
        async with page.expect_navigation():
            await page.click("#use")
        assert "暂无短信" in await page.inner_text("#thread")
        await page.click("#example-1")  # tapping an example fills the text box, without leaving the page
        assert await page.input_value("#text") == f"预约*{member['name']}*明天*市一院*消化内科"

        # from the day after tomorrow on (tomorrow's may be past the cancellation time), the first
        # day 市一院 消化内科 has an open session
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
        reply = ""
        for ahead in range(2, 9):
            day: date = today + timedelta(days=ahead)
            reply = await _send(page, f"预约*{member['name']}*{day.month}月{day.day}日*市一院*消化内科",
                                "预约成功", "没有可预约的出诊")
            if "预约成功" in reply:
                break
        assert reply.startswith("【示例市预约挂号】预约成功：示例市第一人民医院") and "消化内科" in reply, reply
        ref = reply.split("预约号", 1)[1].split("，", 1)[0]
        assert f"取消请回复：取消 {ref}" in reply
        # the conversation fits the phone's width, the newest message at the bottom
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        bubbles = page.locator("#thread .msg")
        assert "预约成功" in await bubbles.nth(await bubbles.count() - 1).inner_text()

        await page.click("#example-2")
        assert await page.input_value("#text") == "查询"
        listed = await _send(page, "查询", "您的预约")
        assert ref in listed

        await page.click("#example-3")  # the page offers to cancel the member's next booking
        assert await page.input_value("#text") == f"取消 {ref}"
        cancelled = await _send(page, f"取消 {ref}", f"已取消预约{ref}", "取消未成功")
        assert cancelled.startswith(f"【示例市预约挂号】已取消预约{ref}"), cancelled
    finally:
        await context.close()
