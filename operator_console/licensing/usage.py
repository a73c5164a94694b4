"""Usage pages: a city's meters month by month (table, chart, ledger export, chain check),
and every city's month for the vendor."""

from __future__ import annotations

import json
from datetime import date

from starlette.responses import Response
from starlette.routing import Route

from guahao.core.audit import record
from guahao.core.errors import ValidationFailed
from guahao.licensing.ledger.export import export as export_ledger
from guahao.licensing.ledger.periods import PeriodInvalid, month_bounds, parse_month
from guahao.licensing.ledger.verify import verify
from guahao.licensing.reports import city_usage, every_city_usage, meter_rows, recent_months
from guahao.tenants.clock import utcnow

from ..kit.files import content_disposition
from ..kit.pages import Console, console_page

MONTHS_SHOWN = (3, 6, 12, 24)
FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
CHARTED = ("booking.confirmed", "booking.cancelled", "notification.sent")


def _period(c: Console, default: date) -> date:
    text = c.request.query_params.get("period", "").strip()
    if not text:
        return default
    try:
        return parse_month(text)
    except PeriodInvalid:
        raise ValidationFailed("invalid_period", "月份格式应为 2026-11。", details={"period": text}) from None


def _chart(c: Console, usages, rows) -> dict:
    """An ECharts option: one bar series per charted meter, months along the bottom."""
    series = [{"name": r["label"], "type": "bar", "data": r["cells"]} for r in rows
              if r["meter"] in CHARTED and not r.get("sub")]
    return {"tooltip": {"trigger": "axis"}, "legend": {"top": 0}, "grid": {"left": 48, "right": 16, "top": 36, "bottom": 28},
            "xAxis": {"type": "category", "data": [u.month for u in usages]}, "yAxis": {"type": "value"}, "series": series}


@console_page("licensing.view")
async def city_page(c: Console) -> Response:
    try:
        count = int(c.request.query_params.get("months", "12"))
    except ValueError:
        count = 12
    count = count if count in MONTHS_SHOWN else 12
    months = recent_months(c.city.tz, count)
    usages = await city_usage(c.rt, c.city, months)
    rows = meter_rows(usages, c.lang)
    return c.render("licensing/usage.html", usages=usages, rows=rows, months_shown=MONTHS_SHOWN, count=count,
                    chart=json.dumps(_chart(c, usages, rows), ensure_ascii=False), verdict=None)


@console_page("licensing.view")
async def export(c: Console) -> Response:
    fmt = c.request.query_params.get("format", "csv")
    if fmt not in FORMATS:
        fmt = "csv"
    first = _period(c, utcnow().astimezone(c.city.tz).date().replace(day=1))
    start, end = month_bounds(c.city.tz, first)
    month = first.strftime("%Y-%m")
    async with c.transaction() as s:
        data = await export_ledger(s, start, end, fmt)
        record(s, c.actor(), "usage.export", target_type="usage", target_id=month,
               summary=f"导出用量明细 {month}（{fmt}）")
    names = (f"用量明细_{c.city.slug}_{month}.{fmt}", f"usage_{c.city.slug}_{month}.{fmt}")
    return c.finish(Response(data, media_type=FORMATS[fmt], headers={"Content-Disposition": content_disposition(*names)}))


@console_page("licensing.view")
async def check(c: Console) -> Response:
    """Recompute the city's chain now (POST), and say what was found."""
    async with c.transaction() as s:
        verdict = await verify(s)
        record(s, c.actor(), "usage.verify", target_type="usage", target_id=c.city.slug,
               summary="用量账本校验：" + ("完整" if verdict.ok else f"第 {verdict.bad_seq} 行不符"))
    if verdict.ok:
        return c.redirect("licensing/usage", flash=c._("The usage ledger is intact: %(rows)s rows checked.", rows=verdict.rows))
    return c.redirect("licensing/usage", flash=c._("The usage ledger does not match at row %(seq)s: %(problem)s",
                                                  seq=verdict.bad_seq, problem=verdict.problem))


@console_page("vendor.manage", vendor_only=True)
async def vendor_page(c: Console) -> Response:
    today = utcnow().date().replace(day=1)
    first = _period(c, today)
    found = await every_city_usage(c.rt, first)
    meters = ("booking.confirmed", "booking.cancelled", "fee.paid_fen", "fee.refunded_fen", "notification.sent",
              "member.registered", "hospital.active", "api.third_party_calls", "phone.minutes")
    labels = meter_rows([], c.lang)
    names = {r["meter"]: r["label"] for r in labels if not r.get("sub")}
    rows = [{"slug": city.slug, "name": city.name, "cells": [u.totals.get(m, 0) for m in meters], "rows": u.rows}
            for city, u in found]
    totals = [sum(r["cells"][i] for r in rows) for i in range(len(meters))]
    return c.render("licensing/vendor_usage.html", rows=rows, meters=[(m, names[m]) for m in meters], totals=totals,
                    month=first.strftime("%Y-%m"), months=[m.strftime("%Y-%m") for m in recent_months(None, 12, until=today)])


def routes() -> list:
    return [
        Route("/c/{city}/licensing/usage", city_page, methods=["GET"]),
        Route("/c/{city}/licensing/usage/export", export, methods=["GET"]),
        Route("/c/{city}/licensing/usage/verify", check, methods=["POST"]),
        Route("/vendor/usage", vendor_page, methods=["GET"]),
    ]
