"""Every console role in a real browser: what the role may do, and that it cannot reach
another scope (another hospital, another district, another city) by link, by URL guessing or
by tampering with a form.

One demo server for the module, with a second city (乙市, ``yi``) whose accounts have the same
user names; each role logs in once through the log-in page at 1280x800 (the hospital
administrator also at 820x1180) and its browser context is reused by the module's tests.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass

import pytest

from guahao.core.demo import data
from guahao.core.demo.staff import PASSWORD
from guahao.operator_console.kit.access import CAPABILITIES
from guahao.operator_console.kit.navigation import CITY_NAV

from .server import DESKTOP, ROOT, demo_server

TABLET = {"width": 820, "height": 1180}
CITY = "/console/c/demo/"
ALL_AREAS = {i.key: i.path for i in CITY_NAV}


@dataclass(frozen=True)
class Role:
    """A demo account, the city areas its navigation must show, and one page it may use."""

    username: str
    role: str
    areas: frozenset[str]
    page: str  # a path under /console/c/demo/
    proof: str  # a selector that page shows when it works

    @property
    def login_path(self) -> str:
        return "/console/login" if self.role == "vendor_admin" else CITY + "login"


ROLES = {
    "vendor": Role("vendor", "vendor_admin", frozenset({
        "staff", "settings", "audit", "agent", "import", "catalogue", "schedule", "templates",
        "hospital-complaints", "hospital-stats", "dashboards", "licensing", "deliveries", "his", "api-clients", "finance",
        "scalpers", "broadcasts"}), "settings", "form"),
    "city_admin": Role("admin", "city_admin", frozenset({
        "staff", "settings", "audit", "import", "catalogue", "schedule", "templates", "hospital-complaints",
        "hospital-stats", "dashboards", "licensing", "deliveries", "his", "api-clients", "finance", "scalpers",
        "broadcasts"}), "audit",
        "#audit-table"),
    "hospital_admin": Role("sy01.admin", "hospital_admin", frozenset({
        "staff", "catalogue", "schedule", "templates", "hospital-complaints", "hospital-stats", "dashboards",
        "deliveries", "his", "finance", "broadcasts"}), "staff", "#staff-table"),
    "scheduler": Role("sy01.scheduler", "scheduler", frozenset({"schedule", "templates"}), "schedule",
                      "#hospital-name"),
    "doctor": Role("sy01.doctor", "doctor", frozenset({"clinic"}), "clinic", "#clinic-form"),
    "agent": Role("agent", "agent", frozenset({"agent", "hospital-complaints"}), "agent", "#f-q"),
    "referral_clerk": Role("sq01.clerk", "referral_clerk", frozenset({"referral"}), "referral", "#f-hospital"),
    "bureau": Role("bureau", "bureau_viewer", frozenset({"hospital-stats", "dashboards"}), "dashboards",
                   "#dash-filters"),
    "bureau_district": Role("bureau.east", "bureau_viewer", frozenset({"hospital-stats", "dashboards"}),
                            "dashboards", "#dash-filters"),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> dict:
    workdir = tmp_path_factory.mktemp("browser-roles")
    facts = workdir / "facts.json"

    def prepare(env: dict) -> None:
        subprocess.run([sys.executable, "-m", "tests.browser.roles_site", str(facts)], cwd=ROOT, env=env, check=True)

    with demo_server(workdir, prepare) as base:
        yield {"base": base, **json.loads(facts.read_text())}


class Consoles:
    """One logged-in browser context per (role, viewport), created on first use."""

    def __init__(self, chromium, base: str):
        self.chromium, self.base = chromium, base
        self.contexts: dict = {}
        self.pages: dict = {}

    async def page(self, name: str, viewport: dict = DESKTOP):
        key = (name, viewport["width"])
        if key not in self.pages:
            role = ROLES[name]
            context = await self.chromium.new_context(viewport=viewport, locale="zh-CN",
                                                      has_touch=viewport is TABLET)
            page = await context.new_page()
            page.set_default_timeout(15_000)
            await page.goto(self.base + role.login_path)
            await page.fill("#username", role.username)
            await page.fill("#password", PASSWORD)
            await page.click("#login-submit")
            home = "/console/vendor/" if role.role == "vendor_admin" else CITY
            await page.wait_for_url(self.base + home)
            self.contexts[key], self.pages[key] = context, page
        return self.pages[key]

    async def close(self) -> None:
        for context in self.contexts.values():
            await context.close()


@pytest.fixture(scope="module")
async def consoles(chromium, site):
    out = Consoles(chromium, site["base"])
    yield out
    await out.close()


async def _nav(page) -> set[str]:
    ids = await page.eval_on_selector_all("nav.nav a[id^='nav-']", "els => els.map(e => e.id)")
    return {i.removeprefix("nav-") for i in ids}


async def _links(page, base: str) -> set[str]:
    """The console links of the page (fragments dropped)."""
    hrefs = await page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    return {h.split("#")[0] for h in hrefs if h.startswith(base + "/console")}


def _samples(urls: set[str], per_kind: int = 2) -> list[str]:
    """A few links of each kind: links that differ only in their numbers (another session,
    another date) reach the same page with the same checks."""
    kinds: dict[str, list[str]] = defaultdict(list)
    for url in sorted(urls):
        kinds[re.sub(r"\d+", "#", url)].append(url)
    return [u for group in kinds.values() for u in group[:per_kind]]


async def _readable_refusal(page) -> None:
    """The page is a refusal with a sentence and a code, not a stack trace or bare JSON."""
    text = await page.inner_text("body")
    assert "Traceback" not in text and "Internal Server Error" not in text
    assert await page.is_visible("#error-message"), text[:300]
    assert await page.get_attribute("#error-message", "data-code")


async def _refused(page, url: str, status: int) -> None:
    response = await page.goto(url)
    assert response.status == status, f"{url}: {response.status}"
    await _readable_refusal(page)


async def _fits(page) -> bool:
    return await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


# -- what each role may do, and no link leads anywhere else --------------------------------------------------


@pytest.mark.parametrize("name", list(ROLES))
async def test_role_sees_its_areas_and_every_link_works(consoles, site, name):
    role, base = ROLES[name], site["base"]
    page = await consoles.page(name)
    if role.role == "vendor_admin":
        assert await _nav(page) == {"cities", "vendor-audit", "vendor-plugins", "vendor-contracts", "vendor-invoices",
                                    "vendor-licences", "vendor-usage"}
        await page.goto(base + CITY)
        assert await page.is_visible("#nav-vendor")
    # The navigation shows exactly the areas of the role's capabilities, and nothing else.
    assert await _nav(page) - {"vendor"} == role.areas
    assert role.areas == {i.key for i in CITY_NAV if i.capability in CAPABILITIES[role.role]}

    response = await page.goto(base + CITY + role.page)
    assert response.status == 200
    assert await page.is_visible(role.proof)

    # Every other area is refused with 403 and a readable page.
    for key in sorted(set(ALL_AREAS) - role.areas):
        await _refused(page, base + CITY + ALL_AREAS[key], 403)

    # By link: the console links on the pages the role reaches from its home answer < 400
    # (every kind of link, two of each).
    await page.goto(base + CITY)
    first = await _links(page, base)
    seen: dict[str, int] = {}
    found: set[str] = set()
    for url in sorted(first):
        response = await page.goto(url)
        seen[url] = response.status
        if response.status < 400:
            found |= await _links(page, base)
    todo = _samples(found - set(seen))

    async def status(url: str) -> None:
        seen[url] = (await page.request.get(url, max_redirects=0)).status

    for i in range(0, len(todo), 6):
        await asyncio.gather(*(status(u) for u in todo[i:i + 6]))
    broken = {u.removeprefix(base): s for u, s in seen.items() if s >= 400}
    assert not broken, broken
    assert base + CITY + role.page in first


async def test_hospital_admin_on_a_tablet(consoles, site):
    page = await consoles.page("hospital_admin", TABLET)
    assert await _nav(page) == ROLES["hospital_admin"].areas
    for path, proof in (("staff", "#staff-table"), ("schedule", "#hospital-name"), ("catalogue", "main h1")):
        await page.goto(site["base"] + CITY + path)
        assert await page.is_visible(proof)
        assert await _fits(page), path
    await _refused(page, site["base"] + CITY + f"sessions/{site['other_session']['id']}", 404)
    assert await _fits(page)


# -- by URL guessing -----------------------------------------------------------------------------------------


def _guesses(name: str, f: dict) -> list[tuple[str, int]]:
    """(path, status) pairs the role must be refused."""
    o, h, staff = f["other_city"], f["hospitals"], f["staff"]
    other_city = [(f"/console/c/{o['slug']}/", 404), (f"/console/c/{o['slug']}/dashboards", 404),
                  (f"/console/c/{o['slug']}/staff/{o['staff']}", 404), ("/console/c/nowhere/", 404)]
    # Ids of the other city's objects under this city's URL: as if they did not exist.
    other_ids = [(f"{CITY}sessions/{o['session']}", 404), (f"{CITY}catalogue/{o['hospital']}", 404),
                 (f"{CITY}staff/{o['staff']}", 404)]
    other_hospital = [
        (f"{CITY}sessions/{f['other_session']['id']}", 404),
        (f"{CITY}sessions/{f['other_session']['id']}/suspend", 404),
        (f"{CITY}templates/{f['other_template']}", 404),
        (f"{CITY}schedule?hospital={h['SY02']}", 404),
    ]
    vendor_pages = [("/console/vendor/", 404), ("/console/vendor/audit", 404)]
    if name == "vendor":
        return [("/console/c/nowhere/", 404), (f"{CITY}clinic", 403), (f"{CITY}referral", 403), *other_ids]
    if name == "city_admin":
        return [*other_city, *other_ids, *vendor_pages, (f"{CITY}clinic", 403),
                (f"{CITY}dashboards?hospital={o['hospital']}", 404), (f"{CITY}dashboards?district={o['district']}", 404)]
    if name == "hospital_admin":
        return [*other_city, *other_ids, *other_hospital, *vendor_pages,
                (f"{CITY}catalogue/{h['SY02']}", 404), (f"{CITY}catalogue/{h['SY02']}/edit", 404),
                (f"{CITY}staff/{staff['sy02.admin']}", 404), (f"{CITY}staff/{staff['admin']}", 404),
                (f"{CITY}dashboards?hospital={h['SY02']}", 404), (f"{CITY}hospital/stats?hospital={h['SY02']}", 404),
                (f"{CITY}settings", 403), (f"{CITY}audit", 403)]
    if name == "scheduler":
        return [*other_city, *other_hospital, (f"{CITY}staff/{staff['sy01.doctor']}", 403),
                (f"{CITY}catalogue/{h['SY01']}", 403), (f"{CITY}clinic", 403)]
    if name == "doctor":
        return [*other_city, (f"{CITY}sessions/{f['own_session']['id']}", 403), (f"{CITY}templates", 403),
                (f"{CITY}referral", 403), (f"{CITY}agent", 403)]
    if name == "agent":
        # A caller's pages need an identity check of this agent's own making.
        return [*other_city, (f"{CITY}agent/caller?t=forged", 403), (f"{CITY}agent/book", 403),
                (f"{CITY}sessions/{f['own_session']['id']}", 403), (f"{CITY}staff", 403), (f"{CITY}clinic", 403)]
    if name == "referral_clerk":
        return [*other_city, (f"{CITY}referral?hospital_id={o['hospital']}", 404),
                (f"{CITY}referral?hospital_id={h['SQ01']}", 404), (f"{CITY}clinic", 403),
                (f"{CITY}sessions/{f['own_session']['id']}", 403)]
    if name == "bureau":
        return [*other_city, (f"{CITY}dashboards?hospital={o['hospital']}", 404),
                (f"{CITY}dashboards?district={o['district']}", 404), (f"{CITY}staff", 403)]
    assert name == "bureau_district"
    return [*other_city,
            (f"{CITY}dashboards?district={f['outside_district']}", 404),
            (f"{CITY}dashboards?hospital={f['outside_hospital']}", 404),
            (f"{CITY}dashboards/bookings?district={f['outside_district']}", 404),
            (f"{CITY}dashboards/comparison/export.csv?hospital={f['outside_hospital']}", 404),
            (f"{CITY}hospital/stats?hospital={f['outside_hospital']}", 404)]


@pytest.mark.parametrize("name", list(ROLES))
async def test_role_cannot_guess_its_way_out(consoles, site, name):
    page = await consoles.page(name)
    for path, status in _guesses(name, site):
        if path.endswith(".csv") or "export" in path:
            assert (await page.request.get(site["base"] + path)).status == status, path
            continue
        await _refused(page, site["base"] + path, status)
    # Still logged in and still in its own city afterwards.
    response = await page.goto(site["base"] + CITY)
    assert response.status == 200 and "/login" not in page.url


async def test_vendor_enters_every_city(consoles, site):
    page = await consoles.page("vendor")
    response = await page.goto(site["base"] + f"/console/c/{site['other_city']['slug']}/")
    assert response.status == 200
    assert "乙市" in await page.inner_text("#console-home")


# -- by form tampering ---------------------------------------------------------------------------------------


async def _set(page, selector: str, value) -> None:
    """Give a form control a value the page never offered."""
    await page.evaluate(
        """([sel, value]) => {
            const el = document.querySelector(sel);
            if (el.tagName === 'SELECT') {
                const o = document.createElement('option'); o.value = value; o.textContent = value; el.append(o);
            }
            el.value = value; el.checked = true; el.disabled = false;
        }""",
        [selector, str(value)],
    )


async def _audit_count(consoles, site, actor_id: int) -> int:
    """How many audit entries the city's log holds for a staff account (seen by the city admin)."""
    admin = await consoles.page("city_admin")
    await admin.goto(site["base"] + CITY + f"audit?actor=staff:{actor_id}")
    return await admin.locator("#audit-table tbody tr").count()


