"""The patient site inside WeChat's in-app browser, in Chromium: a follower opens the site from
the official account, WeChat's silent sign-in (the local WeChat, over real HTTP) brings the
openid back, one log-in binds it to the member, the booking confirmation then arrives as a
WeChat template message, and the booking is found and cancelled in the webview."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta

import httpx
import pytest

from tests.fakes.live import LiveServer
from tests.plugins.wechat_oa.conftest import WECHAT_UA
from tests.plugins.wechat_oa.fake import FakeWeChatServer

from .server import PHONE, ROOT, demo_server
from .test_payment import RELEASE_POOLS

MEMBER, PASSWORD = "13800000003", "Demo-Pass-1234"
TEMPLATE = "TPL-demo-confirmed"


class WeChatSite:
    def __init__(self, base: str, wechat: FakeWeChatServer, app_id: str, db: str):
        self.base, self.wechat, self.app_id, self.db = base, wechat, app_id, db

    def rows(self, sql: str, *args) -> list[tuple]:
        conn = sqlite3.connect(self.db)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def wechat_site(tmp_path_factory):
    wechat = FakeWeChatServer()
    with LiveServer(wechat.app) as server:
        wechat.url = server.url
        app_id, secret = wechat.add_app()
        wechat.templates.add(TEMPLATE)
        workdir = tmp_path_factory.mktemp("browser-wechat")

        def prepare(env: dict) -> None:
            def cli(*args: str) -> None:
                subprocess.run([sys.executable, "-m", "guahao.core.cli", *args], cwd=ROOT, env=env, check=True,
                               stdout=subprocess.DEVNULL)

            cli("city", "plugin", "demo", "wechat_oa", "--set", f"app_id={app_id}", "--set", f"endpoint={wechat.url}",
                "--set", f"oauth_endpoint={wechat.url}", "--secret", "token=demotoken123", "--secret", f"app_secret={secret}")
            templates = '{"booking_confirmed": {"template_id": "%s"}}' % TEMPLATE
            cli("city", "plugin", "demo", "wechat_template", "--set", f"app_id={app_id}", "--set", f"endpoint={wechat.url}",
                "--set", f"templates={templates}", "--secret", f"app_secret={secret}")
            subprocess.run([sys.executable, "-c", RELEASE_POOLS], cwd=ROOT, env=env, check=True)

        with demo_server(workdir, prepare) as base:
            yield WeChatSite(base, wechat, app_id, str(workdir / "browser.sqlite3"))


def _open_session(base: str) -> tuple[int, int]:
    """A released session at least three days ahead with an open period: (doctor, session)."""
    soon = date.today() + timedelta(days=3)
    api = base + "/api/v1/demo"
    for dept in httpx.get(api + "/hospitals/1/departments").json()["items"]:
        for item in httpx.get(api + f"/availability?department_id={dept['id']}").json()["items"]:
            if item["released"] and date.fromisoformat(item["date"]) >= soon and any(
                    p["remaining"] > 0 for p in item["periods"]):
                return item["doctor_id"], item["session_id"]
    raise AssertionError("the demo city has no open session three days ahead")


async def test_a_follower_signs_in_binds_once_and_gets_the_confirmation_on_wechat(chromium, wechat_site):
    site, openid = wechat_site, "o" + uuid.uuid4().hex[:27]
    site.wechat.openids.add(openid)  # a follower of the account
    context = await chromium.new_context(viewport=PHONE, is_mobile=True, locale="zh-CN", user_agent=WECHAT_UA,
                                         extra_http_headers={"X-WeChat-User": openid})
    page = await context.new_page()
    page.set_default_timeout(15_000)

    # Opened from the account's menu: through WeChat's sign-in and back to the home page.
    await page.goto(site.base + "/c/demo/")
    assert page.url.split("#", 1)[0] == site.base + "/c/demo/"  # the browser keeps #wechat_redirect, as WeChat's does
    signed_in = [a for a in site.wechat.authorized if a["appid"] == site.app_id]
    assert len(signed_in) == 1 and signed_in[0]["scope"] == "snsapi_base"

    # One log-in binds the openid to the member.
    await page.goto(site.base + "/c/demo/login")
    await page.fill("#login", MEMBER)
    await page.fill("#password", PASSWORD)
    await page.click("#submit")
    await page.wait_for_selector("#member-name")
    assert site.rows("SELECT wechat_openid FROM members WHERE phone = ?", MEMBER) == [(openid,)]
    assert len([a for a in site.wechat.authorized if a["appid"] == site.app_id]) == 1  # no second sign-in

    # The site works in the webview: book, and the confirmation comes as a template message.
    doctor_id, session_id = _open_session(site.base)
    await page.goto(site.base + f"/c/demo/doctors/{doctor_id}")
    await page.click(f"#session-{session_id} a[id^=period-] >> nth=0")
    await page.click("#confirm")
    await page.wait_for_url(re.compile(r"/c/demo/bookings/"))
    ref = (await page.inner_text("#booking-ref")).strip()
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    deadline = time.monotonic() + 60
    while not [m for m in site.wechat.sent if m["touser"] == openid] and time.monotonic() < deadline:
        await page.wait_for_timeout(250)
    [sent] = [m for m in site.wechat.sent if m["touser"] == openid]
    assert sent["template_id"] == TEMPLATE and ref in sent["data"]["content"]["value"]

    # Query and cancel in the webview too.
    await page.goto(site.base + "/c/demo/bookings")
    assert await page.locator(f"#booking-{ref}").count() == 1
    await page.goto(site.base + f"/c/demo/bookings/{ref}")
    await page.click("#cancel")
    await page.click("#confirm-cancel")
    await page.goto(site.base + f"/c/demo/bookings/{ref}")
    assert "取消" in await page.inner_text("#booking-status")
    await context.close()
