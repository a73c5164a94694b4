"""Booking reports (R13.1, R13.2, R13.6): bookings by status, no-show rates, referrals.

Bookings are counted by visit day (the session's date) and their current status:
``pending`` (held for payment or offered from the waitlist), ``confirmed`` (still to come,
or past but not yet swept), ``checked_in``, ``no_show``, ``cancelled`` and ``expired``.
The no-show rate is ``no_show / (checked_in + no_show)``: of the visits that fell due, the
share nobody came to; cancelled bookings are not due.
"""

from __future__ import annotations

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession

from .base import ChartHint, Column, Report, ReportFilter, check_filter, finish, ratio
from .dims import DIMENSIONS, TIME_KINDS
from .query import aggregate, total
from .rollup import PERIODS, Source, booking_source

BOOKING_GROUPS = ("hospital", "district", "campus", "department", "doctor", "channel", "pool", "half_day",
                  "day", "month", "weekday")
NO_SHOW_GROUPS = ("hospital", "district", "department", "doctor", "half_day", "time_period", "channel",
                  "day", "month", "weekday")
REFERRAL_GROUPS = ("centre", "hospital", "department", "day", "month")


def is_referral(c) -> list:
    """A referral: booked in a referral pool, or recorded as a community centre's referral."""
    return [or_(c["pool"] == "referral", c["referral_centre_id"] != 0)]


def label_columns(dim) -> list[Column]:
    return [Column("label", dim.zh, dim.en, "label")]


def booking_source_for(f: ReportFilter, *extra: str) -> Source:
    """The booking rollup that keeps the grouping, the filters used and ``extra`` columns."""
    needs = {DIMENSIONS[f.group_by].column, *extra}
    if f.channels is not None:
        needs.add("channel")
    if f.department_ids is not None:
        needs.add("department_id")
    return booking_source(needs)


async def bookings_report(s: AsyncSession, f: ReportFilter) -> Report:
    """患者预约信息报表: bookings by ``f.group_by`` with their status breakdown."""
    check_filter(f, groups=BOOKING_GROUPS)
    dim = DIMENSIONS[f.group_by]
    counts = ("bookings", "pending", "confirmed", "checked_in", "no_show", "cancelled", "expired")
    rows = await aggregate(s, booking_source_for(f), f, dim, {n: total(n) for n in counts})
    rows, totals = finish(rows, counts, lambda r: {
        "cancel_rate": ratio(r["cancelled"], r["bookings"]),
        "no_show_rate": ratio(r["no_show"], r["checked_in"] + r["no_show"]),
    })
    columns = label_columns(dim) + [
        Column("bookings", "预约总数", "Bookings"),
        Column("confirmed", "待就诊", "Confirmed"),
        Column("checked_in", "已就诊", "Checked in"),
        Column("no_show", "爽约", "No-show"),
        Column("cancelled", "已取消", "Cancelled"),
        Column("pending", "待支付/候补", "Pending"),
        Column("expired", "已过期", "Expired"),
        Column("cancel_rate", "取消率", "Cancel rate", "rate"),
        Column("no_show_rate", "爽约率", "No-show rate", "rate"),
    ]
    chart = (ChartHint("line", ("bookings", "checked_in", "no_show", "cancelled")) if dim.kind in TIME_KINDS
             else ChartHint("stacked_bar", ("confirmed", "checked_in", "no_show", "cancelled", "pending", "expired")))
    return Report("bookings", "患者预约信息报表", "Bookings", f, columns, rows, totals, chart)


async def no_show_report(s: AsyncSession, f: ReportFilter) -> Report:
    """爽约率: visits due, no-shows and the no-show rate by ``f.group_by`` (time period: the
    period's start time, 时段)."""
    by_period = f.group_by == "time_period"
    check_filter(f, groups=NO_SHOW_GROUPS, refuse=("channels",) if by_period else ())
    dim = DIMENSIONS[f.group_by]
    source = PERIODS.narrow({"period_start"}) if by_period else booking_source_for(f)
    rows = await aggregate(s, source, f, dim, {"checked_in": total("checked_in"), "no_show": total("no_show")})
    rows, totals = finish(rows, ("checked_in", "no_show"), lambda r: {
        "due": r["checked_in"] + r["no_show"],
        "no_show_rate": ratio(r["no_show"], r["checked_in"] + r["no_show"]),
    })
    columns = label_columns(dim) + [
        Column("due", "应就诊", "Visits due"),
        Column("checked_in", "已就诊", "Checked in"),
        Column("no_show", "爽约", "No-show"),
        Column("no_show_rate", "爽约率", "No-show rate", "rate"),
    ]
    chart = ChartHint("bar", ("no_show",), rates=("no_show_rate",))
    notes = ["爽约率 = 爽约 / (已就诊 + 爽约)；已取消的预约不计入。"]
    return Report("no_show", "爽约率统计", "No-show rate", f, columns, rows, totals, chart, notes)


async def referral_report(s: AsyncSession, f: ReportFilter) -> Report:
    """社区转诊: bookings made by community centres in hospitals' referral pools (or recorded
    as referrals), by referring centre or receiving hospital, with their outcome. The region
    filter applies to the receiving hospital."""
    check_filter(f, groups=REFERRAL_GROUPS)
    dim = DIMENSIONS[f.group_by]
    measures = {
        "referrals": total("bookings"), "upcoming": total("pending", "confirmed"), "checked_in": total("checked_in"),
        "no_show": total("no_show"), "cancelled": total("cancelled", "expired"),
    }
    rows = await aggregate(s, booking_source_for(f, "pool", "referral_centre_id"), f, dim, measures,
                           where=is_referral)
    rows, totals = finish(rows, tuple(measures), lambda r: {
        "visit_rate": ratio(r["checked_in"], r["checked_in"] + r["no_show"]),
    })
    columns = label_columns(dim) + [
        Column("referrals", "转诊预约", "Referrals"),
        Column("upcoming", "待就诊", "Upcoming"),
        Column("checked_in", "已就诊", "Checked in"),
        Column("no_show", "爽约", "No-show"),
        Column("cancelled", "取消/过期", "Cancelled"),
        Column("visit_rate", "到诊率", "Visit rate", "rate"),
    ]
    chart = ChartHint("stacked_bar", ("checked_in", "no_show", "cancelled", "upcoming"), rates=("visit_rate",))
    notes = ["转出机构取自转诊登记（referrals.centre_id）；转诊号源中没有登记的预约列为“未登记”。"]
    return Report("referrals", "社区转诊报表", "Referrals", f, columns, rows, totals, chart, notes)
