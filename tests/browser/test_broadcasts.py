"""Broadcasts in a real browser, at phone size and on a desktop: compose a notice for one
session (the length counter counts as it is typed), preview the counts, send, and watch every
recipient's status arrive — SMS into the demo's message log, the voice call at a local Twilio
Calls API that checks the account's credentials. The phone is a hospital administrator, the
desktop the city administrator choosing the hospital."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from guahao.core.demo.data import PLUGINS
from guahao.core.demo.staff import PASSWORD
from tests.fakes.live import LiveServer
from tests.fakes.twilio_calls import FakeTwilioCalls

from .server import DESKTOP, PHONE, ROOT, demo_server

# Run before serving: calls go to the local Calls API (the message log keeps SMS, WeChat and
# e-mail), and two demo members are booked into each of two sessions of 市一院 (SY01).
PREPARE = """
import asyncio, json, sys
from datetime import timedelta
from sqlalchemy import func, select
from guahao.core.booking import engine
from guahao.core.broadcasts import BOOKED
from guahao.core.jobs.periodic import release_pools
from guahao.core.models import Booking, ClinicSession, Hospital, Member, Period
from guahao.core.runtime import Runtime
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from guahao.tenants.service import configure_plugin, get_city
from guahao.tenants.settings import Settings

async def main():
    conf = json.loads(sys.argv[2])
    rt = Runtime(Settings.from_env())
    await rt.start()
    try:
        await release_pools(rt)
        city = await get_city(rt.db, "demo")
        await configure_plugin(rt.db, city, "ivr", settings=conf["ivr"], secrets={"auth_token": conf["token"]})
        await configure_plugin(rt.db, city, "message_log", settings=conf["message_log"])
        with use_city(city):
            async with rt.db.transaction() as s:
                sy01 = await s.scalar(select(Hospital.id).where(Hospital.code == "SY01"))
                soon = utcnow() + timedelta(hours=20)
                sessions = (await s.scalars(select(ClinicSession).where(
                    ClinicSession.hospital_id == sy01, ClinicSession.status == "open",
                    ClinicSession.release_at <= utcnow(), ClinicSession.starts_at > soon)
                    .order_by(ClinicSession.starts_at, ClinicSession.id).limit(8))).all()
                members = list((await s.scalars(select(Member).where(Member.notifications_opt_out.is_(False))
                                                .order_by(Member.id).limit(12))).all())
            out = {"hospital": sy01, "sessions": []}
            used = set()
            for cs in sessions:
                if len(out["sessions"]) == 2:
                    break
                booked = 0
                for m in members:
                    if m.id in used or booked == 2:
                        continue
                    async with rt.db.transaction() as s:
                        periods = (await s.scalars(select(Period.id).where(Period.session_id == cs.id)
                                                   .order_by(Period.start.desc()))).all()
                        try:
                            await engine.reserve(s, member_id=m.id, period_id=periods[0], channel="web")
                        except Exception:
                            continue
                    used.add(m.id)
                    booked += 1
                async with rt.db.transaction() as s:
                    rows = (await s.execute(select(Member.notifications_opt_out, func.count()).join(
                        Booking, Booking.member_id == Member.id).where(
                        Booking.session_id == cs.id, Booking.status.in_(BOOKED)).group_by(
                        Member.notifications_opt_out))).all()
                counts = {bool(k): n for k, n in rows}
                out["sessions"].append({"id": cs.id, "day": cs.date.isoformat(), "members": sum(counts.values()),
                                        "opted_out": counts.get(True, 0)})
        json.dump(out, open(sys.argv[1], "w"))
    finally:
        await rt.stop()

