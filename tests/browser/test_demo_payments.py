"""Online payment in the served demo, in Chromium: ``guahao demo --port N`` (what `make demo
PORT=N` runs) serves the demo city with its WeChat Pay and Alipay practice gateways under
``/practice/…``; a demo member books at a hospital of each, pays on the practice cashier page,
the gateway posts its signed (and for WeChat Pay, encrypted) notification to the plugin's
notify route by real HTTP, and the booking shows it paid (支付成功, 已在线支付).
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from datetime import date, timedelta

import httpx
import pytest

from guahao.core.demo.data import PRACTICE_PAYMENTS
from guahao.tenants.rate_limits import DEFAULT_RATE_LIMITS, scope_of

from .server import DESKTOP, PHONE, ROOT, START_SECONDS, _free_port

PASSWORD = "Demo-Pass-1234"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")


class Demo:
    def __init__(self, base: str, db: str):
        self.base, self.db = base, db
        self.api = base + "/api/v1/demo"

    def rows(self, sql: str, *args) -> list[tuple]:
        conn = sqlite3.connect(self.db)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def hospital(self, code: str) -> int:
        return self.rows("SELECT id FROM hospitals WHERE code = ?", code)[0][0]

    def session(self, code: str) -> tuple[int, int]:
        """A released session of the hospital at least a day ahead with an open period."""
        tomorrow = date.today() + timedelta(days=1)
        for dept in httpx.get(f"{self.api}/hospitals/{self.hospital(code)}/departments").json()["items"]:
            for item in httpx.get(f"{self.api}/availability?department_id={dept['id']}").json()["items"]:
                if item["released"] and date.fromisoformat(item["date"]) >= tomorrow and any(
                        p["remaining"] > 0 for p in item["periods"]):
                    return item["doctor_id"], item["session_id"]
        raise AssertionError(f"{code} has no open session ahead")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """``guahao demo`` on a SQLite file of its own, served on a free port (the `make demo` way)."""
    workdir = tmp_path_factory.mktemp("demo-payments")
    db = str(workdir / "demo.sqlite3")
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{db}", "REDIS_URL": "",
           "GUAHAO_AVAILABILITY_CACHE_SECONDS": "0",
           "GUAHAO_RATE_LIMITS": ",".join(f"{rule}=100000/minute" for rule in DEFAULT_RATE_LIMITS
                                          if scope_of(rule) == "ip")}
    env.pop("GUAHAO_PUBLIC_BASE_URL", None)
    port = _free_port()
    log = workdir / "demo.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "guahao.core.cli", "demo", "--port", str(port), "--days", "3"],
                                cwd=ROOT, env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(f"the demo did not start:\n{log.read_text()[-4000:]}")
            time.sleep(0.2)
        printed = log.read_text()
        assert f"{base}/practice/wechatpay/" in printed and f"{base}/practice/alipay/" in printed
        yield Demo(base, db)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def _book(page, demo: Demo, phone: str, hospital: str) -> str:
    """Log in as a demo member and hold a slot of ``hospital``; returns the booking's reference."""
    await page.goto(demo.base + "/c/demo/login")
    await page.fill("#login", phone)
    await page.fill("#password", PASSWORD)
    await page.click("#submit")
    await page.wait_for_selector("#member-name")
    doctor_id, session_id = demo.session(hospital)
    await page.goto(demo.base + f"/c/demo/doctors/{doctor_id}")
    await page.click(f"#session-{session_id} a[id^=period-] >> nth=0")
    await page.click("#confirm")
    await page.wait_for_url(re.compile(r"/bookings/[^/]+/pay$"))
    return (await page.inner_text("#booking-ref")).strip()


