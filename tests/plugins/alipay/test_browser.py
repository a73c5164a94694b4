"""Paying with Alipay in Chromium at phone size: the demo city served by ``guahao serve`` with
its online-payment hospital on the local Alipay gateway (real HTTP both ways).

Book → pay page → wap pay for the phone (the site's hint) → the fake cashier → pay → the
gateway posts its signed notify to the site → the signed return brings the member back to a
confirmed booking. The site is reached as ``localhost`` and the gateway as ``127.0.0.1``, so
the trips to Alipay and back are cross-site, as with the real one.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from datetime import date, timedelta

import httpx
import pytest

from tests.browser.server import CHROMIUM, CHROMIUM_ARGS, PHONE, ROOT, demo_server, have_chromium
from tests.fakes.alipay import FakeAlipay
from tests.plugins.web.conftest import KEY, csrf_of

needs_chromium = pytest.mark.skipif(not have_chromium(), reason="needs Chromium")

HOSPITAL_ID = 1  # the demo hospital switched to online payment
MEMBER, PASSWORD = "13800000001", "Demo-Pass-1234"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")


@pytest.fixture(scope="module")
def pay_site(tmp_path_factory, alipay_api: FakeAlipay):
    account = alipay_api.add_account()
    account.send_notifies = True
    workdir = tmp_path_factory.mktemp("browser-alipay")
    db = str(workdir / "browser.sqlite3")

    def prepare(env: dict) -> None:
        cli = [sys.executable, "-m", "guahao.core.cli"]
        subprocess.run([*cli, "migrate"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run(
            [*cli, "city", "plugin", "demo", "alipay", "--set", f"app_id={account.app_id}",
             "--set", f"gateway={alipay_api.gateway}", "--secret", f"app_private_key={account.app_private_key}",
             "--secret", f"alipay_public_key={account.alipay_public_key}"],
            cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
        )
        conn = sqlite3.connect(db)
        try:
            with conn:
                conn.execute("UPDATE hospitals SET payment_mode = 'online' WHERE id = ?", (HOSPITAL_ID,))
        finally:
            conn.close()

    with demo_server(workdir, prepare) as base:
        yield base.replace("127.0.0.1", "localhost"), base + "/api/v1/demo", account, db


def rows(db: str, sql: str, *args) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def open_session(api: str) -> tuple[int, int, int]:
    """A released session of the online-payment hospital, at least a day ahead, with an open
    period: ``(doctor, session, period)``."""
    tomorrow = date.today() + timedelta(days=1)
    for dept in httpx.get(f"{api}/hospitals/{HOSPITAL_ID}/departments").json()["items"]:
        for item in httpx.get(f"{api}/availability?department_id={dept['id']}").json()["items"]:
            open_periods = [p["period_id"] for p in item["periods"] if p["remaining"] > 0]
            if item["released"] and date.fromisoformat(item["date"]) >= tomorrow and open_periods:
                return item["doctor_id"], item["session_id"], open_periods[0]
    raise AssertionError("the online-payment hospital has no open session ahead")


@pytest.fixture
async def phone():
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, user_agent=IPHONE,
                                            locale="zh-CN")
        page = await context.new_page()
        page.set_default_timeout(15_000)
        yield page
        await browser.close()


@needs_chromium
async def test_pay_with_alipay_on_a_phone(phone, pay_site):
    base, api, account, db = pay_site
    page = phone
    doctor_id, session_id, _ = open_session(api)
    await page.goto(base + "/c/demo/login")
    await page.fill("#login", MEMBER)
    await page.fill("#password", PASSWORD)
    await page.click("#submit")
    await page.wait_for_selector("#member-name")
    await page.goto(base + f"/c/demo/doctors/{doctor_id}")
    await page.click(f"#session-{session_id} a[id^=period-] >> nth=0")
    await page.click("#confirm")
    await page.wait_for_url(re.compile(r"/bookings/[^/]+/pay$"))
    ref = (await page.inner_text("#booking-ref")).strip()
    amount = (await page.inner_text("#amount")).strip()

    await page.click("#pay")  # the site → Alipay's gateway (wap pay) → its cashier
    await page.wait_for_url(re.compile(r"/cashier/\d+/GH\d+_\w+$"))
    assert page.url.startswith("http://127.0.0.1:")
    assert (await page.inner_text("#kind")) == "手机网站支付"
    assert (await page.inner_text("#amount")) == amount
    trade = page.url.rsplit("/", 1)[1]
    assert account.trades[trade]["method"] == "alipay.trade.wap.pay"

    await page.click("#pay")  # pay: the gateway posts the notify, then sends the phone back
    await page.wait_for_url(re.compile(rf"/c/demo/bookings/{ref}/paid$"))
    assert page.url.startswith(base)
    assert await page.get_attribute("#booking", "data-state") == "paid"
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert [(status, text) for _, status, text in account.deliveries] == [(200, "success")]
    assert rows(db, "SELECT outcome FROM alipay_notifies WHERE out_trade_no = ?", trade) == [("confirmed",)]
    assert rows(db, "SELECT status, payment_status, payment_ref FROM bookings WHERE id = ?", ref) == [
        ("confirmed", "paid", trade)]


async def test_pay_over_real_http_as_a_phone_browser(pay_site):
    """The same trip without Chromium: a phone's requests, the served site, the gateway's notify."""
    base, api, account, db = pay_site
    _, _, period_id = open_session(api)
    site = base + "/c/demo/"
    async with httpx.AsyncClient(headers={"User-Agent": IPHONE}, timeout=30) as browser:
        login = await browser.get(site + "login")
        await browser.post(site + "login", data={"csrf": csrf_of(login.text), "login": "13800000002", "password": PASSWORD})
        confirm = await browser.get(site + f"book/{period_id}")
        booked = await browser.post(site + f"book/{period_id}", data={"csrf": csrf_of(confirm.text),
                                                                      "key": KEY.search(confirm.text).group(1)})
        assert booked.status_code == 303 and booked.headers["location"].endswith("/pay")
        ref = booked.headers["location"].rsplit("/", 2)[-2]
        pay_page = await browser.get(site + f"bookings/{ref}/pay")
        cashier = await browser.post(site + f"bookings/{ref}/pay", data={"csrf": csrf_of(pay_page.text)},
                                     follow_redirects=True)
        assert "手机网站支付" in cashier.text and str(cashier.url).startswith("http://127.0.0.1:")
        back = await browser.post(str(cashier.url), data={"action": "pay"}, follow_redirects=True)
        assert str(back.url) == site + f"bookings/{ref}/paid" and 'data-state="paid"' in back.text
    trade = str(cashier.url).rsplit("/", 1)[1]
    assert rows(db, "SELECT outcome FROM alipay_notifies WHERE out_trade_no = ?", trade) == [("confirmed",)]
    assert rows(db, "SELECT status, payment_status FROM bookings WHERE id = ?", ref) == [("confirmed", "paid")]
