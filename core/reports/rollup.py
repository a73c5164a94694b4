"""The rollups behind the reports, and the one place that reads facts from them.

Each daily rollup table (``core.models.reports``) is the ``GROUP BY`` of the live rows of one
day at a fixed grain; each monthly table sums the daily rows of a month at the same grain.
:func:`refresh_rollups` rebuilds a range of closed days (before today) with ``DELETE`` +
``INSERT … SELECT`` in one transaction, then the months those days fall in, so running it
twice changes nothing, and widens the city's covered range ``[rolled_from, rolled_through]``.
Days are re-rolled a few days back on every refresh because a booking's status still moves
after its day (the no-show sweep runs after the session ends).

:func:`branches` is what reports read: monthly rows for the whole months inside the covered
days (unless a report groups by single days), daily rows for the covered days around them,
and the same ``GROUP BY`` over the live tables for every other day in the filter (today, the
booking window ahead, anything not rolled up yet); ``core.reports.query`` aggregates each
branch and adds them up. The answer is the same either way; the rollups only make a year
fast. The live queries read only the columns a report needs: the bookings alone for their
own columns, and a session's campus and half-day or a pool's name looked up once per
session or pool after the bookings are grouped, never once per booking. Every statement
names the city itself (these are Core statements, which the ORM wall does not rewrite);
PostgreSQL's row-level security applies underneath.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Callable

from sqlalchemy import Date, Select, and_, case, cast, delete, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.models import (
    Booking,
    BookingStatsDaily,
    BookingStatsMonthly,
    ChannelStatsDaily,
    ChannelStatsMonthly,
    ClinicSession,
    Period,
    PeriodStatsDaily,
    PeriodStatsMonthly,
    Referral,
    ReportRollup,
    SlotPool,
    SlotStatsDaily,
    SlotStatsMonthly,
)
from guahao.tenants.clock import utcnow
from guahao.tenants.context import require_city

B = Booking.__table__
CS = ClinicSession.__table__
SP = SlotPool.__table__
P = Period.__table__
REF = Referral.__table__

REROLL_DAYS = 3  # closed days rebuilt again on every refresh (late status changes)

# Booking statuses counted in each rollup column.
STATUS_COLUMNS: dict[str, tuple[str, ...]] = {
    "pending": ("pending_payment", "offered"),
    "confirmed": ("confirmed",),
    "checked_in": ("checked_in",),
    "no_show": ("no_show",),
    "cancelled": ("cancelled",),
    "expired": ("expired",),
}

BOOKING_KEYS = ("day", "hospital_id", "campus_id", "department_id", "doctor_id", "half_day", "pool",
                "referral_centre_id")
CHANNEL_KEYS = ("day", "hospital_id", "department_id", "channel")
SLOT_KEYS = ("day", "hospital_id", "campus_id", "department_id", "doctor_id", "half_day", "pool")
PERIOD_KEYS = ("day", "hospital_id", "department_id", "period_start")

DayCondition = Callable[[object], object]


def _count_if(col, values: tuple[str, ...]):
    return func.sum(case((col.in_(values), 1), else_=0))


def _status_counts(names=tuple(STATUS_COLUMNS), status=B.c.status):
    return [func.count().label("bookings")] + [_count_if(status, STATUS_COLUMNS[k]).label(k) for k in names]


def _folded_counts(status, n, names=tuple(STATUS_COLUMNS)):
    """Status counts over rows already grouped by ``status`` with ``n`` bookings each."""
    return [func.sum(n).label("bookings")] + [
        func.sum(case((status.in_(STATUS_COLUMNS[k]), n), else_=0)).label(k) for k in names
    ]


def wide_booking_stats(city_id: int, day_cond: DayCondition, where=()) -> Select:
    """Bookings at the whole grain of ``booking_stats_daily``, the session, pool and referral
    read with joins: right for rebuilding many days at once."""
    on_ref = and_(REF.c.booking_id == B.c.id, REF.c.city_id == city_id)
    # The pool is joined through its session too, so PostgreSQL reads only the pools of the
    # sessions in range (by their session index) instead of hashing every pool.
    from_ = (B.join(CS, CS.c.id == B.c.session_id)
             .join(SP, and_(SP.c.id == B.c.pool_id, SP.c.session_id == CS.c.id))
             .outerjoin(REF, on_ref))
    keys = [B.c.session_date, B.c.hospital_id, CS.c.campus_id, B.c.department_id, B.c.doctor_id, CS.c.half_day,
            SP.c.pool, func.coalesce(REF.c.centre_id, 0)]
    rows = (
        select(B.c.city_id, B.c.status, *[k.label(n) for k, n in zip(keys, BOOKING_KEYS, strict=False)])
        .select_from(from_)
        .where(B.c.city_id == city_id, day_cond(B.c.session_date), day_cond(CS.c.date), *where)
        .subquery()
    )
    return (
        select(rows.c.city_id, *[rows.c[n] for n in BOOKING_KEYS], *_status_counts(status=rows.c.status))
        .group_by(rows.c.city_id, *[rows.c[n] for n in BOOKING_KEYS])
    )


def live_booking_stats(
    city_id: int, day_cond: DayCondition, where=(), *, keys: tuple[str, ...] = BOOKING_KEYS + ("channel",)
) -> Select:
    """Bookings grouped by ``keys`` (columns of the booking grain, or ``channel``) with their
    status counts, reading only what the keys need.

    The bookings are grouped first by their own columns, by the session and pool ids when a
    session's campus or half-day or a pool's name is asked for, and by the referring centre
    when that is; the session and pool attributes are then looked up per group."""
    own = {"day": B.c.session_date, "hospital_id": B.c.hospital_id, "department_id": B.c.department_id,
           "doctor_id": B.c.doctor_id, "channel": B.c.channel}
    first = {k: own[k] for k in keys if k in own}
    from_ = B
    if "referral_centre_id" in keys:
        from_ = B.outerjoin(REF, and_(REF.c.booking_id == B.c.id, REF.c.city_id == city_id))
        first["referral_centre_id"] = func.coalesce(REF.c.centre_id, 0)
    by_session = bool({"campus_id", "half_day", "pool"} & set(keys))
    if by_session:
        first["session_id"] = B.c.session_id
    if "pool" in keys:
        first["pool_id"] = B.c.pool_id
    grouped = (
        select(*[c.label(n) for n, c in first.items()], B.c.status, func.count().label("n"))
        .select_from(from_)
        .where(B.c.city_id == city_id, day_cond(B.c.session_date), *where)
        .group_by(*first.values(), B.c.status)
        .subquery()
    )
    cols = dict(grouped.c)
    from2 = grouped
    if by_session:
        from2 = from2.join(CS, and_(CS.c.id == grouped.c.session_id, CS.c.city_id == city_id, day_cond(CS.c.date)))
        cols.update(campus_id=CS.c.campus_id, half_day=CS.c.half_day)
    if "pool" in keys:
        from2 = from2.join(SP, and_(SP.c.id == grouped.c.pool_id, SP.c.session_id == CS.c.id))
        cols["pool"] = SP.c.pool
    out = [cols[k] for k in keys]
    return (
        select(*[c.label(k) for c, k in zip(out, keys, strict=False)], *_folded_counts(grouped.c.status, grouped.c.n))
        .select_from(from2)
        .group_by(*out)
    )


def live_slot_stats(city_id: int, day_cond: DayCondition, where=(), *, keys: tuple[str, ...] = SLOT_KEYS) -> Select:
    """Pool capacity grouped by ``keys`` (columns of ``slot_stats_daily``)."""
    own = {"day": CS.c.date, "hospital_id": CS.c.hospital_id, "campus_id": CS.c.campus_id,
           "department_id": CS.c.department_id, "doctor_id": CS.c.doctor_id, "half_day": CS.c.half_day,
           "pool": SP.c.pool}
    out = [own[k] for k in keys]
    is_open = CS.c.status == "open"
    return (
        select(
            *[c.label(k) for c, k in zip(out, keys, strict=False)],
            func.sum(case((is_open, SP.c.capacity), else_=0)).label("released"),
            func.sum(case((is_open, 0), else_=SP.c.capacity)).label("withdrawn"),
        )
        .select_from(SP.join(CS, CS.c.id == SP.c.session_id))
        .where(CS.c.city_id == city_id, SP.c.city_id == city_id, day_cond(CS.c.date), *where)
        .group_by(*out)
    )


def live_period_stats(city_id: int, day_cond: DayCondition, where=(), *, keys: tuple[str, ...] = PERIOD_KEYS) -> Select:
    """Bookings grouped by ``keys`` (columns of ``period_stats_daily``): grouped by period id
    first, each period's start looked up once."""
    own = {"day": B.c.session_date, "hospital_id": B.c.hospital_id, "department_id": B.c.department_id}
    first = {k: own[k] for k in keys if k in own}
    grouped = (
        select(*[c.label(n) for n, c in first.items()], B.c.period_id, B.c.status, func.count().label("n"))
        .where(B.c.city_id == city_id, day_cond(B.c.session_date), *where)
        .group_by(*first.values(), B.c.period_id, B.c.status)
        .subquery()
    )
    cols = {**dict(grouped.c), "period_start": P.c.start}
    out = [cols[k] for k in keys]
    return (
        select(*[c.label(k) for c, k in zip(out, keys, strict=False)],
               *_folded_counts(grouped.c.status, grouped.c.n, ("checked_in", "no_show", "cancelled")))
        .select_from(grouped.join(P, and_(P.c.id == grouped.c.period_id, P.c.city_id == city_id)))
        .group_by(*out)
    )


