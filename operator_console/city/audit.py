"""Audit log search (R12.3): a city's log for its administrators, every city's for the vendor.

Filters: actor (``staff:12`` or a name), action prefix, target type and id, free text, and a
date range in the city's local dates. Pages are keyset-paged (``before`` = the last id seen),
so paging stays fast on a long log.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from starlette.responses import Response
from starlette.routing import Route

from guahao.core import audit
from guahao.tenants.context import platform_scope, use_cell, use_city
from guahao.tenants.models import City

from ..kit.pages import Console, console_page

PAGE = 50


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def _filters(c: Console, tz: ZoneInfo) -> dict:
    q = c.request.query_params
    since, until = _date(q.get("since", "")), _date(q.get("until", ""))
    return {
        "actor": q.get("actor", "").strip()[:120] or None,
        "action": q.get("action", "").strip()[:60] or None,
        "target_type": q.get("target_type", "").strip()[:40] or None,
        "target_id": q.get("target_id", "").strip()[:60] or None,
        "text": q.get("text", "").strip()[:100] or None,
        "since": datetime.combine(since, time(0), tz) if since else None,
        "until": datetime.combine(until + timedelta(days=1), time(0), tz) if until else None,
        "before_id": c.int_field("before"),
        "limit": PAGE + 1,
    }


def _page(rows: list) -> tuple[list, int | None]:
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return rows, (rows[-1].id if more and rows else None)


def _query(c: Console) -> dict[str, str]:
    return {k: v for k, v in c.request.query_params.items() if k != "before" and v}


@console_page("audit.view")
async def city_audit(c: Console) -> Response:
    async with c.transaction() as s:
        rows, older = _page(await audit.search(s, **_filters(c, c.city.tz)))
    return c.render("audit.html", rows=rows, older=older, query=_query(c), cities=None, tz=c.city.tz)


@console_page("vendor.manage", vendor_only=True)
async def vendor_audit(c: Console) -> Response:
    tz = ZoneInfo("Asia/Shanghai")
    filters = _filters(c, tz)
    with platform_scope("vendor audit search: city names"):
        async with c.transaction() as s:
            cities = {row.id: row for row in (await s.scalars(select(City).order_by(City.slug))).all()}
    slug = c.request.query_params.get("city", "")
    chosen = await c.rt.resolver.by_slug(slug) if slug and len(slug) <= 40 else None
    if chosen is not None:
        with use_city(chosen):
            async with c.transaction() as s:
                rows = await audit.search(s, **filters)
    elif slug:
        rows = []
    else:
        found: dict[int, object] = {}  # by id: ids are unique across cells; a moved city's old copy repeats them
        with platform_scope("vendor audit search across cities"):
            for cell in c.rt.db.cell_names:
                with use_cell(cell):
                    async with c.transaction() as s:
                        found.update((row.id, row) for row in await audit.search(s, **filters))
        rows = sorted(found.values(), key=lambda row: row.id, reverse=True)[:filters.get("limit", 100)]
    rows, older = _page(rows)
    return c.render("audit.html", rows=rows, older=older, query=_query(c), cities=cities, tz=tz)


def routes() -> list:
    return [
        Route("/c/{city}/audit", city_audit, methods=["GET"]),
        Route("/vendor/audit", vendor_audit, methods=["GET"]),
    ]
