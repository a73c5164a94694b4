"""A hospital's own statistics (R11.3): bookings by day and by department with their outcome,
and the no-show rate by department, for a date range of visit days.

The figures come from the bureau's reports (``core.reports``) with the filter held to the one
hospital, so the hospital sees the same numbers the health bureau sees for it.
"""

from __future__ import annotations

from datetime import timedelta

from starlette.responses import Response
from starlette.routing import Route

from guahao.core.reports import ReportFilter, bookings_report, no_show_report
from guahao.tenants.clock import utcnow

from ..kit.pages import Console, console_page
from .pick import chosen_hospital, parse_date

DEFAULT_DAYS = 30
MAX_DAYS = 366


@console_page("reports.view")
async def stats(c: Console) -> Response:
    q = c.request.query_params
    today = utcnow().astimezone(c.city.tz).date()
    date_to = parse_date(q.get("to")) or today
    date_from = parse_date(q.get("from")) or date_to - timedelta(days=DEFAULT_DAYS - 1)
    date_from = min(max(date_from, date_to - timedelta(days=MAX_DAYS - 1)), date_to)
    reports = []
    async with c.transaction() as s:
        hospital, choices = await chosen_hospital(c, s)
        if hospital is not None:
            f = ReportFilter(date_from, date_to, hospital_ids=[hospital.id])
            reports = [
                await bookings_report(s, f.with_group("day")),
                await bookings_report(s, f.with_group("department")),
                await no_show_report(s, f.with_group("department")),
            ]
    return c.render("hospital/stats.html", hospital=hospital, choices=choices, reports=reports,
                    date_from=date_from, date_to=date_to)


def routes() -> list:
    return [Route("/c/{city}/hospital/stats", stats, methods=["GET"])]