async def test_wechat_pay_by_qr_code_on_a_computer(chromium, demo):
    hospital = PRACTICE_PAYMENTS["wechatpay"][0]
    context = await chromium.new_context(viewport=DESKTOP, locale="zh-CN")
    page = await context.new_page()
    page.set_default_timeout(15_000)
    try:
        ref = await _book(page, demo, "13800000001", hospital)
        await page.click("#pay")
        await page.wait_for_selector("#qr svg")
        assert await page.get_attribute("#qr", "data-provider") == "wechatpay"
        amount = re.search(r"¥\d+\.\d\d", await page.inner_text("#qr")).group(0)

        # Scanning the code: the practice gateway lists the order the code points at.
        scanner = await context.new_page()
        await scanner.goto(demo.base + "/practice/wechatpay/")
        await scanner.click(f"#order-{ref}_N")
        await scanner.wait_for_selector("#confirm")
        assert await scanner.inner_text("#amount") == amount
        assert await scanner.inner_text("#cancel") == "取消"
        await scanner.click("#confirm")  # 确认支付: signed, encrypted notification to the demo's notify route
        await scanner.wait_for_selector("#paid")

        await page.wait_for_url(re.compile(rf"/c/demo/bookings/{ref}/paid$"), timeout=15_000)  # the QR page's poll
        assert await page.get_attribute("#booking", "data-state") == "paid"
        assert "支付成功" in await page.inner_text("#notice")
        await page.goto(demo.base + f"/c/demo/bookings/{ref}")
        assert "已在线支付" in await page.inner_text("#fee")  # the booking shows it paid
        assert demo.rows("SELECT event_type, outcome FROM wechatpay_notifications WHERE booking_id = ?", ref) == [
            ("TRANSACTION.SUCCESS", "confirmed")]
        assert demo.rows("SELECT status, payment_status, payment_provider FROM bookings WHERE id = ?", ref) == [
            ("confirmed", "paid", "wechatpay")]
    finally:
        await context.close()


async def test_wechat_pay_on_a_phone_goes_to_the_cashier_and_back(chromium, demo):
    hospital = PRACTICE_PAYMENTS["wechatpay"][-1]
    context = await chromium.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, user_agent=IPHONE)
    page = await context.new_page()
    page.set_default_timeout(15_000)
    try:
        ref = await _book(page, demo, "13800000003", hospital)
        await page.click("#pay")  # H5: straight to the practice cashier
        await page.wait_for_url(re.compile(r"/practice/wechatpay/pay/[\w-]+\?prepay_id="))
        await page.click("#confirm")
        await page.wait_for_url(re.compile(rf"/c/demo/bookings/{ref}/paid$"))
        assert await page.get_attribute("#booking", "data-state") == "paid"
        assert demo.rows("SELECT outcome FROM wechatpay_notifications WHERE booking_id = ?", ref) == [("confirmed",)]
    finally:
        await context.close()


async def test_alipay_page_pay_on_a_computer(chromium, demo):
    hospital = PRACTICE_PAYMENTS["alipay"][0]
    context = await chromium.new_context(viewport=DESKTOP, locale="zh-CN")
    page = await context.new_page()
    page.set_default_timeout(15_000)
    try:
        ref = await _book(page, demo, "13800000002", hospital)
        amount = (await page.inner_text("#amount")).strip()
        await page.click("#pay")  # page pay: the signed request opens the practice cashier
        await page.wait_for_url(re.compile(r"/practice/alipay/cashier/\d+/GH\d+_\w+$"))
        assert await page.inner_text("#kind") == "电脑网站支付"
        assert (await page.inner_text("#amount")) in amount
        trade = page.url.rsplit("/", 1)[1]
        await page.click("#pay")  # 确认支付: the signed notify goes to the demo, then the signed return
        await page.wait_for_url(re.compile(rf"/c/demo/bookings/{ref}/paid$"))
        assert await page.get_attribute("#booking", "data-state") == "paid"
        assert demo.rows("SELECT outcome FROM alipay_notifies WHERE out_trade_no = ?", trade) == [("confirmed",)]
        assert demo.rows("SELECT status, payment_status, payment_provider FROM bookings WHERE id = ?", ref) == [
            ("confirmed", "paid", "alipay")]
    finally:
        await context.close()
