"""What every report shares: the filter, the typed result and the region conditions.

A report is asked with a :class:`ReportFilter` and answers with a :class:`Report`: labelled
columns (zh-CN and English), one row per group, totals, and a :class:`ChartHint` saying
which columns a chart should draw. Rows carry sums and counts computed by the database;
rates and averages are derived from those sums, so totals are exact, not averages of
averages.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Iterable, Sequence

from sqlalchemy import ColumnElement, false, select

from guahao.core.errors import ValidationFailed
from guahao.core.models import Hospital

MAX_DAYS = 3 * 366  # a report spans at most three years


@dataclass(frozen=True)
class ReportFilter:
    """Which rows a report counts and how it groups them.

    Parameters:
        date_from, date_to: the first and last local day, inclusive (visit day for bookings,
            slots and surveys; submission day for complaints).
        district_ids: only hospitals in these districts; ``None`` is the whole city and an
            empty list matches nothing. A bureau viewer's region is passed here.
        hospital_ids: only these hospitals (same ``None``/empty rule); also how a viewer is
            restricted to some hospitals.
        department_ids: only these departments (``None``: all).
        channels: only bookings made through these channels (``None``: all).
        group_by: the dimension of the rows; each report lists the ones it accepts.
    """

    date_from: date
    date_to: date
    district_ids: Sequence[int] | None = None
    hospital_ids: Sequence[int] | None = None
    department_ids: Sequence[int] | None = None
    channels: Sequence[str] | None = None
    group_by: str = "hospital"

    def with_group(self, group_by: str) -> "ReportFilter":
        return replace(self, group_by=group_by)

    def utc_bounds(self, tz) -> tuple[datetime, datetime]:
        """The instants that start ``date_from`` and end ``date_to`` in the city's zone."""
        start = datetime.combine(self.date_from, time(0), tz)
        end = datetime.combine(self.date_to + timedelta(days=1), time(0), tz)
        return start, end


@dataclass(frozen=True)
class Column:
    """A column of a report. ``kind``: label, int, rate (0–1), score (1–5) or hours."""

    key: str
    zh: str
    en: str
    kind: str = "int"


@dataclass(frozen=True)
class ChartHint:
    """How to draw a report: ``kind`` bar, stacked_bar or line, over the ``category`` column,
    one series per column of ``series``; ``rates`` go on a second (percentage) axis."""

    kind: str
    series: tuple[str, ...]
    rates: tuple[str, ...] = ()
    category: str = "label"


@dataclass
class Report:
    """A report's answer. ``rows`` are dicts keyed by column key, plus ``key`` (the raw group
    value, e.g. a hospital id) and ``label_en``; ``totals`` has the same numeric keys."""

    key: str
    title_zh: str
    title_en: str
    filter: ReportFilter
    columns: list[Column]
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    chart: ChartHint
    notes: list[str] = field(default_factory=list)

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)


def check_filter(f: ReportFilter, *, groups: Iterable[str], refuse: Iterable[str] = ()) -> None:
    """Refuse a filter a report cannot honour: an unknown grouping, a reversed or too long
    date range, or a filter (``refuse``) the report's data does not carry."""
    groups = tuple(groups)
    if f.group_by not in groups:
        raise ValidationFailed("invalid_group_by", f"不支持的分组方式: {f.group_by}",
                               details={"field": "group_by", "allowed": list(groups)})
    if f.date_to < f.date_from:
        raise ValidationFailed("invalid_date_range", "结束日期早于开始日期", details={"field": "date_to"})
    if (f.date_to - f.date_from).days >= MAX_DAYS:
        raise ValidationFailed("date_range_too_long", "统计区间最长三年", details={"max_days": MAX_DAYS})
    for name in refuse:
        if getattr(f, name) is not None:
            raise ValidationFailed("filter_not_supported", f"该报表不能按 {name} 筛选", details={"field": name})


def region_conditions(f: ReportFilter, *, hospital_id, department_id=None, channel=None) -> list[ColumnElement]:
    """WHERE conditions for the filter's region, departments and channels on the given
    columns. These are mandatory clauses of every query, never applied afterwards."""
    out: list[ColumnElement] = []
    if f.hospital_ids is not None:
        out.append(hospital_id.in_(list(f.hospital_ids)) if f.hospital_ids else false())
    if f.district_ids is not None:
        if f.district_ids:
            out.append(hospital_id.in_(select(Hospital.id).where(Hospital.district_id.in_(list(f.district_ids)))))
        else:
            out.append(false())
    if f.department_ids is not None and department_id is not None:
        out.append(department_id.in_(list(f.department_ids)) if f.department_ids else false())
    if f.channels is not None and channel is not None:
        out.append(channel.in_(list(f.channels)) if f.channels else false())
    return out


def ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def finish(rows: list[dict], sums: Sequence[str], derive) -> tuple[list[dict], dict]:
    """Add derived figures (``derive(row)``) to each row and compute the totals row."""
    totals: dict[str, Any] = {k: sum(r.get(k) or 0 for r in rows) for k in sums}
    for r in rows:
        r.update(derive(r))
    totals.update(derive(totals))
    totals["label"] = "合计"
    totals["label_en"] = "Total"
    return rows, totals