@dataclass(frozen=True)
class Source:
    """A daily and a monthly rollup table (``None``: none keeps this grain) and the live
    query that produces the same rows; ``keys`` are the columns a report may group or filter
    by, ``live_keys`` the ones the live query returns (narrowed to what a report needs)."""

    table: object
    monthly: object
    live: Callable[..., Select]
    live_columns: dict[str, object]  # filter name → live column (hospital_id, department_id, channel)
    keys: tuple[str, ...]
    live_keys: tuple[str, ...]
    refresh: Callable[..., Select] | None = None  # the whole grain, for rebuilding many days

    def narrow(self, needs: set[str]) -> "Source":
        """The same source, its live query returning only the keys in ``needs``."""
        return replace(self, live_keys=tuple(k for k in self.keys if k in needs))

    def live_query(self, city_id: int, day_cond: DayCondition, where=()) -> Select:
        return self.live(city_id, day_cond, where, keys=self.live_keys)


_ON_BOOKINGS = {"hospital_id": B.c.hospital_id, "department_id": B.c.department_id, "channel": B.c.channel}
BOOKINGS = Source(BookingStatsDaily.__table__, BookingStatsMonthly.__table__, live_booking_stats, _ON_BOOKINGS,
                  BOOKING_KEYS, BOOKING_KEYS, wide_booking_stats)
