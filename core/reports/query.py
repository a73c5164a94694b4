"""Running one grouped query over rollups or a fact subquery, into labelled rows.

The database does the ``GROUP BY`` and the sums; Python only folds the handful of grouped
rows into a coarser dimension where one is asked for (hospital → district), attaches labels
and sorts.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, Mapping

from sqlalchemy import func, literal_column, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.tenants.context import require_city

from .base import ReportFilter, region_conditions
from .dims import TIME_KINDS, Dimension, district_of_hospitals, fold_key, labels
from .rollup import Source, branches, coverage

Measure = Callable[[Any], Any]  # fact columns → SQL aggregate


def dialect_of(s: AsyncSession) -> str:
    return s.get_bind().dialect.name


def local_day_sql(col, tz, when, dialect: str):
    """The city-local calendar day of a UTC timestamp column. On SQLite the zone's offset at
    ``when`` is used (fine for zones without daylight saving, such as China's)."""
    if dialect == "sqlite":
        offset = int(when.astimezone(tz).utcoffset().total_seconds())
        return func.date(col, literal_column(f"'{offset:+d} seconds'"))
    return func.date(func.timezone(str(tz), col))


def seconds_between(start, end, dialect: str):
    if dialect == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400
    return func.extract("epoch", end - start)


def _number(value: Any) -> int | float:
    if value is None:
        return 0
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


async def grouped(
    s: AsyncSession,
    facts,
    dim: Dimension,
    measures: Mapping[str, Measure],
    *,
    city_id: int,
    where: Callable[[Any], list] = lambda c: [],
) -> list[dict[str, Any]]:
    """One row per key of ``dim`` with the sums of ``measures`` over a fact subquery."""
    key = facts.c[dim.column].label("group_key")
    q = select(key, *[m(facts.c).label(n) for n, m in measures.items()]).where(*where(facts.c)).group_by(key)
    return await _rows(s, q, dim, measures, city_id)


async def aggregate(
    s: AsyncSession,
    source: Source,
    f: ReportFilter,
    dim: Dimension,
    measures: Mapping[str, Measure],
    *,
    where: Callable[[Any], list] = lambda c: [],
) -> list[dict[str, Any]]:
    """One row per key of ``dim`` with the sums of ``measures`` over ``source`` for the
    filter's days and region: each branch (rollup, live) is aggregated where it lives and
    the branches' sums are added up."""
    city = require_city()
    parts = []
    for cols, from_, conds in branches(source, city.id, f.date_from, f.date_to, await coverage(s), region_where(f),
                                       monthly=dim.kind not in ("day", "weekday")):
        key = cols[dim.column].label("group_key")
        parts.append(select(key, *[m(cols).label(n) for n, m in measures.items()])
                     .select_from(from_).where(*conds, *where(cols)).group_by(key))
    if len(parts) == 1:
        q = parts[0]
    else:
        u = union_all(*parts).subquery()
        q = select(u.c.group_key, *[func.sum(u.c[n]).label(n) for n in measures]).group_by(u.c.group_key)
    return await _rows(s, q, dim, measures, city.id)


def region_where(f: ReportFilter) -> Callable[[Any], list]:
    """The filter's conditions for a branch, given its columns by name."""
    return lambda cols: region_conditions(
        f, hospital_id=cols.get("hospital_id"), department_id=cols.get("department_id"), channel=cols.get("channel")
    )


async def _rows(s: AsyncSession, q, dim: Dimension, measures: Mapping[str, Measure], city_id: int) -> list[dict]:
    if dialect_of(s) == "postgresql":
        # JIT compilation alone takes longer than a report's whole query. And with the
        # default random-read cost the planner hashes every slot pool of the city (over a
        # million) rather than look up the few thousand of the open days by their session,
        # twenty times slower; the indexes reports use are hot, so a random read is cheap.
        await s.execute(text("SET LOCAL jit = off"))
        await s.execute(text("SET LOCAL random_page_cost = 1.1"))
    result = (await s.execute(q)).all()
    districts = await district_of_hospitals(s, city_id) if dim.kind == "district" else {}
    merged: dict[Any, dict[str, Any]] = {}
    for row in result:
        k = fold_key(dim, row.group_key, districts)
        acc = merged.setdefault(k, dict.fromkeys(measures, 0))
        for n in measures:
            acc[n] += _number(row._mapping[n])
    names = await labels(s, dim, list(merged), city_id)
    rows = [{"key": k, "label": names[k][0], "label_en": names[k][1], **v} for k, v in merged.items()]
    return sorted(rows, key=sort_key(dim))


def sort_key(dim: Dimension):
    """Rows in the dimension's natural order: codes as listed, time ascending, ids ascending."""
    order = {code: i for i, code in enumerate(dim.codes or {})}
    if dim.codes is not None and dim.kind == "code":
        return lambda r: (order.get(r["key"], len(order)), str(r["key"]))
    if dim.kind in TIME_KINDS:
        return lambda r: r["key"]
    return lambda r: (r["key"] is None or r["key"] == 0, r["key"] or 0)


def total(*names: str) -> Measure:
    """The sum of several fact columns."""
    def measure(c):
        expr = c[names[0]]
        for n in names[1:]:
            expr = expr + c[n]
        return func.sum(expr)
    return measure
