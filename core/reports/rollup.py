"""The daily rollups behind the reports, and the one place that reads facts from them.

Each rollup table (``core.models.reports``) is the ``GROUP BY`` of the live rows of one day
at a fixed grain. :func:`refresh_rollups` rebuilds a range of closed days (before today)
with ``DELETE`` + ``INSERT … SELECT`` in one transaction, so running it twice changes
nothing, and widens the city's covered range ``[rolled_from, rolled_through]``. Days are
re-rolled a few days back on every refresh because a booking's status still moves after its
day (the no-show sweep runs after the session ends).

:func:`branches` is what reports read: rollup rows for covered days, and the same
``GROUP BY`` over the live tables for every other day in the filter (today, the booking
window ahead, anything not rolled up yet); ``core.reports.query`` aggregates each branch and
adds them up. The answer is the same either way; the
rollups only make a year fast. Every statement names the city itself (these are Core
statements, which the ORM wall does not rewrite); PostgreSQL's row-level security applies
underneath.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable

from sqlalchemy import Select, and_, case, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import (
    Booking,
    BookingStatsDaily,
    ChannelStatsDaily,
    ClinicSession,
    Period,
    PeriodStatsDaily,
    Referral,
    ReportRollup,
    SlotPool,
    SlotStatsDaily,
)
from tenants.clock import utcnow
from tenants.context import require_city

B = Booking.__table__
CS = ClinicSession.__table__
SP = SlotPool.__table__
P = Period.__table__
REF = Referral.__table__

WIDE_LIVE_DAYS = 2  # live runs this long or longer read with joins instead of per-row lookups
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

DayCondition = Callable[[object], object]


def _count_if(col, values: tuple[str, ...]):
    return func.sum(case((col.in_(values), 1), else_=0))


def _status_counts(names=tuple(STATUS_COLUMNS), status=B.c.status):
    return [func.count().label("bookings")] + [_count_if(status, STATUS_COLUMNS[k]).label(k) for k in names]


def _booking_grain(city_id: int, *, joined: bool):
    """The columns of a booking at the session grain, and the FROM clause they need.

    ``joined`` reads the session, pool and referral with joins, right for a whole range of
    days; otherwise with one indexed lookup per booking, right for the few days read live
    (a join there makes PostgreSQL hash whole tables for a few thousand bookings)."""
    on_ref = and_(REF.c.booking_id == B.c.id, REF.c.city_id == city_id)
    if joined:
        cols = [CS.c.campus_id, CS.c.half_day, SP.c.pool, func.coalesce(REF.c.centre_id, 0)]
        # The pool is joined through its session too, so PostgreSQL reads only the pools of
        # the sessions in range (by their session index) instead of hashing every pool.
        from_ = (B.join(CS, CS.c.id == B.c.session_id)
                 .join(SP, and_(SP.c.id == B.c.pool_id, SP.c.session_id == CS.c.id))
                 .outerjoin(REF, on_ref))
    else:
        def one(col, cond):
            return select(col).where(cond).scalar_subquery()
        cols = [one(CS.c.campus_id, CS.c.id == B.c.session_id), one(CS.c.half_day, CS.c.id == B.c.session_id),
                one(SP.c.pool, SP.c.id == B.c.pool_id), func.coalesce(one(REF.c.centre_id, on_ref), 0)]
        from_ = B
    return [B.c.session_date, B.c.hospital_id, cols[0], B.c.department_id, B.c.doctor_id, cols[1], cols[2], cols[3]], from_


def live_booking_stats(
    city_id: int, day_cond: DayCondition, where=(), *, channel: bool = False, joined: bool = False
) -> Select:
    """Bookings grouped at the grain of ``booking_stats_daily`` (with ``channel``: also by
    channel, the grain no rollup keeps)."""
    keys, from_ = _booking_grain(city_id, joined=joined)
    names = list(BOOKING_KEYS)
    if channel:
        keys.append(B.c.channel)
        names.append("channel")
    rows = (
        select(B.c.city_id, B.c.status, *[k.label(n) for k, n in zip(keys, names)])
        .select_from(from_)
        .where(B.c.city_id == city_id, day_cond(B.c.session_date), *([day_cond(CS.c.date)] if joined else []), *where)
        .subquery()
    )
    return (
        select(rows.c.city_id, *[rows.c[n] for n in names], *_status_counts(status=rows.c.status))
        .group_by(rows.c.city_id, *[rows.c[n] for n in names])
    )


def live_channel_stats(city_id: int, day_cond: DayCondition, where=()) -> Select:
    """Bookings grouped at the grain of ``channel_stats_daily``."""
    keys = (B.c.session_date, B.c.hospital_id, B.c.department_id, B.c.channel)
    return (
        select(B.c.city_id, *[k.label(n) for k, n in zip(keys, CHANNEL_KEYS)], *_status_counts())
        .where(B.c.city_id == city_id, day_cond(B.c.session_date), *where)
        .group_by(B.c.city_id, *keys)
    )


def live_slot_stats(city_id: int, day_cond: DayCondition, where=()) -> Select:
    """Pool capacity grouped at the grain of ``slot_stats_daily``."""
    keys = (CS.c.date, CS.c.hospital_id, CS.c.campus_id, CS.c.department_id, CS.c.doctor_id, CS.c.half_day, SP.c.pool)
    is_open = CS.c.status == "open"
    return (
        select(
            CS.c.city_id, *[k.label(n) for k, n in zip(keys, SLOT_KEYS)],
            func.sum(case((is_open, SP.c.capacity), else_=0)).label("released"),
            func.sum(case((is_open, 0), else_=SP.c.capacity)).label("withdrawn"),
        )
        .select_from(SP.join(CS, CS.c.id == SP.c.session_id))
        .where(CS.c.city_id == city_id, SP.c.city_id == city_id, day_cond(CS.c.date), *where)
        .group_by(CS.c.city_id, *keys)
    )


def live_period_stats(city_id: int, day_cond: DayCondition, where=()) -> Select:
    """Bookings grouped at the grain of ``period_stats_daily``."""
    start = select(P.c.start).where(P.c.id == B.c.period_id).scalar_subquery()
    keys = (B.c.session_date, B.c.hospital_id, B.c.department_id, start)
    rows = (
        select(B.c.city_id, B.c.status, *[k.label(n) for k, n in zip(keys, PERIOD_KEYS)])
        .where(B.c.city_id == city_id, day_cond(B.c.session_date), *where)
        .subquery()
    )
    return (
        select(rows.c.city_id, *[rows.c[n] for n in PERIOD_KEYS],
               *_status_counts(("checked_in", "no_show", "cancelled"), status=rows.c.status))
        .group_by(rows.c.city_id, *[rows.c[n] for n in PERIOD_KEYS])
    )


BOOKING_KEYS = ("day", "hospital_id", "campus_id", "department_id", "doctor_id", "half_day", "pool",
                "referral_centre_id")
CHANNEL_KEYS = ("day", "hospital_id", "department_id", "channel")
SLOT_KEYS = ("day", "hospital_id", "campus_id", "department_id", "doctor_id", "half_day", "pool")
PERIOD_KEYS = ("day", "hospital_id", "department_id", "period_start")


@dataclass(frozen=True)
class Source:
    """A rollup table (``None``: none keeps this grain) and the live query that produces
    the same rows; ``keys`` are the columns a report may group or filter by."""

    table: object
    live: Callable[..., Select]
    live_columns: dict[str, object]  # filter name → live column (hospital_id, department_id, channel)
    keys: tuple[str, ...]
    wide: Callable[..., Select] | None = None  # the same rows, better over many days (refresh, long live runs)

    def columns(self) -> list[str]:
        return [c.name for c in self.table.c if c.name != "id"]


_ON_BOOKINGS = {"hospital_id": B.c.hospital_id, "department_id": B.c.department_id, "channel": B.c.channel}
BOOKINGS = Source(BookingStatsDaily.__table__, live_booking_stats, _ON_BOOKINGS, BOOKING_KEYS,
                  functools.partial(live_booking_stats, joined=True))
CHANNELS = Source(ChannelStatsDaily.__table__, live_channel_stats, _ON_BOOKINGS, CHANNEL_KEYS)
BOOKINGS_BY_CHANNEL = Source(None, functools.partial(live_booking_stats, channel=True), _ON_BOOKINGS,
                             BOOKING_KEYS + ("channel",),
                             functools.partial(live_booking_stats, channel=True, joined=True))
SLOTS = Source(SlotStatsDaily.__table__, live_slot_stats,
               {"hospital_id": CS.c.hospital_id, "department_id": CS.c.department_id}, SLOT_KEYS)
PERIODS = Source(PeriodStatsDaily.__table__, live_period_stats,
                 {"hospital_id": B.c.hospital_id, "department_id": B.c.department_id}, PERIOD_KEYS)
ROLLED = (BOOKINGS, CHANNELS, SLOTS, PERIODS)


def booking_source(needs: set[str]) -> Source:
    """The coarsest source of booking counts that keeps every column in ``needs``: the
    session-grain rollup, the channel rollup, or (channel with a finer dimension) live rows."""
    for source in (BOOKINGS, CHANNELS, BOOKINGS_BY_CHANNEL):
        if needs <= set(source.keys):
            if needs <= set(CHANNEL_KEYS) and source is BOOKINGS:
                # Same rollup; the live days are counted from bookings alone, without joins.
                return Source(BOOKINGS.table, live_channel_stats, _ON_BOOKINGS, CHANNEL_KEYS)
            return source
    raise ValueError(f"no booking source keeps {sorted(needs)}")


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
    source: Source, city_id: int, lo: date, hi: date, cover: Coverage | None, where: Callable
) -> list[tuple[object, object, list]]:
    """Where the rows of ``source`` for days ``lo``…``hi`` come from, as (columns, FROM,
    conditions) triples: the rollup table for covered days, the live ``GROUP BY`` for each
    run of other days. ``where(columns)`` gives the filter's conditions from a mapping of
    filter names to a branch's columns; they are part of each branch's own WHERE clause.
    Every branch reads one plain day range, which the planner estimates well."""
    if source.table is None:
        cover = None
    live_ranges = [(lo, hi)]
    out = []
    if cover is not None:
        a, b = max(lo, cover.rolled_from), min(hi, cover.rolled_through)
        if a <= b:
            t = source.table
            out.append((t.c, t, [t.c.city_id == city_id, t.c.day.between(a, b), *where(t.c)]))
            live_ranges = [(lo, a - timedelta(days=1)), (b + timedelta(days=1), hi)]
    for a, b in live_ranges:
        if a <= b:
            build = source.wide if source.wide and (b - a).days >= WIDE_LIVE_DAYS else source.live
            live = build(city_id, lambda col, a=a, b=b: col.between(a, b), where(source.live_columns)).subquery()
            out.append((live.c, live, []))
    return out


@dataclass(frozen=True)
class RefreshResult:
    date_from: date | None
    date_to: date | None
    rows: dict[str, int]


async def refresh_rollups(s: AsyncSession, *, date_from: date | None = None, date_to: date | None = None) -> RefreshResult:
    """Rebuild the current city's rollups for closed days ``date_from``…``date_to``.

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
    for source in ROLLED:
        t = source.table
        await s.execute(delete(t).where(t.c.city_id == city.id, in_range(t.c.day)))
        build = source.wide or source.live
        result = await s.execute(insert(t).from_select(source.columns(), build(city.id, in_range)))
        rows[t.name] = result.rowcount
    state.rolled_from = min(date_from, state.rolled_from or date_from)
    state.rolled_through = max(date_to, state.rolled_through or date_to)
    state.refreshed_at = utcnow()
    await s.flush()
    return RefreshResult(date_from, date_to, rows)