CHANNELS = Source(ChannelStatsDaily.__table__, ChannelStatsMonthly.__table__, live_booking_stats, _ON_BOOKINGS,
                  CHANNEL_KEYS, CHANNEL_KEYS)
BOOKINGS_BY_CHANNEL = Source(None, None, live_booking_stats, _ON_BOOKINGS, BOOKING_KEYS + ("channel",),
                             BOOKING_KEYS + ("channel",))
SLOTS = Source(SlotStatsDaily.__table__, SlotStatsMonthly.__table__, live_slot_stats,
               {"hospital_id": CS.c.hospital_id, "department_id": CS.c.department_id}, SLOT_KEYS, SLOT_KEYS)
PERIODS = Source(PeriodStatsDaily.__table__, PeriodStatsMonthly.__table__, live_period_stats,
                 {"hospital_id": B.c.hospital_id, "department_id": B.c.department_id}, PERIOD_KEYS, PERIOD_KEYS)
ROLLED = (BOOKINGS, CHANNELS, SLOTS, PERIODS)


def booking_source(needs: set[str]) -> Source:
    """The coarsest source of booking counts that keeps every column in ``needs``: the
    channel rollup, the session-grain rollup, or (channel with a finer dimension) live rows;
    its live query returns just ``needs``."""
    for source in (CHANNELS, BOOKINGS, BOOKINGS_BY_CHANNEL):
        if needs <= set(source.keys):
            if source is CHANNELS and "channel" not in needs:
                source = BOOKINGS  # fewer rows than the channel rollup for the same sums
            return source.narrow(needs)
    raise ValueError(f"no booking source keeps {sorted(needs)}")


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def whole_months(a: date, b: date) -> tuple[date, date] | None:
    """The first and last month (by their first day) lying wholly inside ``a``…``b``."""
    first = a if a.day == 1 else next_month(a)
    after = b + timedelta(days=1)
    last = month_start(b) if after.day == 1 else month_start(month_start(b) - timedelta(days=1))
    return (first, last) if first <= last else None


@dataclass(frozen=True)
class Coverage:
    rolled_from: date
    rolled_through: date


async def coverage(s: AsyncSession) -> Coverage | None:
    """The closed days the current city's rollups hold, or ``None`` before the first refresh."""
    row = (await s.execute(select(ReportRollup.rolled_from, ReportRollup.rolled_through))).first()
    if row is None or row[0] is None:
        return None
    return Coverage(row[0], row[1])


