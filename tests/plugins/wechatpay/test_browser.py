"""Paying with WeChat Pay in a real browser (Chromium, phone size and desktop) against the demo
city served by ``guahao serve``, with the local fake WeChat Pay over real HTTP: the fake signs
and encrypts its notification and posts it to the app, whose page then moves on by itself.

- Phone: book → pay → WeChat Pay's H5 page (the fake's cashier) → confirm → back, confirmed.
- Desktop: book → pay → a QR code with the amount → the member "scans" it on a phone (opens the
  code's address) and confirms → the desktop page's poll sees the booking confirmed.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, timedelta

import httpx
import pytest

from tests.browser.server import CHROMIUM, CHROMIUM_ARGS, DESKTOP, PHONE, ROOT, demo_server, have_chromium
from tests.fakes.wechatpay import FakeWeChatPay, Merchant

pytestmark = pytest.mark.skipif(not have_chromium(), reason="needs Chromium")

HOSPITAL_ID = 1  # the demo hospital switched to online payment
MEMBERS = {"phone": "13800000001", "desktop": "13800000002"}
PASSWORD = "Demo-Pass-1234"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.0 Mobile/15E148 Safari/604.1")
RELEASE_POOLS = """
import asyncio
from guahao.core.jobs.periodic import release_pools
from guahao.core.runtime import Runtime
from guahao.tenants.settings import Settings

async def main():
    rt = Runtime(Settings.from_env())
    await rt.start()
    try:
        await release_pools(rt)
    finally:
        await rt.stop()

asyncio.run(main())
"""


@dataclass
class WxSite:
    base: str
    api: str
    merchant: Merchant
    db: str

    def rows(self, sql: str, *args) -> list[tuple]:
        conn = sqlite3.connect(self.db)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def wx_site(tmp_path_factory, wechatpay_api: FakeWeChatPay):
    merchant = wechatpay_api.add_merchant()
    workdir = tmp_path_factory.mktemp("browser-wechatpay")
    db = str(workdir / "browser.sqlite3")

    def prepare(env: dict) -> None:
        args = [f"{k}={v}" for k, v in merchant.settings(wechatpay_api.url).items()]
        secrets = [f"{k}={v}" for k, v in merchant.secrets().items()]
        subprocess.run([sys.executable, "-m", "guahao.core.cli", "city", "plugin", "demo", "wechatpay",
                        *[x for a in args for x in ("--set", a)], *[x for s in secrets for x in ("--secret", s)]],
                       cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        conn = sqlite3.connect(db)
        try:
            with conn:
                conn.execute("UPDATE hospitals SET payment_mode = 'online' WHERE id = ?", (HOSPITAL_ID,))
        finally:
            conn.close()
        subprocess.run([sys.executable, "-c", RELEASE_POOLS], cwd=ROOT, env=env, check=True)

    with demo_server(workdir, prepare) as base:
        yield WxSite(base.replace("127.0.0.1", "localhost"), base + "/api/v1/demo", merchant, db)


class Browser:
    """Chromium whose contexts report what the pages' Content-Security-Policy refused."""

    def __init__(self, chromium):
        self.chromium = chromium
        self.violations: list[str] = []

    async def new_context(self, **options):
        context = await self.chromium.new_context(**options)
        context.on("console", lambda m: self.violations.append(m.text)
                   if m.type == "error" and "Content Security Policy" in m.text else None)
        return context


@pytest.fixture(scope="module")
async def browser():
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        watched = Browser(chromium)
        yield watched
        await chromium.close()
        assert watched.violations == [], "the Content-Security-Policy refused something"


def _session(site: WxSite, index: int) -> tuple[int, int]:
    """A released session of the online-payment hospital at least a day ahead with an open period."""
    found = []
    tomorrow = date.today() + timedelta(days=1)
    for dept in httpx.get(f"{site.api}/hospitals/{HOSPITAL_ID}/departments").json()["items"]:
        for item in httpx.get(f"{site.api}/availability?department_id={dept['id']}").json()["items"]:
            if item["released"] and date.fromisoformat(item["date"]) >= tomorrow and any(
                    p["remaining"] > 0 for p in item["periods"]):
                found.append((item["doctor_id"], item["session_id"]))
                break
        if len(found) > index:
            return found[index]
    raise AssertionError("the online-payment hospital has no open session ahead")


async def _login_and_book(page, site: WxSite, who: str, index: int) -> str:
    await page.goto(site.base + "/c/demo/login")
    await page.fill("#login", MEMBERS[who])
    await page.fill("#password", PASSWORD)
    await page.click("#submit")
    await page.wait_for_selector("#member-name")
    doctor_id, session_id = _session(site, index)
    await page.goto(site.base + f"/c/demo/doctors/{doctor_id}")
    await page.click(f"#session-{session_id} a[id^=period-] >> nth=0")
    await page.click("#confirm")
    await page.wait_for_url(re.compile(r"/bookings/[^/]+/pay$"))
    return (await page.inner_text("#booking-ref")).strip()