async def test_hospital_admin_cannot_create_staff_in_another_hospital(consoles, site):
    page, base = await consoles.page("hospital_admin"), site["base"]
    before = await _audit_count(consoles, site, site["staff"]["sy01.admin"])
    await page.goto(base + CITY + "staff/new")
    offered = await page.eval_on_selector_all("#f-hospital option[value]", "els => els.map(e => e.value)")
    assert str(site["hospitals"]["SY02"]) not in offered
    await page.fill("#f-username", "sneaky.sy02")
    await page.fill("#f-display_name", "冒名 排班员")
    await page.select_option("#f-role", "scheduler")
    await page.fill("#f-password", "browser-pass-1")
    await _set(page, "#f-hospital", site["hospitals"]["SY02"])
    async with page.expect_navigation() as nav:
        await page.click("#staff-save")
    assert (await nav.value).status == 404
    await _readable_refusal(page)

    # Another city's hospital is no better.
    await page.goto(base + CITY + "staff/new")
    await page.fill("#f-username", "sneaky.yi")
    await page.fill("#f-display_name", "冒名 排班员")
    await page.select_option("#f-role", "scheduler")
    await page.fill("#f-password", "browser-pass-1")
    await _set(page, "#f-hospital", site["other_city"]["hospital"])
    async with page.expect_navigation() as nav:
        await page.click("#staff-save")
    assert (await nav.value).status == 404

    # Nothing was created: the city admin finds no such account, and nothing was audited.
    admin = await consoles.page("city_admin")
    await admin.goto(base + CITY + "staff?q=sneaky")
    assert "sneaky" not in await admin.inner_text("main")
    assert await _audit_count(consoles, site, site["staff"]["sy01.admin"]) == before


