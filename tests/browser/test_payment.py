"""Paying a booking online in a real browser: a demo hospital takes its fees through Stripe
(the local fake Stripe, its hosted checkout page and its signed webhook over real HTTP).

Book → the pay page (amount, deadline) → Stripe's page → pay → Stripe calls the app's webhook
→ back on the site, confirmed; or leave Stripe's page unpaid and come back to the pay page with
a notice. On a phone and a desktop, in Chinese and in English.

The site is reached as ``localhost`` and the fake Stripe as ``127.0.0.1``, so going to the
checkout page and coming back are cross-site navigations, as they are with the real Stripe.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.fakes.stripe import Account, FakeStripe

from .server import ROOT, demo_server

HOSPITAL_ID = 1  # the demo hospital switched to online payment
MEMBERS = {360: "13800000001", 1280: "13800000002"}  # one per viewport: they hold one slot each per flow
PASSWORD = "Demo-Pass-1234"
TZ = ZoneInfo("Asia/Shanghai")
HOLD_MINUTES = 15  # the demo city's rule


# Run before serving, as the worker would have: the demo seed leaves ~2000 reserved pools past
# their release time, and releasing them in the first server's background loop holds SQLite's
# write lock for half a minute, during which every page waits.
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


class PaySite:
    """The demo city served with Stripe configured against the fake; ``account`` is the
    city's Stripe account on the fake, ``db`` the server's SQLite file."""

    def __init__(self, base: str, api: str, account: Account, db: str):
        self.base, self.api, self.account, self.db = base, api, account, db

    def rows(self, sql: str, *args) -> list[tuple]:
        conn = sqlite3.connect(self.db)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def pay_site(tmp_path_factory, stripe_api: FakeStripe) -> PaySite:  # noqa: F811
    account = stripe_api.add_account()
    workdir = tmp_path_factory.mktemp("browser-pay")
    db = str(workdir / "browser.sqlite3")

    def prepare(env: dict) -> None:
        subprocess.run(
            [sys.executable, "-m", "guahao.core.cli", "city", "plugin", "demo", "stripe",
             "--set", f"api_base={stripe_api.url}", "--set", "currency=cny", "--set", "max_network_retries=0",
             "--secret", f"secret_key={account.secret_key}", "--secret", f"webhook_secret={account.webhook_secret}"],
            cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
        )
        conn = sqlite3.connect(db)
        try:
            with conn:
                conn.execute("UPDATE hospitals SET payment_mode = 'online' WHERE id = ?", (HOSPITAL_ID,))
        finally:
            conn.close()
        subprocess.run([sys.executable, "-c", RELEASE_POOLS], cwd=ROOT, env=env, check=True)

    with demo_server(workdir, prepare) as base:
        account.webhook_url = base + "/c/demo/plugins/stripe/webhook"
        yield PaySite(base.replace("127.0.0.1", "localhost"), base + "/api/v1/demo", account, db)


def _sessions(site: PaySite) -> list[tuple[int, int]]:
    """Two released sessions of the online-payment hospital, at least a day ahead, in two
    departments, each with two open periods: ``[(doctor, session), …]``."""
    found: list[tuple[int, int]] = []
    tomorrow = date.today() + timedelta(days=1)
    for dept in httpx.get(f"{site.api}/hospitals/{HOSPITAL_ID}/departments").json()["items"]:
        for item in httpx.get(f"{site.api}/availability?department_id={dept['id']}").json()["items"]:
            if (item["released"] and date.fromisoformat(item["date"]) >= tomorrow
                    and sum(p["remaining"] > 0 for p in item["periods"]) >= 2):
                found.append((item["doctor_id"], item["session_id"]))
                break
        if len(found) == 2:
            return found
    raise AssertionError("the online-payment hospital has no two open sessions ahead")


async def _login(page, site: PaySite) -> None:
    await page.goto(site.base + "/c/demo/login")
    await page.fill("#login", MEMBERS[page.viewport_size["width"]])
    await page.fill("#password", PASSWORD)
    await page.click("#submit")
    await page.wait_for_selector("#member-name")


async def _book(page, site: PaySite, doctor_id: int, session_id: int) -> str:
    """Book the first open period of the session; returns the booking number from the pay page."""
    await page.goto(site.base + f"/c/demo/doctors/{doctor_id}")
    await page.click(f"#session-{session_id} a[id^=period-] >> nth=0")
    await page.click("#confirm")
    await page.wait_for_url(re.compile(r"/bookings/[^/]+/pay$"))
    return (await page.inner_text("#booking-ref")).strip()


async def _fits(page) -> bool:
    """No sideways scrolling at this viewport."""
    return await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


async def test_pay_on_stripe_and_come_back_confirmed(page, pay_site):
    site = pay_site
    doctor_id, session_id = _sessions(site)[0]
    await _login(page, site)
    ref = await _book(page, site, doctor_id, session_id)

    # The pay page: what is owed and until when the slot is held.
    amount = (await page.inner_text("#amount")).strip()
    assert re.fullmatch(r"¥\d+\.\d\d", amount)
    hold = await page.inner_text("#hold")
    deadline = datetime.strptime(re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", hold).group(0), "%Y-%m-%d %H:%M")
    left = deadline.replace(tzinfo=TZ) - datetime.now(TZ)
    assert timedelta(minutes=HOLD_MINUTES - 2) < left <= timedelta(minutes=HOLD_MINUTES)
    assert "支付" in await page.inner_text("h1")
    assert await _fits(page)

    # Stripe's hosted page shows the same amount and what is paid for.
    await page.click("#pay")
    await page.wait_for_url(re.compile(r"/pay/cs_test_\w+$"))
    assert page.url.startswith("http://127.0.0.1:")
    assert f"{amount[1:]} CNY" in await page.inner_text("h1")
    sid = page.url.rsplit("/", 1)[1]
    assert ref in site.account.sessions[sid]["metadata"]["booking_ref"]

    # Paying: Stripe signs the event, posts it to the webhook, then sends the member back.
    await page.click("#pay")
    await page.wait_for_url(re.compile(rf"/c/demo/bookings/{ref}/paid\?session_id={sid}$"))
    assert page.url.startswith(site.base)
    assert await page.get_attribute("#booking", "data-state") == "paid"
    assert "支付成功" in await page.inner_text("#notice")
    assert "已确认" in await page.inner_text("#booking-status") or "确认" in await page.inner_text("#notice")
    assert "身份证" in await page.inner_text("#bring")
    assert await _fits(page)

    # The webhook (not a question to Stripe on the way back) confirmed it.
    delivered = [e for e, _, _ in site.account.events if e["data"]["object"].get("id") == sid]
    assert [e["type"] for e in delivered] == ["checkout.session.completed"]
    assert site.rows("SELECT type, outcome FROM stripe_webhook_events WHERE booking_id = ?", ref) == [
        ("checkout.session.completed", "confirmed")
    ]
    assert not [r for r in site.account.requests if r[0] == "GET" and r[1].endswith(sid)]
    assert site.rows("SELECT status, payment_status, payment_ref FROM bookings WHERE id = ?", ref) == [
        ("confirmed", "paid", sid)
    ]

    await page.goto(site.base + f"/c/demo/bookings/{ref}")
    assert "在线支付" in await page.inner_text("#fee")
    assert await page.locator("#pay").count() == 0


async def test_leave_stripe_unpaid_and_come_back_to_pay(page, pay_site):
    site = pay_site
    doctor_id, session_id = _sessions(site)[1]
    await page.goto(site.base + "/c/demo/")
    await page.click("#lang-en")
    await _login(page, site)
    ref = await _book(page, site, doctor_id, session_id)
    assert "Pay the registration fee" in await page.inner_text("h1")
    assert "held for you until" in await page.inner_text("#hold")
    assert await page.locator("#notice").count() == 0

    await page.click("#pay")
    await page.wait_for_url(re.compile(r"/pay/cs_test_\w+$"))
    checkout = page.url
    await page.click("#back")  # leave Stripe's page without paying
    await page.wait_for_url(re.compile(rf"/c/demo/bookings/{ref}/pay\?cancelled=1$"))
    assert "without paying" in await page.inner_text("#notice")
    assert "Pay the registration fee" in await page.inner_text("h1")
    assert await _fits(page)
    assert site.rows("SELECT status, payment_status FROM bookings WHERE id = ?", ref) == [("pending_payment", "unpaid")]

    # Trying again opens the same checkout, not a second payment.
    await page.click("#pay")
    await page.wait_for_url(re.compile(r"/pay/cs_test_\w+$"))
    assert page.url == checkout
    await page.go_back()

    # My bookings lists the held booking with a way to pay it.
    await page.goto(site.base + "/c/demo/bookings")
    assert await page.locator(f"#pay-{ref}").count() == 1