async def test_a_phone_pays_on_wechat_pays_h5_page(browser, wx_site):
    site = wx_site
    context = await browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, user_agent=IPHONE)
    page = await context.new_page()
    page.set_default_timeout(15_000)
    try:
        ref = await _login_and_book(page, site, "phone", 0)
        amount = (await page.inner_text("#amount")).strip()
        await page.click("#pay")
        await page.wait_for_url(re.compile(r"/pay/[\w-]+\?prepay_id="))
        assert page.url.startswith("http://127.0.0.1:") and amount in await page.inner_text("#amount")
        await page.click("#confirm")  # the fake signs, encrypts and posts the notice, then sends the member back
        await page.wait_for_url(re.compile(rf"/c/demo/bookings/{ref}/paid$"))
        assert await page.get_attribute("#booking", "data-state") == "paid"
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        assert site.rows("SELECT event_type, outcome FROM wechatpay_notifications WHERE booking_id = ?", ref) == [
            ("TRANSACTION.SUCCESS", "confirmed")]
        assert site.rows("SELECT status, payment_status, payment_ref FROM bookings WHERE id = ?", ref) == [
            ("confirmed", "paid", f"{ref}_H")]
    finally:
        await context.close()


async def test_a_desktop_shows_a_qr_code_and_moves_on_once_paid(browser, wx_site):
    site = wx_site
    context = await browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = await context.new_page()
    page.set_default_timeout(15_000)
    try:
        ref = await _login_and_book(page, site, "desktop", 1)
        await page.click("#pay")
        await page.wait_for_selector("#qr svg")
        box = await page.locator("#qr svg").bounding_box()
        assert box and box["width"] >= 150 and box["width"] == box["height"]
        assert "支付完成后本页自动更新" in await page.inner_text("#qr-status")
        assert re.search(r"¥\d+\.\d\d", await page.inner_text("#qr"))
        await page.wait_for_timeout(3500)  # a poll or two while unpaid: the page stays
        assert "/pay" in page.url and await page.locator("#qr svg").count() == 1

        code_url = site.merchant.orders[f"{ref}_N"]["answer"]["code_url"]
        phone = await browser.new_context(viewport=PHONE, is_mobile=True, user_agent=IPHONE)
        scanner = await phone.new_page()
        await scanner.goto(code_url)  # what scanning the code opens
        await scanner.click("#confirm")
        await scanner.wait_for_selector("#paid")
        await phone.close()

        await page.wait_for_url(re.compile(rf"/c/demo/bookings/{ref}/paid$"), timeout=15_000)
        assert await page.get_attribute("#booking", "data-state") == "paid"
        assert site.rows("SELECT status, payment_status FROM bookings WHERE id = ?", ref) == [("confirmed", "paid")]
    finally:
        await context.close()


WECHAT_UA = IPHONE + " MicroMessenger/8.0.50(0x1800323c) NetType/WIFI Language/zh_CN"
# WeChat's in-app browser gives pages a WeixinJSBridge; this one records the call and waits for
# the test to finish the payment before answering, as WeChat's pay sheet does.
BRIDGE = """
window.WeixinJSBridge = {invoke: function (name, params, done) {
  window.__wx = {name: name, params: params};
  window.__wxDone = function () { done({err_msg: "get_brand_wcpay_request:ok"}); };
}};
"""


async def test_inside_wechat_the_pay_sheet_opens_with_signed_parameters(browser, wx_site, wechatpay_api):
    site = wx_site
    conn = sqlite3.connect(site.db)
    try:
        with conn:
            conn.execute("UPDATE members SET wechat_openid = 'o_demo_member' WHERE phone = ?", (MEMBERS["phone"],))
    finally:
        conn.close()
    context = await browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, user_agent=WECHAT_UA)
    await context.add_init_script(BRIDGE)
    page = await context.new_page()
    page.set_default_timeout(15_000)
    try:
        ref = await _login_and_book(page, site, "phone", 2)
        await page.click("#pay")
        await page.wait_for_selector("#jsapi", state="attached")
        for _ in range(150):  # the pay sheet opens once the page's own script ran (evaluated over CDP, not eval)
            if await page.evaluate("window.__wx !== undefined"):
                break
            await asyncio.sleep(0.1)
        call = await page.evaluate("window.__wx")
        order = site.merchant.orders[f"{ref}_J"]
        assert call["name"] == "getBrandWCPayRequest" and order["request"]["payer"] == {"openid": "o_demo_member"}
        assert call["params"]["package"] == f"prepay_id={order['prepay_id']}" and call["params"]["signType"] == "RSA"
        body, headers = wechatpay_api.pay(site.merchant.mchid, f"{ref}_J")  # the member pays in the sheet
        await wechatpay_api.deliver(body, headers, order["request"]["notify_url"])
        await page.evaluate("window.__wxDone()")
        await page.wait_for_url(re.compile(rf"/c/demo/bookings/{ref}/paid$"))
        assert await page.get_attribute("#booking", "data-state") == "paid"
        assert site.rows("SELECT outcome FROM wechatpay_notifications WHERE booking_id = ?", ref) == [("confirmed",)]
    finally:
        await context.close()
