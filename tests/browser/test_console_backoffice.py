"""A hospital scheduler in a real browser, on a laptop (1280x800) and a tablet (820x1180):
open a session of the hospital, check a patient in, preview a suspension that names the
affected patients, confirm it; another hospital's session answers 404."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from guahao.core.demo.staff import PASSWORD

from .server import ROOT, demo_server

LAPTOP = {"width": 1280, "height": 800}
TABLET = {"width": 820, "height": 1180}

# Run before serving: release the reserved pools due (as the worker would; see test_payment),
# then book two demo members into each of two sessions of 市一院 (SY01), one session per
# viewport, and name a session of 中心医院 (SY02).
PREPARE = """
import asyncio, json, sys
from datetime import timedelta
from sqlalchemy import select
from guahao.core.booking import engine
from guahao.core.jobs.periodic import release_pools
from guahao.core.models import ClinicSession, Hospital, Member, Period
from guahao.core.runtime import Runtime
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from guahao.tenants.service import get_city
from guahao.tenants.settings import Settings

async def main():
    rt = Runtime(Settings.from_env())
    await rt.start()
    try:
        await release_pools(rt)
        city = await get_city(rt.db, "demo")
        with use_city(city):
            async with rt.db.transaction() as s:
                ids = {h.code: h.id for h in (await s.scalars(select(Hospital))).all()}
                soon = utcnow() + timedelta(hours=20)
                def ahead(code):
                    return (select(ClinicSession).where(ClinicSession.hospital_id == ids[code],
                            ClinicSession.status == "open", ClinicSession.release_at <= utcnow(),
                            ClinicSession.starts_at > soon).order_by(ClinicSession.starts_at, ClinicSession.id))
                first = await s.scalar(ahead("SY01").limit(1))
                mine = [first, await s.scalar(ahead("SY01").where(
                    ClinicSession.department_id != first.department_id).limit(1))]
                other = await s.scalar(ahead("SY02").limit(1))
                # the demo city registers a few members
                members = list((await s.scalars(select(Member.id).order_by(Member.id).limit(4))).all())
            out = {"other": other.id, "sessions": []}
            for n, cs in enumerate(mine):
                booked = []
                for member in (members[(2 * n) % len(members)], members[(2 * n + 1) % len(members)]):
                    async with rt.db.transaction() as s:
                        periods = (await s.scalars(select(Period.id).where(Period.session_id == cs.id)
                                                   .order_by(Period.start))).all()
                        b = await engine.reserve(s, member_id=member, period_id=periods[-1], channel="web")
                        booked.append(b.id)
                out["sessions"].append({"id": cs.id, "bookings": booked})
        json.dump(out, open(sys.argv[1], "w"))
    finally:
        await rt.stop()

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> dict:
    workdir = tmp_path_factory.mktemp("browser-backoffice")
    facts = workdir / "facts.json"

    def prepare(env: dict) -> None:
        subprocess.run([sys.executable, "-c", PREPARE, str(facts)], cwd=ROOT, env=env, check=True)

    with demo_server(workdir, prepare) as base:
        yield {"base": base, **json.loads(facts.read_text())}


@pytest.fixture(params=[("laptop", LAPTOP), ("tablet", TABLET)], ids=["laptop", "tablet"])
async def console_page(request, chromium):
    name, viewport = request.param
    context = await chromium.new_context(viewport=viewport, locale="zh-CN", has_touch=name == "tablet")
    pg = await context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    await context.close()


async def _fits(page) -> bool:
    return await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


async def test_scheduler_checks_in_and_suspends_a_session(console_page, site):
    page, base = console_page, site["base"]
    session = site["sessions"][0 if page.viewport_size["width"] == LAPTOP["width"] else 1]
    first, second = session["bookings"]
    await page.goto(base + "/console/c/demo/login")
    await page.fill("#username", "sy01.scheduler")
    await page.fill("#password", PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_url(base + "/console/c/demo/")
    await page.click("#home-schedule")
    await page.wait_for_url("**/schedule")
    assert "示例市第一人民医院" in await page.inner_text("#hospital-name")
    assert await _fits(page)

    await page.goto(base + f"/console/c/demo/sessions/{session['id']}")
    assert await page.is_visible(f"#booking-{first}")
    assert await _fits(page)
    await page.click(f"#check-in-{first}")
    await page.wait_for_selector("#flash")
    assert first in await page.inner_text("#flash")
    assert await page.get_attribute(f"#booking-{first} [data-status]", "data-status") == "checked_in"
    assert not await page.is_visible(f"#check-in-{first}")

    await page.click("#suspend-session")
    await page.fill("#f-reason", "医生临时参加抢救")
    await page.click("#change-preview")
    await page.wait_for_selector("#change-preview-title")
    assert await page.get_attribute(f"#affected-{second}", "data-action") == "cancel"
    assert await page.inner_text("#count-cancelled") == "1"  # the checked-in patient is left alone
    assert not await page.is_visible(f"#affected-{first}")
    assert await _fits(page)
    await page.click("#change-confirm")
    await page.wait_for_selector("#change-done")
    assert "医生临时参加抢救" in await page.inner_text("#change-reason")
    await page.click("#back-to-session")
    await page.wait_for_selector("#changes")
    assert await page.get_attribute("#session-status", "data-status") == "suspended"
    assert await page.get_attribute(f"#booking-{second} [data-status]", "data-status") == "cancelled"

    other = await page.goto(base + f"/console/c/demo/sessions/{site['other']}")
    assert other.status == 404