def branches(
    source: Source, city_id: int, lo: date, hi: date, cover: Coverage | None, where: Callable, *,
    monthly: bool = True,
) -> list[tuple[object, object, list]]:
    """Where the rows of ``source`` for days ``lo``…``hi`` come from, as (columns, FROM,
    conditions) triples: the monthly rollup for whole covered months (when ``monthly``: the
    report does not group by single days; its ``day`` column is then the month's first day),
    the daily rollup for the other covered days, the live ``GROUP BY`` for each run of other
    days. ``where(columns)`` gives the filter's conditions from a mapping of filter names to a
    branch's columns; they are part of each branch's own WHERE clause. Every branch reads one
    plain day range, which the planner estimates well."""
    live_ranges = [(lo, hi)]
    out = []
    if cover is not None and source.table is not None:
        a, b = max(lo, cover.rolled_from), min(hi, cover.rolled_through)
    else:
        a, b = hi, hi - timedelta(days=1)  # nothing covered
    if a <= b:
        live_ranges = [(lo, a - timedelta(days=1)), (b + timedelta(days=1), hi)]
        daily = [(a, b)]
        months = whole_months(a, b) if monthly and source.monthly is not None else None
        if months is not None:
            t = source.monthly
            cols = {**{c.name: c for c in t.c}, "day": t.c.month}
            out.append((cols, t, [t.c.city_id == city_id, t.c.month.between(*months), *where(cols)]))
            daily = [(a, months[0] - timedelta(days=1)), (next_month(months[1]), b)]
        t = source.table
        for x, y in daily:
            if x <= y:
                out.append((t.c, t, [t.c.city_id == city_id, t.c.day.between(x, y), *where(t.c)]))
    for x, y in live_ranges:
        if x <= y:
            live = source.live_query(city_id, lambda col, x=x, y=y: col.between(x, y), where(source.live_columns))
            live = live.subquery()
            out.append((live.c, live, []))
    return out


@dataclass(frozen=True)
class RefreshResult:
    date_from: date | None
    date_to: date | None
    rows: dict[str, int]


def _month_of(col, dialect: str):
    if dialect == "sqlite":
        return func.date(col, "start of month")
    return cast(func.date_trunc("month", col), Date)


async def refresh_rollups(s: AsyncSession, *, date_from: date | None = None, date_to: date | None = None) -> RefreshResult:
    """Rebuild the current city's rollups for closed days ``date_from``…``date_to``, and the
    monthly rollups of the months those days fall in (from the daily rows).

    Defaults: from a few days before the covered range ends (or the city's first session
    day) through yesterday. Days from today on are never rolled up: they still change and
    reports read them live. The range is widened so the covered days stay contiguous.
    """
    city = require_city()
    yesterday = utcnow().astimezone(city.tz).date() - timedelta(days=1)
    state = await s.scalar(select(ReportRollup).with_for_update())
    if state is None:
        state = ReportRollup()
        s.add(state)
        await s.flush()
    first = await s.scalar(select(func.min(CS.c.date)).where(CS.c.city_id == city.id))
    date_to = min(date_to or yesterday, yesterday)
    if date_from is None:
        date_from = state.rolled_through - timedelta(days=REROLL_DAYS - 1) if state.rolled_through else first
    if state.rolled_through is not None:
        date_from = min(date_from, state.rolled_through + timedelta(days=1))
        date_to = max(date_to, state.rolled_from - timedelta(days=1))
    if date_from is None or date_to < date_from:
        return RefreshResult(None, None, {})
    rows: dict[str, int] = {}
    in_range = lambda col: col.between(date_from, date_to)  # noqa: E731
    m_from, m_to = month_start(date_from), month_start(date_to)
    dialect = s.get_bind().dialect.name
    for source in ROLLED:
        t, m = source.table, source.monthly
        names = [c.name for c in t.c if c.name not in ("id", "city_id")]
        await s.execute(delete(t).where(t.c.city_id == city.id, in_range(t.c.day)))
        q = (source.refresh(city.id, in_range) if source.refresh else source.live_query(city.id, in_range)).subquery()
        result = await s.execute(insert(t).from_select(
            ["city_id", *names], select(literal(city.id), *[q.c[n] for n in names])))
        rows[t.name] = result.rowcount
        # The months touched, summed again from all their daily rows.
        keys = [n for n in names if n in source.keys and n != "day"]
        counts = [n for n in names if n not in source.keys]
        month_key = _month_of(t.c.day, dialect)
        await s.execute(delete(m).where(m.c.city_id == city.id, m.c.month.between(m_from, m_to)))
        result = await s.execute(insert(m).from_select(
            ["city_id", "month", *keys, *counts],
            select(literal(city.id), month_key, *[t.c[k] for k in keys], *[func.sum(t.c[n]) for n in counts])
            .where(t.c.city_id == city.id, t.c.day.between(m_from, next_month(m_to) - timedelta(days=1)))
            .group_by(month_key, *[t.c[k] for k in keys])))
        rows[m.name] = result.rowcount
    state.rolled_from = min(date_from, state.rolled_from or date_from)
    state.rolled_through = max(date_to, state.rolled_through or date_to)
    state.refreshed_at = utcnow()
    await s.flush()
    return RefreshResult(date_from, date_to, rows)