async def test_doctor_cannot_book_into_another_doctors_session(consoles, site):
    page, base = await consoles.page("doctor"), site["base"]
    before = await _audit_count(consoles, site, site["staff"]["sy01.doctor"])
    await page.goto(base + CITY + "clinic")
    offered = await page.eval_on_selector_all("input[name=period_id]", "els => els.map(e => e.value)")
    assert offered and str(site["colleague_clinic_period"]) not in offered
    for period in (site["colleague_clinic_period"], site["other_clinic_period"]):
        await page.goto(base + CITY + "clinic")
        await _set(page, "input[name=period_id]:not([disabled])", period)
        await page.fill("#f-q", data.MEMBERS[0].phone)
        async with page.expect_navigation() as nav:
            await page.click("#clinic-submit")
        assert (await nav.value).status == 404
        await _readable_refusal(page)
    assert await _audit_count(consoles, site, site["staff"]["sy01.doctor"]) == before


async def test_scheduler_cannot_check_in_another_hospitals_booking(consoles, site):
    page, base = await consoles.page("scheduler"), site["base"]
    own, other = site["own_session"], site["other_session"]
    admin = await consoles.page("city_admin")
    await admin.goto(base + CITY + f"sessions/{other['id']}")
    status = f"#booking-{other['bookings'][0]} [data-status]"
    waiting = await admin.get_attribute(status, "data-status")
    assert waiting != "checked_in"
    await page.goto(base + CITY + f"sessions/{own['id']}")
    form = f"form:has(#check-in-{own['bookings'][0]})"
    await _set(page, f"{form} input[name=booking_id]", other["bookings"][0])
    async with page.expect_navigation() as nav:
        await page.click(f"#check-in-{own['bookings'][0]}")
    assert (await nav.value).status == 404
    await _readable_refusal(page)

    # The other hospital's booking is still waiting (seen by the city admin), and so is our own.
    await admin.goto(base + CITY + f"sessions/{other['id']}")
    assert await admin.get_attribute(status, "data-status") == waiting
    await page.goto(base + CITY + f"sessions/{own['id']}")
    assert await page.get_attribute(f"#booking-{own['bookings'][0]} [data-status]", "data-status") == waiting