asyncio.run(main())
"""
TEXT = "因王医生外出会诊，本次门诊停诊，请改约其他医生或日期。给您带来不便，敬请谅解。"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> dict:
    workdir = tmp_path_factory.mktemp("browser-broadcasts")
    facts = workdir / "facts.json"
    twilio = FakeTwilioCalls()
    with LiveServer(twilio.app) as calls:
        sid, token = twilio.add_account(caller="+861012320")
        conf = {"token": token,
                "ivr": {**PLUGINS["ivr"], "account_sid": sid, "caller_number": "+861012320", "api_base": calls.url},
                "message_log": {**PLUGINS["message_log"], "channels": ["sms", "wechat", "email"]}}

        def prepare(env: dict) -> None:
            subprocess.run([sys.executable, "-c", PREPARE, str(facts), json.dumps(conf)], cwd=ROOT, env=env,
                           check=True)

        with demo_server(workdir, prepare) as base:
            yield {"base": base, "twilio": twilio, "sid": sid, **json.loads(facts.read_text())}


@pytest.fixture(params=[("phone", PHONE), ("desktop", DESKTOP)], ids=["phone", "desktop"])
async def screen(request, chromium):
    name, viewport = request.param
    context = await chromium.new_context(viewport=viewport, locale="zh-CN", is_mobile=name == "phone",
                                         has_touch=name == "phone")
    pg = await context.new_page()
    pg.set_default_timeout(15_000)
    yield name, pg
    await context.close()


async def _fits(page) -> bool:
    return await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


async def test_compose_preview_send_and_follow_the_statuses(screen, site):
    name, page = screen
    base = site["base"]
    session = site["sessions"][0 if name == "phone" else 1]
    assert session["members"] >= 2
    await page.goto(base + "/console/c/demo/login")
    await page.fill("#username", "sy01.admin" if name == "phone" else "admin")
    await page.fill("#password", PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_url(base + "/console/c/demo/")
    await page.goto(base + "/console/c/demo/broadcasts")
    await page.click("#new-broadcast")
    await page.wait_for_url("**/broadcasts/new")
    if name == "desktop":
        await page.select_option("#f-hospital", str(site["hospital"]))
    await page.fill("#f-day", session["day"])
    await page.click("#show-day")
    await page.wait_for_selector(f"#aud-session-{session['id']}")
    assert await _fits(page)
    await page.check(f"#aud-session-{session['id']}")
    await page.fill("#f-text", TEXT)
    assert await page.get_attribute("#text-count", "data-count") == str(len(TEXT))
    assert "已输入" in await page.inner_text("#text-count")
    await page.check("#ch-sms")
    await page.check("#ch-voice")
    await page.click("#broadcast-preview")
    await page.wait_for_selector("#broadcast-preview-title")
    reached = session["members"] - session["opted_out"]
    assert await page.inner_text("#preview-members") == str(session["members"])
    assert await page.inner_text("#preview-opted-out") == str(session["opted_out"])
    assert await page.inner_text("#count-voice .reach") == str(reached)
    assert await _fits(page)

    await page.click("#broadcast-confirm")
    await page.wait_for_url(re.compile(r"/broadcasts/\d+$"))
    assert str(session["members"]) in await page.inner_text("#flash")
    for _ in range(60):  # the embedded outbox runner sends within seconds
        if await page.inner_text("#total-voice [data-status=sent]") == str(reached) and \
                await page.inner_text("#total-sms [data-status=sent]") == str(reached):
            break
        await page.wait_for_timeout(500)
        await page.reload()
    assert await page.inner_text("#total-sms [data-status=sent]") == str(reached)
    assert await page.inner_text("#total-voice [data-status=sent]") == str(reached)
    assert await page.locator("#broadcast-recipients tbody tr").count() == session["members"]
    assert "****" in await page.inner_text("#broadcast-recipients tbody tr >> nth=0")
    assert await _fits(page)
    broadcast = page.url.rsplit("/", 1)[1]
    spoken = [c for c in site["twilio"].calls_of(site["sid"]) if TEXT in c["says"][0]["text"]]
    assert len(spoken) >= reached and all(c["says"][0]["language"] == "zh-CN" for c in spoken)

    await page.goto(base + "/console/c/demo/broadcasts")
    assert await page.is_visible(f"#broadcast-{broadcast}")
