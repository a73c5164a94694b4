"""Each report over the hand-made city of ``dataset``: figures counted by hand, the region
filter as a hard restriction, and rollups that change nothing but speed."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from guahao.core.errors import ValidationFailed
from guahao.core.models import Booking, BookingStatsDaily
from guahao.core.reports import (
    REPORTS,
    ReportFilter,
    bookings_report,
    comparison_report,
    complaints_report,
    coverage,
    no_show_report,
    referral_report,
    refresh_rollups,
    satisfaction_report,
    slot_report,
)
from guahao.tenants.context import use_city

from .dataset import build


@pytest.fixture
async def data(rt, city):
    return await build(rt, city)


def whole(data, **kw) -> ReportFilter:
    return ReportFilter(date_from=data.past - timedelta(days=1), date_to=data.future, **kw)


async def run(rt, data, report, f):
    with use_city(data.city):
        async with rt.db.transaction() as s:
            return await report(s, f)


def by_key(report) -> dict:
    return {r["key"]: r for r in report.rows}


async def test_bookings_by_hospital_with_status_breakdown(rt, data):
    rep = await run(rt, data, bookings_report, whole(data))
    rows = by_key(rep)
    assert set(rows) == {data.h1, data.h2}
    h1, h2 = rows[data.h1], rows[data.h2]
    assert (h1["bookings"], h1["checked_in"], h1["no_show"], h1["cancelled"], h1["confirmed"]) == (8, 4, 2, 2, 0)
    assert (h2["bookings"], h2["checked_in"], h2["no_show"], h2["cancelled"], h2["expired"], h2["confirmed"]) == \
        (6, 1, 1, 1, 1, 2)
    assert h1["label"] == "第一人民医院"
    assert rep.totals["bookings"] == 14 and rep.totals["no_show_rate"] == 0.375
    assert [c.key for c in rep.columns][:2] == ["label", "bookings"]


async def test_bookings_by_channel_and_by_day(rt, data):
    channels = by_key(await run(rt, data, bookings_report, whole(data, group_by="channel")))
    assert {k: r["bookings"] for k, r in channels.items()} == \
        {"web": 6, "wechat": 2, "app": 1, "sms": 1, "referral": 2, "phone": 1, "kiosk": 1}
    assert channels["wechat"]["label"] == "微信" and channels["wechat"]["label_en"] == "WeChat"
    days = await run(rt, data, bookings_report, whole(data, group_by="day"))
    assert [(r["key"], r["bookings"]) for r in days.rows] == [(data.past, 11), (data.suspended_day, 1), (data.future, 2)]
    assert days.chart.kind == "line"


async def test_no_show_rate_by_hospital_doctor_and_time_period(rt, data):
    rep = by_key(await run(rt, data, no_show_report, whole(data)))
    assert (rep[data.h1]["due"], rep[data.h1]["no_show"], rep[data.h1]["no_show_rate"]) == (6, 2, 0.3333)
    assert rep[data.h2]["no_show_rate"] == 0.5
    periods = await run(rt, data, no_show_report, whole(data, group_by="time_period"))
    assert [(r["label"], r["checked_in"], r["no_show"]) for r in periods.rows] == \
        [("08:00", 3, 1), ("08:30", 1, 1), ("09:00", 0, 0), ("14:00", 1, 1)]
    half = by_key(await run(rt, data, no_show_report, whole(data, group_by="half_day")))
    assert half["am"]["no_show"] == 2 and half["pm"]["no_show"] == 1 and half["am"]["label"] == "上午"
    with pytest.raises(ValidationFailed) as e:
        await run(rt, data, no_show_report, whole(data, group_by="time_period", channels=["web"]))
    assert e.value.code == "filter_not_supported"


async def test_slot_statistics(rt, data):
    rep = by_key(await run(rt, data, slot_report, whole(data)))
    h1, h2 = rep[data.h1], rep[data.h2]
    assert (h1["released"], h1["withdrawn"], h1["booked"], h1["used"], h1["no_show"], h1["unbooked"], h1["wasted"]) == \
        (8, 5, 6, 4, 2, 2, 4)
    assert (h2["released"], h2["booked"], h2["used"], h2["unbooked"], h2["wasted"]) == (8, 4, 1, 4, 5)
    pools = by_key(await run(rt, data, slot_report, whole(data, group_by="pool")))
    assert (pools["referral"]["released"], pools["referral"]["booked"], pools["referral"]["used"]) == (2, 2, 1)


async def test_complaints_count_by_submission_day_with_reply_time(rt, data):
    rep = await run(rt, data, complaints_report, whole(data))
    rows = by_key(rep)
    assert (rows[data.h1]["complaints"], rows[data.h1]["submitted"], rows[data.h1]["avg_reply_hours"]) == (2, 1, 2.0)
    assert (rows[data.h2]["complaints"], rows[data.h2]["closed"], rows[data.h2]["avg_reply_hours"]) == (1, 1, 4.0)
    assert rep.totals["complaints"] == 3 and rep.totals["avg_reply_hours"] == 3.0  # the old one is outside
    statuses = by_key(await run(rt, data, complaints_report, whole(data, group_by="status")))
    assert {k: r["complaints"] for k, r in statuses.items()} == {"submitted": 1, "replied": 1, "closed": 1}
    days = await run(rt, data, complaints_report, whole(data, group_by="day"))
    assert [(r["key"], r["complaints"]) for r in days.rows] == [(data.past, 3)]


async def test_satisfaction_averages(rt, data):
    rep = by_key(await run(rt, data, satisfaction_report, whole(data)))
    h1 = rep[data.h1]
    assert (h1["responses"], h1["overall"], h1["waiting"], h1["attitude"], h1["satisfied_rate"]) == \
        (3, 3.67, 3.0, 4.67, 0.6667)
    assert rep[data.h2]["overall"] == 5.0


async def test_referrals_by_centre_and_outcome(rt, data):
    rep = await run(rt, data, referral_report, whole(data, group_by="centre"))
    assert [(r["key"], r["label"], r["referrals"], r["checked_in"], r["no_show"]) for r in rep.rows] == \
        [(data.centre, "东城社区卫生服务中心", 2, 1, 1)]
    receiving = by_key(await run(rt, data, referral_report, whole(data, group_by="hospital")))
    assert list(receiving) == [data.h1] and receiving[data.h1]["visit_rate"] == 0.5


async def test_comparison_side_by_side(rt, data):
    rep = by_key(await run(rt, data, comparison_report, whole(data)))
    h1 = rep[data.h1]
    assert (h1["released"], h1["bookings"], h1["used"], h1["referrals"], h1["complaints"], h1["survey_responses"]) == \
        (8, 8, 4, 2, 2, 3)
    assert h1["satisfaction"] == 3.67 and rep[data.h2]["referrals"] == 0
    campuses = by_key(await run(rt, data, comparison_report, whole(data, group_by="campus")))
    assert campuses[data.campus_a]["bookings"] == 7 and campuses[data.campus_b]["bookings"] == 1
    assert campuses[data.campus_b]["label"] == "市一院 东院"


@pytest.mark.parametrize("name", sorted(REPORTS))
async def test_region_filter_is_a_hard_restriction(rt, data, name):
    report = REPORTS[name]
    only2 = await run(rt, data, report, whole(data, district_ids=[data.district2]))
    assert {r["key"] for r in only2.rows} <= {data.h2}
    nothing = await run(rt, data, report, whole(data, district_ids=[]))
    assert nothing.rows == []
    crossed = await run(rt, data, report, whole(data, district_ids=[data.district2], hospital_ids=[data.h1]))
    assert crossed.rows == []


async def test_region_filter_counts_only_its_hospitals(rt, data):
    rep = await run(rt, data, bookings_report, whole(data, district_ids=[data.district2], group_by="channel"))
    assert rep.totals["bookings"] == 6
    rep = await run(rt, data, slot_report, whole(data, hospital_ids=[data.h1], group_by="day"))
    assert rep.totals["released"] == 8 and rep.totals["withdrawn"] == 5


async def test_department_and_channel_filters(rt, data):
    rep = await run(rt, data, bookings_report, whole(data, department_ids=[data.d2]))
    assert rep.totals["bookings"] == 6
    rep = await run(rt, data, bookings_report, whole(data, channels=["web", "wechat"]))
    assert rep.totals["bookings"] == 8


async def test_refused_filters_and_groupings(rt, data):
    for report, f, code in (
        (bookings_report, whole(data, group_by="status"), "invalid_group_by"),
        (slot_report, whole(data, channels=["web"]), "filter_not_supported"),
        (bookings_report, ReportFilter(data.future, data.past), "invalid_date_range"),
    ):
        with pytest.raises(ValidationFailed) as e:
            await run(rt, data, report, f)
        assert e.value.code == code and e.value.status == 422


async def test_another_city_never_counts(rt, data):
    from tests.factories import make_city

    other = await make_city(rt, f"{data.city.slug}-x")
    await build(rt, other)
    rep = await run(rt, data, bookings_report, whole(data))
    assert rep.totals["bookings"] == 14


async def test_rollups_give_the_same_answers_as_live_rows(rt, data):
    filters = [whole(data, group_by=g) for g in ("hospital", "doctor", "channel", "day", "campus", "pool")]
    live = [await run(rt, data, r, f) for r in (bookings_report, no_show_report, slot_report) for f in filters
            if f.group_by in _groups(r)]
    live += [await run(rt, data, no_show_report, whole(data, group_by="time_period")),
             await run(rt, data, referral_report, whole(data, group_by="centre"))]
    with use_city(data.city):
        async with rt.db.transaction() as s:
            done = await refresh_rollups(s)
            cover = await coverage(s)
            rolled = await s.scalar(select(func.sum(BookingStatsDaily.bookings)))
            direct = await s.scalar(select(func.count()).select_from(Booking).where(Booking.session_date < data.future))
    assert done.date_from == data.past and cover.rolled_through == data.future - timedelta(days=3)
    assert rolled == direct == 12  # every closed day's booking, none of the future day's
    again = [await run(rt, data, REPORTS[rep.key], rep.filter) for rep in live]
    for before, after in zip(live, again, strict=False):
        assert before.rows == after.rows and before.totals == after.totals, before.key
    with use_city(data.city):
        async with rt.db.transaction() as s:
            await refresh_rollups(s)  # idempotent: the same days rebuilt, nothing doubled
            assert await s.scalar(select(func.sum(BookingStatsDaily.bookings))) == 12
    month = await run(rt, data, bookings_report, whole(data, group_by="month"))
    assert month.totals["bookings"] == 14


def _groups(report):
    from guahao.core.reports import bookings, slots

    return {bookings_report: bookings.BOOKING_GROUPS, no_show_report: bookings.NO_SHOW_GROUPS,
            slot_report: slots.SLOT_GROUPS}[report]


async def test_periodic_refresh_rolls_up_every_city(rt, data):
    from guahao.core.jobs.periodic import refresh_report_rollups

    assert await refresh_report_rollups(rt) > 0
    with use_city(data.city):
        async with rt.db.transaction() as s:
            cover = await coverage(s)
    assert cover.rolled_from == data.past


async def test_short_and_long_live_runs_agree(rt, data):
    """Open days read live, one day or a run of them around it, give the same rows, whatever
    the session and pool attributes the grouping looks up."""
    for group in ("campus", "pool", "half_day", "doctor"):
        one_day = await run(rt, data, bookings_report, ReportFilter(data.future, data.future, group_by=group))
        assert one_day.totals["bookings"] == 2 and one_day.totals["confirmed"] == 2
        around = ReportFilter(data.future - timedelta(days=5), data.future + timedelta(days=5), group_by=group)
        week = await run(rt, data, bookings_report, around)
        assert week.rows == one_day.rows
    with_channel = await run(rt, data, bookings_report, ReportFilter(data.future, data.future, group_by="doctor",
                                                                      channels=["wechat"]))
    assert with_channel.totals["bookings"] == 1


async def test_monthly_rollups_give_the_same_answers(rt, data):
    """Once whole months are rolled up, reports read them from the monthly rollups (and the
    days around them from the daily ones): every figure stays the same."""
    from guahao.core.models import BookingStatsMonthly
    from guahao.core.reports.rollup import month_start, next_month
    from guahao.tenants.clock import frozen

    start = month_start(data.past - timedelta(days=1))
    end = next_month(data.future) - timedelta(days=1)
    wide = ReportFilter(start - timedelta(days=3), end)
    cases = [(bookings_report, g) for g in ("hospital", "campus", "doctor", "channel", "pool", "half_day", "month",
                                            "weekday", "day", "district")]
    cases += [(no_show_report, "time_period"), (no_show_report, "month"), (slot_report, "campus"),
              (slot_report, "month"), (referral_report, "centre"), (comparison_report, "campus")]
    live = [await run(rt, data, r, wide.with_group(g)) for r, g in cases]
    with frozen(datetime.combine(end + timedelta(days=40), time(4), UTC)):
        with use_city(data.city):
            async with rt.db.transaction() as s:
                await refresh_rollups(s, date_from=start)
                monthly = await s.scalar(select(func.sum(BookingStatsMonthly.bookings)))
        rolled = [await run(rt, data, r, wide.with_group(g)) for r, g in cases]
    assert monthly == 14
    for (report, group), before, after in zip(cases, live, rolled, strict=False):
        assert before.rows == after.rows and before.totals == after.totals, (report.__name__, group)
    assert [r["key"] for r in live[cases.index((bookings_report, "month"))].rows] == \
        sorted({d.strftime("%Y-%m") for d in (data.past, data.future)})


async def test_the_embedded_runner_refreshes_the_rollups(rt, data, monkeypatch):
    """Without a worker (no Redis) the web process's own runner rolls the closed days up."""
    import asyncio

    from guahao.core.jobs import embedded, periodic

    async def this_city_only(rt):  # the shared test database holds hundreds of cities
        return [data.city]

    async def nothing(*args, **kwargs):  # the other passes work on every city of the shared database
        return None

    monkeypatch.setattr(embedded, "REPORT_ROLLUPS_FIRST", 0.0)
    monkeypatch.setattr(periodic, "active_cities", this_city_only)
    for other_pass in ("drain_in_process", "release_pools", "sweep_no_shows"):
        monkeypatch.setattr(embedded, other_pass, nothing)
    stop = asyncio.Event()
    loop = asyncio.create_task(embedded._loop(rt, stop, 0.05))  # what in_process_runner runs
    try:
        for _ in range(400):
            with use_city(data.city):
                async with rt.db.transaction() as s:
                    cover = await coverage(s)
            if cover is not None:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(loop, 30)
    assert cover is not None and cover.rolled_from == data.past
