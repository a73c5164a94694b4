"""Slot statistics (R13.3) and the hospital / campus comparison (R13.7).

Definitions, used the same way everywhere:

- **released** (放号): units of the pools of open sessions — what patients could book.
  Units of suspended or cancelled sessions (停诊) are **withdrawn**, not released.
- **booked** (已预约): bookings that took a unit and kept it — pending, confirmed,
  checked in or no-show (cancelled and expired bookings gave their unit back).
- **used** (已使用): bookings checked in.
- **wasted** (浪费): released units nobody booked (``max(released − booked, 0)``) plus
  booked units nobody came to (no-shows).
"""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.models import Complaint, SurveyResponse
from guahao.tenants.context import require_city

from .base import ChartHint, Column, Report, ReportFilter, check_filter, finish, ratio, region_conditions
from .bookings import booking_source_for, is_referral, label_columns
from .dims import DIMENSIONS, TIME_KINDS
from .query import aggregate, sort_key, total
from .rollup import SLOTS

SLOT_GROUPS = ("hospital", "district", "campus", "department", "doctor", "pool", "half_day", "day", "month", "weekday")
COMPARISON_GROUPS = ("hospital", "campus")

_BOOKED = total("pending", "confirmed", "checked_in", "no_show")


async def _slot_rows(s: AsyncSession, f: ReportFilter, *, referrals: bool = False) -> list[dict]:
    """Released and withdrawn capacity merged with booked/used/no-show (and with
    ``referrals`` the referral bookings), by ``f.group_by``."""
    dim = DIMENSIONS[f.group_by]
    released = await aggregate(
        s, SLOTS.narrow({dim.column}), f, dim, {"released": total("released"), "withdrawn": total("withdrawn")}
    )
    measures = {
        "bookings": total("bookings"), "booked": _BOOKED, "used": total("checked_in"), "no_show": total("no_show"),
        "cancelled": total("cancelled"),
    }
    if referrals:
        measures["referrals"] = lambda c: func.sum(case((is_referral(c)[0], c["bookings"]), else_=0))
    extra = ("pool", "referral_centre_id") if referrals else ()
    booked = await aggregate(s, booking_source_for(f, *extra), f, dim, measures)
    merged = {r["key"]: {"released": 0, "withdrawn": 0, **r} for r in released}
    for r in booked:
        merged.setdefault(r["key"], {"released": 0, "withdrawn": 0}).update(r)
    empty = dict.fromkeys(measures, 0)
    rows = [{**empty, **r} for r in merged.values()]
    return sorted(rows, key=sort_key(dim))


def _slot_figures(r: dict) -> dict:
    unbooked = max(r["released"] - r["booked"], 0)
    return {
        "unbooked": unbooked,
        "wasted": unbooked + r["no_show"],
        "fill_rate": ratio(r["booked"], r["released"]),
        "use_rate": ratio(r["used"], r["released"]),
        "waste_rate": ratio(unbooked + r["no_show"], r["released"]),
    }


async def slot_report(s: AsyncSession, f: ReportFilter) -> Report:
    """号源统计: released, booked, used and wasted units by ``f.group_by`` (see the module's
    definitions). Capacity belongs to no channel, so a channel filter is refused."""
    check_filter(f, groups=SLOT_GROUPS, refuse=("channels",))
    dim = DIMENSIONS[f.group_by]
    sums = ("released", "withdrawn", "booked", "used", "no_show")
    rows = await _slot_rows(s, f)
    for r in rows:
        r.update(_slot_figures(r))
    totals = {k: sum(r[k] for r in rows) for k in sums + ("unbooked", "wasted")}
    totals.update({
        "fill_rate": ratio(totals["booked"], totals["released"]),
        "use_rate": ratio(totals["used"], totals["released"]),
        "waste_rate": ratio(totals["wasted"], totals["released"]),
        "label": "合计", "label_en": "Total",
    })
    columns = label_columns(dim) + [
        Column("released", "放号", "Released"),
        Column("booked", "已预约", "Booked"),
        Column("used", "已使用", "Used"),
        Column("no_show", "爽约", "No-show"),
        Column("unbooked", "未预约", "Not booked"),
        Column("wasted", "浪费", "Wasted"),
        Column("withdrawn", "停诊撤回", "Withdrawn"),
        Column("fill_rate", "预约率", "Booked share", "rate"),
        Column("use_rate", "使用率", "Used share", "rate"),
        Column("waste_rate", "浪费率", "Wasted share", "rate"),
    ]
    chart = (ChartHint("line", ("released", "booked", "used", "wasted")) if dim.kind in TIME_KINDS
             else ChartHint("bar", ("released", "booked", "used", "wasted"), rates=("fill_rate",)))
    notes = ["放号 = 开诊出诊的号源容量；已预约 = 未取消、未过期的预约；已使用 = 已就诊；浪费 = 未预约 + 爽约。"]
    return Report("slots", "号源统计", "Slot statistics", f, columns, rows, totals, chart, notes)


