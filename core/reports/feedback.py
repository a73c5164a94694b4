"""Complaints (R13.4) and satisfaction (R13.5) reports, read live: a city's complaints and
survey answers are a small fraction of its bookings and carry their own indexes.

Complaints count by submission day (local); the reply time is from submission to the first
reply, over the complaints that have one. Surveys count by visit day; scores are 1–5 and a
visit counts as satisfied when its overall score is 4 or 5.
"""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.models import Complaint, SurveyResponse
from guahao.tenants.context import require_city

from .base import ChartHint, Column, Report, ReportFilter, check_filter, finish, ratio, region_conditions
from .bookings import label_columns
from .dims import DIMENSIONS, TIME_KINDS
from .query import dialect_of, grouped, local_day_sql, seconds_between

COMPLAINT_GROUPS = ("hospital", "district", "status", "category", "day", "month")
SATISFACTION_GROUPS = ("hospital", "district", "department", "doctor", "day", "month")


def _sum(name: str):
    return lambda c: func.sum(c[name])


def _count_status(status: str):
    """How many complaints of the subquery ``c`` are in ``status``."""
    return lambda c: func.sum(case((c.status == status, 1), else_=0))


async def complaints_report(s: AsyncSession, f: ReportFilter) -> Report:
    """投诉统计: complaints by ``f.group_by`` and status, with the average time to reply."""
    check_filter(f, groups=COMPLAINT_GROUPS, refuse=("department_ids", "channels"))
    city = require_city()
    dialect = dialect_of(s)
    C = Complaint.__table__
    start, end = f.utc_bounds(city.tz)
    replied = C.c.replied_at.is_not(None)
    sq = (
        select(
            C.c.hospital_id, C.c.status, C.c.category,
            local_day_sql(C.c.created_at, city.tz, start, dialect).label("day"),
            case((replied, 1), else_=0).label("answered"),
            case((replied, seconds_between(C.c.created_at, C.c.replied_at, dialect)), else_=0).label("reply_seconds"),
        )
        .where(C.c.city_id == city.id, C.c.created_at >= start, C.c.created_at < end,
               *region_conditions(f, hospital_id=C.c.hospital_id))
        .subquery()
    )
    dim = DIMENSIONS[f.group_by]
    measures = {
        "complaints": lambda c: func.count(),
        **{status: _count_status(status) for status in ("submitted", "replied", "closed")},
        "answered": _sum("answered"),
        "reply_seconds": _sum("reply_seconds"),
    }
    rows = await grouped(s, sq, dim, measures, city_id=city.id)
    rows, totals = finish(rows, tuple(measures), lambda r: {
        "reply_rate": ratio(r["answered"], r["complaints"]),
        "avg_reply_hours": round(r["reply_seconds"] / r["answered"] / 3600, 1) if r["answered"] else None,
    })
    for r in [*rows, totals]:
        r.pop("reply_seconds")
    columns = label_columns(dim) + [
        Column("complaints", "投诉数", "Complaints"),
        Column("submitted", "待回复", "Awaiting reply"),
        Column("replied", "已回复", "Replied"),
        Column("closed", "已办结", "Closed"),
        Column("reply_rate", "回复率", "Reply rate", "rate"),
        Column("avg_reply_hours", "平均回复时长(小时)", "Avg. time to reply (h)", "hours"),
    ]
    chart = (ChartHint("line", ("complaints", "submitted")) if dim.kind in TIME_KINDS
             else ChartHint("stacked_bar", ("submitted", "replied", "closed")))
    return Report("complaints", "投诉统计", "Complaints", f, columns, rows, totals, chart)


async def satisfaction_report(s: AsyncSession, f: ReportFilter) -> Report:
    """满意度: survey answers by ``f.group_by`` with the average of each score."""
    check_filter(f, groups=SATISFACTION_GROUPS, refuse=("channels",))
    city = require_city()
    S = SurveyResponse.__table__
    sq = (
        select(S.c.hospital_id, S.c.department_id, S.c.doctor_id, S.c.visit_date.label("day"),
               S.c.overall, S.c.waiting, S.c.attitude)
        .where(S.c.city_id == city.id, S.c.visit_date.between(f.date_from, f.date_to),
               *region_conditions(f, hospital_id=S.c.hospital_id, department_id=S.c.department_id))
        .subquery()
    )
    dim = DIMENSIONS[f.group_by]
    scores = ("overall", "waiting", "attitude")
    measures = {
        "responses": lambda c: func.count(),
        **{f"{k}_sum": _sum(k) for k in scores},
        "satisfied": lambda c: func.sum(case((c.overall >= 4, 1), else_=0)),
    }
    rows = await grouped(s, sq, dim, measures, city_id=city.id)
    rows, totals = finish(rows, tuple(measures), lambda r: {
        **{k: round(r[f"{k}_sum"] / r["responses"], 2) if r["responses"] else None for k in scores},
        "satisfied_rate": ratio(r["satisfied"], r["responses"]),
    })
    for r in [*rows, totals]:
        for k in scores:
            r.pop(f"{k}_sum")
    columns = label_columns(dim) + [
        Column("responses", "评价数", "Responses"),
        Column("overall", "总体满意度", "Overall", "score"),
        Column("waiting", "候诊时间", "Waiting time", "score"),
        Column("attitude", "医生态度", "Doctor's attitude", "score"),
        Column("satisfied_rate", "满意率(4–5分)", "Satisfied (4–5)", "rate"),
    ]
    chart = (ChartHint("line", ("overall", "waiting", "attitude")) if dim.kind in TIME_KINDS
             else ChartHint("bar", ("overall", "waiting", "attitude"), rates=("satisfied_rate",)))
    return Report("satisfaction", "满意度统计", "Satisfaction", f, columns, rows, totals, chart)
