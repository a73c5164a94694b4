"""Health-bureau dashboards through real HTTP: who may see them, the region each viewer is held
to (by the server, whatever the query string says), and exports that match the tables.

The city is the hand-counted one of the report tests: hospital H1 and community centre C1 in
district 1, hospital H2 in district 2.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from datetime import date, timedelta

import openpyxl
import pytest
from sqlalchemy import select

from guahao.core.models import Booking, Department, Doctor, Hospital, Member, Period, SlotPool
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from tests.core.reports.dataset import build
from tests.factories import make_city

from .conftest import add_staff, add_vendor

REPORT_KEYS = ("bookings", "no_show", "slots", "complaints", "satisfaction", "referrals", "comparison")


@pytest.fixture
async def data(rt, city):
    return await build(rt, city)


def span(city) -> str:
    """A range holding every day of the data set (ten days ago to two days ahead)."""
    today = utcnow().astimezone(city.tz).date()
    return f"from={today - timedelta(days=30)}&to={today + timedelta(days=5)}"


def totals(html: str, table: str = "table-report") -> dict[str, str]:
    """The totals row of a table, by column key."""
    part = html[html.index(f'id="{table}"'):]
    foot = part[part.index("<tfoot>"):part.index("</tfoot>")]
    return dict(re.findall(r'data-key="(\w+)">([^<]*)<', foot))


def row_labels(html: str, table: str = "table-report") -> list[str]:
    part = html[html.index(f'id="{table}"'):]
    body = part[part.index("<tbody>"):part.index("</tbody>")]
    return re.findall(r'<th scope="row">([^<]*)</th>', body)


def options(html: str, select_id: str) -> dict[str, str]:
    """value → text of a select's options."""
    part = html[html.index(f'id="{select_id}"'):]
    part = part[:part.index("</select>")]
    return {v: t for v, t in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', part)}


async def login_as(browser, rt, city, role: str, **extra):
    who = await add_staff(rt, city, role, **extra)
    await browser.login(who)
    return who


@pytest.mark.parametrize("role", ["city_admin", "bureau_viewer", "hospital_admin"])
async def test_roles_with_reports_see_every_page(rt, city, data, browser, role):
    extra = {"hospital_id": data.h1} if role == "hospital_admin" else {}
    await login_as(browser, rt, city, role, **extra)
    home = await browser.get(f"/console/c/{city.slug}/")
    assert 'id="nav-dashboards"' in home.text
    r = await browser.get(f"/console/c/{city.slug}/dashboards?{span(city)}")
    assert r.status_code == 200
    assert 'id="kpi-bookings"' in r.text and 'data-chart="chart-bookings-day-option"' in r.text
    for key in REPORT_KEYS:
        r = await browser.get(f"/console/c/{city.slug}/dashboards/{key}?{span(city)}")
        assert r.status_code == 200, key
        assert 'id="chart-report"' in r.text and 'id="table-report"' in r.text
        assert f"/dashboards/{key}/export.csv?" in r.text and f"/dashboards/{key}/export.xlsx?" in r.text


async def test_vendor_sees_the_whole_city(rt, city, data, browser):
    await browser.login(await add_vendor(rt))
    r = await browser.get(f"/console/c/{city.slug}/dashboards/bookings?{span(city)}")
    assert r.status_code == 200
    assert totals(r.text)["bookings"] == "14"


@pytest.mark.parametrize("role", ["scheduler", "doctor", "agent", "referral_clerk"])
async def test_other_roles_are_refused(rt, city, data, browser, role):
    extra = {"scheduler": {"hospital_id": data.h1}, "referral_clerk": {"hospital_id": data.centre}}.get(role, {})
    if role == "doctor":
        with use_city(city):
            async with rt.db.transaction() as s:
                extra = {"hospital_id": data.h1,
                         "doctor_id": await s.scalar(select(Doctor.id).where(Doctor.hospital_id == data.h1))}
    await login_as(browser, rt, city, role, **extra)
    home = await browser.get(f"/console/c/{city.slug}/")
    assert 'id="nav-dashboards"' not in home.text
    for url in ("dashboards", "dashboards/bookings", "dashboards/bookings/export.csv"):
        r = await browser.get(f"/console/c/{city.slug}/{url}")
        assert r.status_code == 403, url


async def test_anonymous_goes_to_login(city, data, browser):
    r = await browser.get(f"/console/c/{city.slug}/dashboards")
    assert r.status_code == 303 and "/login" in r.headers["location"]


async def add_booking_in_district_2(rt, city, data) -> None:
    """One more confirmed booking at H2 (district 2), in the session two days ahead."""
    with use_city(city):
        async with rt.db.transaction() as s:
            pool = await s.scalar(select(SlotPool).join(Period, Period.id == SlotPool.period_id)
                                  .where(SlotPool.session_id.in_(select(Booking.session_id).where(
                                      Booking.hospital_id == data.h2, Booking.session_date == data.future))))
            period = await s.get(Period, pool.period_id)
            template = await s.scalar(select(Booking).where(Booking.session_id == pool.session_id))
            member = Member(name="新患者", id_number_encrypted="x", id_number_hash="h-district2", id_number_masked="1****",
                            birth_date=date(1990, 1, 1), sex="M", phone="13900009999", password_hash="x")
            s.add(member)
            await s.flush()
            pool.booked += 1
            s.add(Booking(id="RDISTRICT2X", member_id=member.id, hospital_id=data.h2,
                          department_id=template.department_id, doctor_id=template.doctor_id,
                          session_id=pool.session_id, period_id=period.id, pool_id=pool.id,
                          session_date=data.future, starts_at=period.starts_at, ends_at=period.ends_at,
                          channel="web", status="confirmed"))


async def test_district_viewer_counts_only_their_district(rt, city, data, browser, new_browser):
    await login_as(browser, rt, city, "bureau_viewer", district_ids=[data.district1])
    admin = new_browser()
    await login_as(admin, rt, city, "city_admin")
    url = f"/console/c/{city.slug}/dashboards/bookings?{span(city)}"
    mine, whole = await browser.get(url), await admin.get(url)
    assert row_labels(mine.text) == ["第一人民医院"]
    assert sorted(row_labels(whole.text)) == ["第一人民医院", "第二人民医院"]
    assert totals(mine.text)["bookings"] == "8" and totals(whole.text)["bookings"] == "14"

    await add_booking_in_district_2(rt, city, data)
    mine, whole = await browser.get(url), await admin.get(url)
    assert totals(mine.text)["bookings"] == "8"  # a district-2 booking never counts for district 1
    assert totals(whole.text)["bookings"] == "15"

    # The filters offer only the viewer's region.
    hospitals = options(mine.text, "f-hospital")
    assert str(data.h1) in hospitals and str(data.centre) in hospitals and str(data.h2) not in hospitals
    assert set(options(mine.text, "f-district")) == {str(data.district1)}
    overview = await browser.get(f"/console/c/{city.slug}/dashboards?{span(city)}")
    assert "第二人民医院" not in overview.text
    assert overview.text.count("第一人民医院") >= 1


async def test_out_of_region_ids_are_not_found(rt, city, data, browser):
    await login_as(browser, rt, city, "bureau_viewer", district_ids=[data.district1])
    base = f"/console/c/{city.slug}/dashboards"
    with use_city(city):
        async with rt.db.transaction() as s:
            other_dept = await s.scalar(select(Department.id).where(Department.hospital_id == data.h2))
    for url in (
        f"{base}?district={data.district2}",
        f"{base}?hospital={data.h2}",
        f"{base}/bookings?district={data.district2}",
        f"{base}/bookings?hospital={data.h2}",
        f"{base}/bookings?department={other_dept}",
        f"{base}/slots?district={data.district1}&hospital={data.h2}",
        f"{base}/bookings/export.csv?hospital={data.h2}",
        f"{base}/comparison/export.xlsx?district={data.district2}",
        f"{base}/bookings?hospital=abc",
        f"{base}/nonsense",
        f"{base}/bookings/export.pdf",
    ):
        r = await browser.get(url)
        assert r.status_code == 404, url
    r = await browser.get(f"{base}/bookings?hospital={data.h1}&{span(city)}")
    assert r.status_code == 200 and totals(r.text)["bookings"] == "8"


async def test_hospital_admin_is_held_to_their_hospital(rt, city, data, browser):
    await login_as(browser, rt, city, "hospital_admin", hospital_id=data.h2)
    base = f"/console/c/{city.slug}/dashboards"
    r = await browser.get(f"{base}/bookings?group=department&{span(city)}")
    assert r.status_code == 200
    assert row_labels(r.text) == ["市二院 儿科"] and totals(r.text)["bookings"] == "6"
    assert 'id="f-hospital"' not in r.text and 'id="f-district"' not in r.text
    for url in (f"{base}?hospital={data.h1}", f"{base}/bookings?district={data.district2}",
                f"{base}/bookings?department={data.d1}"):
        assert (await browser.get(url)).status_code == 404, url


async def test_another_citys_viewer_is_not_found(rt, city, data, browser):
    other = await make_city(rt, f"{city.slug[:20]}-o")
    await login_as(browser, rt, other, "bureau_viewer")
    for url in ("dashboards", "dashboards/bookings", "dashboards/bookings/export.csv"):
        r = await browser.get(f"/console/c/{city.slug}/{url}")
        assert r.status_code == 404, url


async def test_exports_hold_the_numbers_of_the_table(rt, city, data, browser):
    await login_as(browser, rt, city, "bureau_viewer", district_ids=[data.district1])
    query = f"{span(city)}&group=channel"
    page = await browser.get(f"/console/c/{city.slug}/dashboards/bookings?{query}")
    table = totals(page.text)

    r = await browser.get(f"/console/c/{city.slug}/dashboards/bookings/export.csv?{query}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''" in disposition
    assert "%E6%82%A3%E8%80%85%E9%A2%84%E7%BA%A6" in disposition  # 患者预约…
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][0].startswith("渠道")
    header = [h.split(" / ")[0] for h in rows[0]]
    last = dict(zip(header, rows[-1], strict=False))
    assert last["渠道"] == "合计"
    assert last["预约总数"] == table["bookings"] and last["爽约"] == table["no_show"]
    assert [row[0] for row in rows[1:-1]] == row_labels(page.text)

    r = await browser.get(f"/console/c/{city.slug}/dashboards/bookings/export.xlsx?{query}")
    assert r.status_code == 200 and "spreadsheetml" in r.headers["content-type"]
    ws = openpyxl.load_workbook(io.BytesIO(r.content)).active
    values = [[c.value for c in row] for row in ws.iter_rows()]
    header = [str(h).split(" / ")[0] for h in values[1]]
    total_row = dict(zip(header, values[-1], strict=False))
    assert total_row["渠道"] == "合计" and str(total_row["预约总数"]) == table["bookings"]
    assert len(values) - 3 == len(rows) - 2  # title + header + totals; the same groups as the CSV


async def test_filters_narrow_the_report(rt, city, data, browser):
    await login_as(browser, rt, city, "city_admin")
    base = f"/console/c/{city.slug}/dashboards"
    web = await browser.get(f"{base}/bookings?channel=web&{span(city)}")
    assert web.status_code == 200 and 'value="web" selected' in web.text
    everything = await browser.get(f"{base}/bookings?{span(city)}")
    assert int(totals(web.text)["bookings"]) < int(totals(everything.text)["bookings"])
    dept = await browser.get(f"{base}/bookings?hospital={data.h1}&department={data.d1}&{span(city)}")
    assert dept.status_code == 200 and totals(dept.text)["bookings"] == "8"
    assert str(data.d1) in options(dept.text, "f-department")
    by_day = await browser.get(f"{base}/bookings?group=day&{span(city)}")
    assert by_day.status_code == 200 and 'value="day" selected' in by_day.text
    week = await browser.get(f"{base}/bookings?range=7")
    assert week.status_code == 200 and 'id="quick-7" aria-current' in week.text
    for bad in ("group=nope", "channel=telegraph", "from=2026-13-01", f"from={utcnow().date()}&to=2020-01-01"):
        r = await browser.get(f"{base}/bookings?{bad}")
        assert r.status_code == 422, bad


async def test_chart_options_are_embedded_as_json_in_the_persons_language(rt, city, data, browser):
    await login_as(browser, rt, city, "city_admin")
    url = f"/console/c/{city.slug}/dashboards/no_show?{span(city)}"
    r = await browser.get(url)
    raw = re.search(r'<script type="application/json" id="chart-report-option">(.*?)</script>', r.text, re.S).group(1)
    assert "<" not in raw
    option = json.loads(raw)
    assert [x["name"] for x in option["series"]] == ["爽约", "爽约率"] and option["animation"] is False
    browser.client.cookies.set("guahao_console_lang", "en")
    r = await browser.get(url)
    option = json.loads(re.search(r'id="chart-report-option">(.*?)</script>', r.text, re.S).group(1))
    assert [x["name"] for x in option["series"]] == ["No-show", "No-show rate"]
    assert "No-show rate" in r.text and "Export" in r.text


async def test_every_grouping_of_every_report_renders(rt, city, data, browser):
    from guahao.core.reports import GROUPS

    await login_as(browser, rt, city, "city_admin")
    for key, groups in GROUPS.items():
        for group in groups:
            r = await browser.get(f"/console/c/{city.slug}/dashboards/{key}?group={group}&{span(city)}")
            assert r.status_code == 200, (key, group)
            option = json.loads(re.search(r'id="chart-report-option">(.*?)</script>', r.text, re.S).group(1))
            assert all(len(s["data"]) == len(row_labels(r.text)) for s in option["series"]), (key, group)


# --- the demo city: the dashboards open on its history -----------------------------------------

KPI_RE = re.compile(r'<div id="kpi-(\w+)"><dt>[^<]*</dt><dd>([^<]*)</dd>')


@pytest.fixture(scope="module")
async def demo_city(rt):
    """The demo city with a few days of history (the demo itself seeds a month)."""
    from guahao.core.demo import seed_demo

    report = await seed_demo(rt, slug=f"dashdemo-{uuid.uuid4().hex[:6]}", days=1, history_days=5)
    return report.city


def _number(text: str) -> float:
    return float(text.replace(",", "").rstrip("%"))


async def test_the_demo_dashboards_open_on_its_history(rt, demo_city, browser):
    city = demo_city
    await login_as(browser, rt, city, "city_admin")
    today = utcnow().astimezone(city.tz).date()
    r = await browser.get(f"/console/c/{city.slug}/dashboards")
    assert r.status_code == 200
    # The default range is the last 30 days up to and including today, shown as that quick range.
    assert f"{today - timedelta(days=29)} – {today}" in r.text
    assert f'id="f-to" value="{today}"' in r.text and 'id="quick-30" aria-current' in r.text
    kpis = dict(KPI_RE.findall(r.text))
    assert set(kpis) == {"bookings", "checked_in", "no_show_rate", "cancel_rate", "fill_rate", "referrals",
                         "complaints", "satisfaction"}
    assert all(v != "—" and _number(v) > 0 for v in kpis.values()), kpis
    for key in REPORT_KEYS:
        page = await browser.get(f"/console/c/{city.slug}/dashboards/{key}")
        assert page.status_code == 200 and 'id="quick-30" aria-current' in page.text, key
        sums = totals(page.text)
        assert row_labels(page.text) and any(_number(v) > 0 for v in sums.values() if v.strip("—% ")), key
    week = await browser.get(f"/console/c/{city.slug}/dashboards/bookings?range=7&group=day")
    days = row_labels(week.text)
    assert len(days) == 5 and today.isoformat() not in days  # history to yesterday; none booked for today


async def test_the_demo_hospital_statistics_open_on_its_history(rt, demo_city, browser):
    city = demo_city
    with use_city(city):
        async with rt.db.transaction() as s:
            first = await s.scalar(select(Hospital.id).where(Hospital.code == "SY01"))
    await login_as(browser, rt, city, "hospital_admin", hospital_id=first)
    r = await browser.get(f"/console/c/{city.slug}/hospital/stats")
    assert r.status_code == 200
    today = utcnow().astimezone(city.tz).date()
    assert f'id="f-to" value="{today}"' in r.text
    assert r.text.count("<tfoot>") == 3 and "No bookings in this range." not in r.text and "该范围内没有预约" not in r.text