async def test_referral_clerk_cannot_refer_outside_the_city(consoles, site):
    page, base = await consoles.page("referral_clerk"), site["base"]
    o = site["other_city"]
    before = await _audit_count(consoles, site, site["staff"]["sq01.clerk"])
    await page.goto(base + CITY + "referral/list")  # the demo's history holds the centre's earlier referrals
    referred = await page.eval_on_selector_all("#referrals tr[id^=referral-]", "els => els.map(e => e.id)")
    await page.goto(base + CITY + "referral")
    offered = await page.eval_on_selector_all("#f-hospital option[value]", "els => els.map(e => e.value)")
    assert str(site["hospitals"]["SQ01"]) not in offered  # never its own centre
    # The hospital picker set to another city's hospital (the select submits on change).
    async with page.expect_navigation() as nav:
        await _set(page, "#f-hospital", o["hospital"])
        await page.evaluate("document.querySelector('#pick-place').submit()")
    assert (await nav.value).status == 404
    await _readable_refusal(page)

    # A real referral form (市一院, first department) with the other city's period, then also its hospital.
    for fields in (("period_id",), ("period_id", "hospital_id")):
        await page.goto(base + CITY + "referral")
        async with page.expect_navigation():
            await page.select_option("#f-hospital", str(site["hospitals"]["SY01"]))
        async with page.expect_navigation():
            await page.select_option("#f-department", index=1)
        await page.fill("#f-q", data.MEMBERS[0].phone)
        await _set(page, "#referral-form input[name=period_id]:not([disabled])", o["referral_period"])
        if "hospital_id" in fields:
            await _set(page, "#referral-form input[name=hospital_id]", o["hospital"])
        async with page.expect_navigation() as nav:
            await page.click("#referral-submit")
        assert (await nav.value).status == 404
        if "hospital_id" in fields:
            await _readable_refusal(page)
        else:
            assert await page.is_visible("#booking-error")  # the form again, with the refusal

    await page.goto(base + CITY + "referral/list")
    assert await page.eval_on_selector_all("#referrals tr[id^=referral-]", "els => els.map(e => e.id)") == referred
    assert await _audit_count(consoles, site, site["staff"]["sq01.clerk"]) == before


