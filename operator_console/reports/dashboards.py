"""Health-bureau dashboards (卫生局监控统计, R13; a hospital's own figures, R11.3).

An overview with the key figures and small charts, one page per report of
:mod:`core.reports`, and each report as CSV or XLSX. Every chart has its data table beneath
it, readable without JavaScript; the chart options are embedded as JSON and drawn by
``static/dashboards.js`` with the vendored ECharts.

The viewer's region is decided here, on the server, and handed to the report as mandatory
filter clauses: a bureau viewer with districts sees those districts, a hospital's staff see
their hospital, everyone else with ``reports.view`` the whole city. A district, hospital or
department in the query string outside that region is answered 404, like one that does not
exist; it never widens or silently narrows the figures.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response
from starlette.routing import Route

from guahao.core.errors import DomainError, NotFound, ValidationFailed
from guahao.core.models import Department, District, Hospital
from guahao.core.models.staff import HOSPITAL_ROLES
from guahao.core.reports import GROUPS, REPORTS, Report, ReportFilter, to_csv, to_xlsx
from guahao.core.reports.dims import CHANNELS, DIMENSIONS
from guahao.tenants.clock import utcnow

from ..kit import access
from ..kit.files import content_disposition
from ..kit.pages import Console, console_page
from .charts import report_option

DEFAULT_RANGE = "30"
# "Last N days" and "this year" run up to and including today: closed days are read from the
# rollups and today live, so the figures of the day under way show as they come in. A page
# opened without dates shows the last 30 days. "ahead": the booking window from today.
QUICK_RANGES = (("7", "Last 7 days"), ("30", "Last 30 days"), ("90", "Last 90 days"), ("year", "This year"),
                ("ahead", "Next 14 days"))
AHEAD_DAYS = 14

# The report pages in menu order: key of ``core.reports.REPORTS`` → English menu label.
PAGES = {
    "bookings": "Bookings",
    "no_show": "No-shows",
    "slots": "Slots",
    "complaints": "Complaint statistics",
    "satisfaction": "Satisfaction",
    "referrals": "Referrals",
    "comparison": "Comparison",
}
# The optional filters each report honours (the others refuse them, see ``core.reports``).
OPTIONAL_FILTERS = {
    "bookings": {"department", "channel"},
    "no_show": {"department", "channel"},
    "slots": {"department"},
    "complaints": set(),
    "satisfaction": {"department"},
    "referrals": {"department", "channel"},
    "comparison": {"department"},
}
EXPORTS = {"csv": ("text/csv; charset=utf-8", to_csv),
           "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", to_xlsx)}


@dataclass(frozen=True)
class Scope:
    """The region a principal's reports cover and what the filters offer within it.

    ``district_ids`` / ``hospital_ids`` go into every :class:`ReportFilter` (``None``: no
    restriction at that level); ``districts`` and ``hospitals`` are the choices shown."""

    district_ids: tuple[int, ...] | None
    hospital_ids: tuple[int, ...] | None
    districts: list[District]
    hospitals: list[Hospital]

    def allows_hospital(self, hospital: Hospital) -> bool:
        return (self.hospital_ids is None or hospital.id in self.hospital_ids) and (
            self.district_ids is None or hospital.district_id in self.district_ids)


async def scope_of(c: Console, s: AsyncSession) -> Scope:
    p = c.principal
    hospitals = list((await s.scalars(select(Hospital).order_by(Hospital.code))).all())
    if p.role in HOSPITAL_ROLES:
        own = (p.hospital_id,) if p.hospital_id else ()
        return Scope(None, own, [], [h for h in hospitals if h.id in own])
    districts = list((await s.scalars(select(District).order_by(District.code))).all())
    if p.role == access.R.bureau_viewer and p.district_ids:
        mine = tuple(p.district_ids)
        return Scope(mine, None, [d for d in districts if d.id in mine],
                     [h for h in hospitals if h.district_id in mine])
    return Scope(None, None, districts, hospitals)


@dataclass(frozen=True)
class Query:
    """The filters of one dashboard request, each checked against the scope."""

    date_from: date
    date_to: date
    range: str = ""  # the quick pick that produced the dates, if any
    district: District | None = None
    hospital: Hospital | None = None
    department: Department | None = None
    channel: str | None = None
    group: str | None = None

    def params(self, **override: Any) -> dict[str, str]:
        """The query-string fields that reproduce this request (``override`` replaces some;
        ``None`` drops one)."""
        out = {"from": self.date_from.isoformat(), "to": self.date_to.isoformat(),
               "district": self.district.id if self.district else None,
               "hospital": self.hospital.id if self.hospital else None,
               "department": self.department.id if self.department else None,
               "channel": self.channel, "group": self.group}
        out.update(override)
        return {k: str(v) for k, v in out.items() if v not in (None, "")}

    def href(self, path: str, **override: Any) -> str:
        query = urlencode(self.params(**override))
        return f"{path}?{query}" if query else path


def _today(c: Console) -> date:
    return utcnow().astimezone(c.city.tz).date()


def _id(c: Console, name: str) -> int | None:
    """An id from the query string; anything present that is not an id is 404."""
    raw = c.request.query_params.get(name, "").strip()
    if not raw:
        return None
    value = c.int_field(name)
    if value is None:
        raise NotFound(name, code=f"{name}_not_found")
    return value


def _date(c: Console, name: str) -> date | None:
    raw = c.request.query_params.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed("invalid_date", "日期格式应为 YYYY-MM-DD / dates are YYYY-MM-DD",
                               details={"field": name}) from None


def _dates(c: Console) -> tuple[date, date, str]:
    """The request's first and last day and the quick range that gave them: a quick range, else
    the dates asked for (a missing one a default range's length from the other), else the
    default range, up to and including today."""
    today = _today(c)
    params = c.request.query_params
    quick = params.get("range", "")
    if not quick and not params.get("from", "").strip() and not params.get("to", "").strip():
        quick = DEFAULT_RANGE
    if quick == "ahead":
        return today, today + timedelta(days=AHEAD_DAYS - 1), quick
    if quick == "year":
        return date(today.year, 1, 1), today, quick
    if quick.isdigit() and quick in dict(QUICK_RANGES):
        return today - timedelta(days=int(quick) - 1), today, quick
    date_to = _date(c, "to") or today
    date_from = _date(c, "from") or date_to - timedelta(days=int(DEFAULT_RANGE) - 1)
    return date_from, date_to, ""


async def read_query(c: Console, s: AsyncSession, scope: Scope, report: str | None) -> Query:
    """The request's filters for ``report`` (``None``: the overview, region and dates only)."""
    date_from, date_to, quick = _dates(c)
    q = Query(date_from, date_to, quick)
    district_id = _id(c, "district")
    if district_id is not None:
        district = next((d for d in scope.districts if d.id == district_id), None)
        if district is None:
            raise NotFound("district", code="district_not_found")
        q = replace(q, district=district)
    hospital_id = _id(c, "hospital")
    if hospital_id is not None:
        hospital = await s.get(Hospital, hospital_id)
        if hospital is None or not scope.allows_hospital(hospital):
            raise NotFound("hospital", code="hospital_not_found")
        q = replace(q, hospital=hospital)
    optional = OPTIONAL_FILTERS.get(report, set())
    department_id = _id(c, "department") if "department" in optional else None
    if department_id is not None:
        department = await s.get(Department, department_id)
        owner = await s.get(Hospital, department.hospital_id) if department else None
        if owner is None or not scope.allows_hospital(owner) or (q.hospital and owner.id != q.hospital.id):
            raise DomainError("department_not_found", "该科室不存在或不在您的统计范围内 / this department does not exist "
                              "or is outside your scope", status=404)
        q = replace(q, department=department)
    channel = c.request.query_params.get("channel", "").strip() if "channel" in optional else ""
    if channel:
        if channel not in CHANNELS:
            raise ValidationFailed("invalid_channel", "未知的预约渠道 / unknown booking channel",
                                   details={"field": "channel"})
        q = replace(q, channel=channel)
    if report is not None:
        group = c.request.query_params.get("group", "").strip() or GROUPS[report][0]
        if group not in GROUPS[report]:
            raise ValidationFailed("invalid_group_by", "该报表不支持这种分组方式 / this report cannot be grouped so",
                                   details={"field": "group", "allowed": list(GROUPS[report])})
        q = replace(q, group=group)
    return q


def report_filter(scope: Scope, q: Query, group: str) -> ReportFilter:
    """The filter handed to a report: the viewer's region always, narrowed by the choices."""
    district_ids = [q.district.id] if q.district else (list(scope.district_ids) if scope.district_ids is not None else None)
    hospital_ids = [q.hospital.id] if q.hospital else (list(scope.hospital_ids) if scope.hospital_ids is not None else None)
    return ReportFilter(
        q.date_from, q.date_to, district_ids=district_ids, hospital_ids=hospital_ids,
        department_ids=[q.department.id] if q.department else None,
        channels=[q.channel] if q.channel else None, group_by=group,
    )


def _lang(c: Console) -> str:
    return "zh" if c.lang == "zh-CN" else "en"


def chart(c: Console, report: Report, *, compact: bool = False) -> dict[str, Any]:
    """A report's chart for a template: the ECharts option (its title is the page's heading,
    so the chart shows none) and a height that fits its rows."""
    option = report_option(report, lang=_lang(c))
    option["animation"] = False
    option["aria"] = {"enabled": True}
    option["title"] = {"show": False}
    option["legend"]["top"] = 0
    horizontal = isinstance(option.get("yAxis"), dict) and option["yAxis"].get("type") == "category"
    rate_on_top = horizontal and isinstance(option.get("xAxis"), list)
    option["grid"]["top"] = 64 if rate_on_top else 40
    if horizontal:
        height = min(max(320, 26 * len(report.rows) + 110), 2400)
    else:
        height = 300 if compact else 400
    return {"option": option, "height": height}


def _group_label(c: Console, group: str) -> str:
    d = DIMENSIONS[group]
    return d.zh if c.lang == "zh-CN" else d.en


def _title(c: Console, report: Report) -> str:
    return report.title_zh if c.lang == "zh-CN" else report.title_en


async def _departments(s: AsyncSession, q: Query) -> list[Department]:
    if q.hospital is None:
        return []
    return list((await s.scalars(select(Department).where(Department.hospital_id == q.hospital.id)
                                 .order_by(Department.code))).all())


def _base(c: Console) -> str:
    return c.url("dashboards")


def _common(c: Console, scope: Scope, q: Query, page: str) -> dict[str, Any]:
    hospitals = [h for h in scope.hospitals if q.district is None or h.district_id == q.district.id]
    return {
        "scope": scope, "q": q, "page": page, "pages": PAGES, "quick_ranges": QUICK_RANGES, "hospitals": hospitals,
        "channels": CHANNELS, "base": _base(c), "region": _region_label(c, scope),
    }


def _region_label(c: Console, scope: Scope) -> str:
    if scope.hospital_ids is not None:
        return "、".join(h.name for h in scope.hospitals)
    if scope.district_ids is not None:
        return "、".join(d.name for d in scope.districts)
    return c.city.name


OVERVIEW_KPIS = ("bookings", "checked_in", "no_show_rate", "cancel_rate", "fill_rate", "referrals", "complaints",
                 "satisfaction")


def _overview_group(scope: Scope, q: Query) -> str:
    """Where the overview's comparisons break down: districts across a city, hospitals
    across a district, departments within one hospital."""
    if q.hospital is not None or (scope.hospital_ids is not None and len(scope.hospital_ids) == 1):
        return "department"
    if q.district is None and len(scope.districts) > 1:
        return "district"
    return "hospital"


@console_page("reports.view")
async def overview(c: Console) -> Response:
    async with c.transaction() as s:
        scope = await scope_of(c, s)
        q = await read_query(c, s, scope, None)
    where = _overview_group(scope, q)
    f = report_filter(scope, q, "day")
    by_day, by_channel, slots, no_show, complaints, satisfaction = await asyncio.gather(
        _report(c, "bookings", f), _report(c, "bookings", f.with_group("channel")),
        _report(c, "slots", f.with_group(where)), _report(c, "no_show", f.with_group(where)),
        _report(c, "complaints", f.with_group("category")), _report(c, "satisfaction", f.with_group("hospital")),
    )
    t = by_day.totals
    referrals = next((r["bookings"] for r in by_channel.rows if r["key"] == "referral"), 0)
    kpis = {
        "bookings": t["bookings"], "checked_in": t["checked_in"], "no_show_rate": t["no_show_rate"],
        "cancel_rate": t["cancel_rate"], "fill_rate": slots.totals["fill_rate"], "referrals": referrals,
        "complaints": complaints.totals["complaints"], "satisfaction": satisfaction.totals.get("overall"),
    }
    panels = [
        ("bookings", "day", by_day), ("bookings", "channel", by_channel), ("slots", where, slots),
        ("no_show", where, no_show), ("complaints", "category", complaints),
    ]
    panels_out = [{"page": page, "group": group, "report": r, "title": f"{_title(c, r)} · {_group_label(c, group)}",
                   "chart": chart(c, r, compact=True), "href": q.href(f"{_base(c)}/{page}", group=group)}
                  for page, group, r in panels]
    return c.render("dashboards/overview.html", kpis=kpis, panels=panels_out, **_common(c, scope, q, "overview"))


async def _report(c: Console, key: str, f: ReportFilter) -> Report:
    """One report in a transaction of its own, so the overview's reports run side by side on
    as many database connections (each applies the same region filter)."""
    async with c.transaction() as s:
        return await REPORTS[key](s, f)


def _report_key(c: Console) -> str:
    key = c.request.path_params["report"]
    if key not in PAGES:
        raise NotFound("report", code="not_found")
    return key


@console_page("reports.view")
async def report_page(c: Console) -> Response:
    key = _report_key(c)
    async with c.transaction() as s:
        scope = await scope_of(c, s)
        q = await read_query(c, s, scope, key)
        report = await REPORTS[key](s, report_filter(scope, q, q.group))
        departments = await _departments(s, q) if "department" in OPTIONAL_FILTERS[key] else []
    path = f"{_base(c)}/{key}"
    return c.render(
        "dashboards/report.html", report=report, title=_title(c, report), chart=chart(c, report),
        groups=[(g, _group_label(c, g)) for g in GROUPS[key]], departments=departments,
        optional=OPTIONAL_FILTERS[key], path=path,
        exports={fmt: q.href(f"{path}/export.{fmt}") for fmt in EXPORTS},
        **_common(c, scope, q, key),
    )


def export_names(report: Report, group: str, ext: str) -> tuple[str, str]:
    """The file's name, ``患者预约信息报表_医院_2026-01-01_2026-01-31.xlsx`` (what, by what,
    which days), and its ASCII stand-in for clients without RFC 6266 (``bookings_hospital_…``)."""
    f = report.filter
    days = f"{f.date_from.isoformat()}_{f.date_to.isoformat()}.{ext}"
    return f"{report.title_zh}_{DIMENSIONS[group].zh}_{days}", f"{report.key}_{group}_{days}"


@console_page("reports.view")
async def export(c: Console) -> Response:
    key = _report_key(c)
    fmt = c.request.path_params["fmt"]
    if fmt not in EXPORTS:
        raise NotFound("export", code="not_found")
    async with c.transaction() as s:
        scope = await scope_of(c, s)
        q = await read_query(c, s, scope, key)
        report = await REPORTS[key](s, report_filter(scope, q, q.group))
    media_type, write = EXPORTS[fmt]
    response = Response(write(report), media_type=media_type,
                        headers={"Content-Disposition": content_disposition(*export_names(report, q.group, fmt))})
    return c.finish(response)


def routes() -> list:
    return [
        Route("/c/{city}/dashboards", overview, methods=["GET"]),
        Route("/c/{city}/dashboards/{report}", report_page, methods=["GET"]),
        Route("/c/{city}/dashboards/{report}/export.{fmt}", export, methods=["GET"]),
    ]