async def comparison_report(s: AsyncSession, f: ReportFilter) -> Report:
    """各院区对比: the key figures of each hospital (or campus) side by side — released
    units, bookings, visits, the fill, no-show and cancel rates, referrals received, and for
    hospitals their complaints and survey score."""
    check_filter(f, groups=COMPARISON_GROUPS, refuse=("channels",))
    rows = await _slot_rows(s, f, referrals=True)
    by_hospital = f.group_by == "hospital"
    feedback = await _hospital_feedback(s, f, require_city().id) if by_hospital else {}
    for r in rows:
        fb = feedback.get(r["key"], {})
        r.update({
            "complaints": fb.get("complaints", 0),
            "survey_responses": fb.get("responses", 0),
            "satisfaction_sum": fb.get("overall", 0),
        })
    sums = ("released", "bookings", "booked", "used", "no_show", "cancelled", "referrals", "satisfaction_sum")
    if by_hospital:
        sums += ("complaints", "survey_responses")
    rows, totals = finish(rows, sums, lambda r: {
        "fill_rate": ratio(r["booked"], r["released"]),
        "no_show_rate": ratio(r["no_show"], r["used"] + r["no_show"]),
        "cancel_rate": ratio(r["cancelled"], r["bookings"]),
        "satisfaction": round(r["satisfaction_sum"] / r["survey_responses"], 2) if r.get("survey_responses") else None,
    })
    columns = label_columns(DIMENSIONS[f.group_by]) + [
        Column("released", "放号", "Released"),
        Column("bookings", "预约总数", "Bookings"),
        Column("used", "已就诊", "Visits"),
        Column("referrals", "接收转诊", "Referrals in"),
        Column("fill_rate", "预约率", "Booked share", "rate"),
        Column("no_show_rate", "爽约率", "No-show rate", "rate"),
        Column("cancel_rate", "取消率", "Cancel rate", "rate"),
    ]
    if by_hospital:
        columns += [Column("complaints", "投诉", "Complaints"), Column("survey_responses", "评价数", "Surveys"),
                    Column("satisfaction", "满意度", "Satisfaction", "score")]
    for r in [*rows, totals]:
        r.pop("satisfaction_sum", None)
    chart = ChartHint("bar", ("released", "bookings", "used"), rates=("fill_rate", "no_show_rate"))
    return Report("comparison", "各院区对比", "Hospital comparison", f, columns, rows, totals, chart)


async def _hospital_feedback(s: AsyncSession, f: ReportFilter, city_id: int) -> dict[int, dict]:
    """Complaints (by submission day) and survey answers (by visit day) per hospital; a
    department filter narrows the surveys only (a complaint names no department)."""
    C, S = Complaint.__table__, SurveyResponse.__table__
    start, end = f.utc_bounds(require_city().tz)
    out: dict[int, dict] = {}
    q = (select(C.c.hospital_id, func.count())
         .where(C.c.city_id == city_id, C.c.created_at >= start, C.c.created_at < end,
                *region_conditions(f, hospital_id=C.c.hospital_id))
         .group_by(C.c.hospital_id))
    for hid, n in (await s.execute(q)).all():
        out.setdefault(hid, {})["complaints"] = n
    q = (select(S.c.hospital_id, func.count(), func.sum(S.c.overall))
         .where(S.c.city_id == city_id, S.c.visit_date.between(f.date_from, f.date_to),
                *region_conditions(f, hospital_id=S.c.hospital_id, department_id=S.c.department_id))
         .group_by(S.c.hospital_id))
    for hid, n, overall in (await s.execute(q)).all():
        out.setdefault(hid, {}).update(responses=n, overall=int(overall or 0))
    return out