async def test_district_bureau_cannot_filter_another_district(consoles, site):
    page, base = await consoles.page("bureau_district"), site["base"]
    await page.goto(base + CITY + "dashboards")
    districts = await page.eval_on_selector_all("#f-district option", "els => els.map(e => e.value)")
    assert districts == [str(site["east_district"])]
    hospitals = await page.eval_on_selector_all("#f-hospital option[value]:not([value=''])",
                                                "els => els.map(e => e.value)")
    assert str(site["east_hospital"]) in hospitals and str(site["outside_hospital"]) not in hospitals
    for field, value in (("#f-district", site["outside_district"]), ("#f-hospital", site["outside_hospital"])):
        await page.goto(base + CITY + "dashboards")
        await _set(page, field, value)
        async with page.expect_navigation() as nav:
            await page.click("#dash-show")
        assert (await nav.value).status == 404
        await _readable_refusal(page)
    # Its own district answers.
    await page.goto(base + CITY + "dashboards")
    async with page.expect_navigation() as nav:
        await page.click("#dash-show")
    assert (await nav.value).status == 200


async def test_a_form_without_its_csrf_token_is_refused(consoles, site):
    page, base = await consoles.page("hospital_admin"), site["base"]
    await page.goto(base + CITY + "staff/new")
    await page.fill("#f-username", "nocsrf.sched")
    await page.fill("#f-display_name", "无令牌 排班员")
    await page.select_option("#f-role", "scheduler")
    await page.fill("#f-password", "browser-pass-1")
    await page.evaluate("document.querySelector('#staff-form input[name=csrf]').remove()")
    async with page.expect_navigation() as nav:
        await page.click("#staff-save")
    assert (await nav.value).status == 403
    assert await page.get_attribute("#error-message", "data-code") == "csrf"
    await page.goto(base + CITY + "staff?q=nocsrf")
    assert "nocsrf" not in await page.inner_text("main")
