"""Usage as people read it: a city's meters month by month, and every city's month side by
side for the vendor. Figures come from the ledger's period totals (``ledger.query``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from guahao.plugin_api import CityContext, city_session, utcnow
from guahao.tenants.context import platform_scope
from guahao.tenants.models import City
from guahao.tenants.resolver import city_context

from .ledger.meters import METERS
from .ledger.periods import month_bounds
from .ledger.query import period_totals

SPLIT = {"notification.sent": "channel"}
"""Meters also shown per value of one dimension (messages per channel)."""


@dataclass(frozen=True)
class MonthUsage:
    """One month of one city: ``totals[meter]`` and ``split[(meter, value)]``, rows counted."""

    month: str  # YYYY-MM
    totals: dict[str, int]
    split: dict[tuple[str, str], int]
    rows: int


def recent_months(tz, count: int, *, until: date | None = None) -> list[date]:
    """The first days of the last ``count`` months up to this one (oldest first)."""
    first = (until or utcnow().astimezone(tz).date()).replace(day=1)
    months = [first]
    for _ in range(count - 1):
        prev = months[-1]
        months.append(date(prev.year - (prev.month == 1), (prev.month - 2) % 12 + 1, 1))
    return list(reversed(months))


async def month_usage(s, city: CityContext, first: date) -> MonthUsage:
    """The current city's usage in the month beginning ``first`` (its local calendar)."""
    start, end = month_bounds(city.tz, first)
    totals: dict[str, int] = {}
    split: dict[tuple[str, str], int] = {}
    rows = 0
    for t in await period_totals(s, start, end, by=SPLIT):
        if t.dimension:
            split[(t.meter, t.value)] = t.quantity
        else:
            totals[t.meter] = t.quantity
            rows += t.rows
    return MonthUsage(first.strftime("%Y-%m"), totals, split, rows)


async def city_usage(rt, city: CityContext, months: list[date]) -> list[MonthUsage]:
    """``month_usage`` for each month, in one transaction."""
    async with city_session(rt, city) as s:
        return [await month_usage(s, city, m) for m in months]


async def every_city_usage(rt, first: date) -> list[tuple[CityContext, MonthUsage]]:
    """Every city's usage in the month beginning ``first`` (the vendor's overview)."""
    with platform_scope("licensing: every city's usage for the vendor"):
        async with rt.db.transaction() as s:
            cities = [city_context(c) for c in (await s.scalars(select(City).order_by(City.slug))).all()]
    out = []
    for city in cities:
        async with city_session(rt, city) as s:
            out.append((city, await month_usage(s, city, first)))
    return out


def meter_rows(usages: list[MonthUsage], lang: str) -> list[dict]:
    """Table rows: one per meter (and per split value seen), one cell per month."""
    rows = []
    for name, meter in METERS.items():
        label = meter.label_en if lang == "en" else meter.label
        unit = meter.unit_en if lang == "en" else meter.unit
        rows.append({"meter": name, "label": label, "unit": unit, "cells": [u.totals.get(name, 0) for u in usages]})
        if name in SPLIT:
            values = sorted({v for u in usages for (m, v) in u.split if m == name})
            for value in values:
                rows.append({"meter": name, "label": f"{label} · {value or '—'}", "unit": unit, "sub": True,
                             "cells": [u.split.get((name, value), 0) for u in usages]})
    return rows
