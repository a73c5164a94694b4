"""Past months of the demo city 示例市, so every dashboard opens on real figures.

:func:`seed_history` writes, for the days before today, what the platform would have recorded
had the city been running: the doctors' past sessions (their weekly rosters, a few suspended
by the hospital), members with valid real-name identities, bookings through every channel with
their outcome (checked in, no-show, cancelled), each booking's event history in the shapes the
booking engine writes, the messages that were sent (confirmation, reminders, cancellation,
survey invitation, credit suspension), the no-shows' credit records and suspensions, survey
answers, complaints with the hospitals' replies, referrals, and finally the report rollups.

The rows obey the engine's rules, in the order they would have happened: a unit is taken only
while one is free (``booked <= capacity`` at every instant, reserved units going to the public
pool a day before their period), a member holds at most ``max_active_bookings`` future
bookings and one per session, books nothing while suspended, and climbs the credit ladder with
each no-show. Nothing is pushed or sent now: no outbox rows are written.

Shapes: busier Mondays and mornings, earlier periods first, tertiary hospitals and senior
doctors in demand (their clinics fill at the 07:30 release), community centres quiet, the
channel mix of a Chinese city (WeChat first), more no-shows by phone than at the kiosk, and a
platform that grows a little month by month. Deterministic for a seed, apart from the
booking references (drawn from ``secrets`` like every other booking's).

Rows are built in memory and each table is written with one prepared multi-row insert
(:class:`BulkWriter`), like the roster; the ids the database gives are read back in order.
"""

from __future__ import annotations

import bisect
import gc
import math
import random
import secrets
import string
import time as clock
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any, Sequence

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.booking.credit import penalty_days, window_of
from guahao.core.booking.errors import local_text
from guahao.core.booking.events import REMINDER_BEFORE_START, REMINDER_EVENING_BEFORE, SURVEY_AFTER_VISIT
from guahao.core.booking.refs import new_booking_ref
from guahao.core.members.ids import check_digit, mask_id_number
from guahao.core.models import (
    Booking,
    BookingEvent,
    Campus,
    ClinicSession,
    Complaint,
    CreditEvent,
    Department,
    Doctor,
    Hospital,
    Member,
    Notification,
    Period,
    Referral,
    RegistrationType,
    ScheduleChange,
    SlotPool,
    SurveyResponse,
)
from guahao.core.models.staff import StaffAccount
from guahao.core.notifications.facts import BookingFacts
from guahao.core.notifications.planning import absolute, link_base
from guahao.core.notifications.texts import KINDS, compose
from guahao.core.reports import refresh_rollups
from guahao.tenants.context import CityContext, use_city
from guahao.tenants.crypto import cipher

from . import data
from .roster import RESERVED_RELEASE, RosterDoctor, _period_rows, _session_rows

CS, P, SP = ClinicSession.__table__, Period.__table__, SlotPool.__table__
RESERVED = ("clinic", "referral")  # pools released to the public pool a day ahead (R2.4)

HISTORY_DAYS = 30  # the dashboards' default range: the last 30 days
SCALE = 1.0  # demand multiplier (1.0: the shapes below)

# Demand: how strongly a session is sought, relative to its units.
LEVEL_PULL = {("general", 3): 1.0, ("specialty", 3): 0.85, ("general", 2): 0.5, ("specialty", 2): 0.45,
              ("community", 1): 0.4}
TITLE_PULL = {"chief": 1.9, "associate_chief": 1.3, "attending": 0.75, "resident": 0.55}
WEEKDAY_PULL = (1.3, 1.12, 1.05, 1.0, 0.95, 0.66, 0.5)
HALF_DAY_PULL = {"am": 1.2, "pm": 0.78, "evening": 0.65}
BASE_FILL = 0.02  # arrivals per public unit at pull 1.0, on top of the floor
FLOOR_FILL = 0.012  # arrivals per public unit however little sought
PULL_POWER = 3.5  # demand grows faster than pull: sought-after clinics fill, the others see few
GROWTH = 0.25  # the platform's use grows this much over the history
RESERVED_FILL = {"clinic": 0.05, "referral": 0.05, "onsite": 0.03}
RUSH_PULL = 1.0  # sessions sought more than this fill at the release instant

# The public pool's channels, as booked by members (and the call centre for ``phone``).
CHANNELS = (("wechat", 36), ("app", 17), ("web", 12), ("phone", 11), ("kiosk", 10), ("sms", 3))
NO_SHOW = {"wechat": 0.075, "app": 0.07, "web": 0.085, "phone": 0.11, "kiosk": 0.03, "sms": 0.1,
           "onsite": 0.01, "clinic": 0.04, "referral": 0.08}
CANCEL = {"wechat": 0.1, "app": 0.1, "web": 0.09, "phone": 0.08, "kiosk": 0.02, "sms": 0.08,
          "onsite": 0.0, "clinic": 0.05, "referral": 0.06}
# Days between booking and visit for the public pool (index = days ahead), after the rush.
LEAD_DAYS = (10, 16, 13, 11, 8, 7, 6, 4, 3, 3, 3, 2, 2, 2, 1)
# Local hour at which members book (07:30 is the release).
BOOKING_HOURS = ((7, 8), (8, 10), (9, 10), (10, 9), (11, 7), (12, 5), (13, 5), (14, 7), (15, 7), (16, 6),
                 (17, 5), (18, 5), (19, 6), (20, 7), (21, 5), (22, 3), (23, 1), (6, 1))
SURVEY_SHARE = 0.22
COMPLAINT_SHARE = 0.006
LATE_SHARE = 0.06
OPT_OUT_SHARE = 0.04
BOOKINGS_PER_MEMBER = 3.5
SUSPENDED_SHARE = 0.012  # sessions the hospital suspended (停诊)
SWEEP_MINUTES = 5  # the no-show sweep runs every five minutes (core.jobs.worker)
HIS = "his:demo_his"  # the demo HIS reports check-ins
SENDER = "message_log"
SEND_DELAYS = tuple(timedelta(milliseconds=400 + 137 * i) for i in range(23))  # accepted by the sender

# Departments whose patients are children, or women.
CHILD_DEPARTMENTS = ("07", "08", "09", "50.04", "12.04")
WOMEN_DEPARTMENTS = ("05", "06", "50.03")


@dataclass
class HistoryReport:
    """What :func:`seed_history` wrote."""

    first_day: date | None = None
    last_day: date | None = None
    sessions: int = 0
    suspended: int = 0
    members: int = 0
    bookings: int = 0
    events: int = 0
    notifications: int = 0
    credit_events: int = 0
    surveys: int = 0
    complaints: int = 0
    referrals: int = 0
    seconds: float = 0.0
    by_status: dict[str, int] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)  # seconds spent on each step


# --- writing --------------------------------------------------------------------------------


UNNEST_CHUNK = 20_000


class BulkWriter:
    """Multi-row inserts prepared once per table and run with the driver's ``executemany``.

    Values are converted by the column types' own bind processors (a faster equivalent is used
    for UTC datetimes when it gives the same value for a sample); columns left out get their
    declared default, so a column added to a model later is still filled. The statements name
    the city in their rows; PostgreSQL's row-level security applies as to any insert.
    """

    def __init__(self, conn):
        self.conn = conn
        self.dialect = conn.dialect

    def _processor(self, column):
        proc = column.type.dialect_impl(self.dialect).bind_processor(self.dialect)
        if proc is None or type(column.type).__name__ != "UTCDateTime":
            return proc
        sample = datetime(2024, 6, 7, 8, 9, 10, 123456, tzinfo=UTC)
        if self.dialect.name == "sqlite":
            def fast(v):
                return None if v is None else v.replace(tzinfo=None).isoformat(" ", "microseconds")
        else:
            def fast(v):
                return v
        return fast if fast(sample) == proc(sample) else proc

    def _convert(self, column, values: list) -> list:
        proc = self._processor(column)
        if proc is None:
            return values
        if _python_type(column.type) in (date, datetime, time, bool):
            memo: dict = {}  # dates, times and instants repeat (a period's start, a day)
            return [memo[v] if v in memo else memo.setdefault(v, proc(v)) for v in values]
        return [proc(v) for v in values]

    async def insert(self, table, rows: Sequence[dict]) -> int:
        """Insert ``rows`` (dicts with the same keys) into ``table``; returns how many."""
        if not rows:
            return 0
        given = list(rows[0])
        filled: dict[str, Any] = {}
        for c in table.c:
            if c.name in given:
                continue
            if c.default is not None and (c.default.is_scalar or c.default.is_callable):
                filled[c.name] = c.default
            elif not (c.nullable or c.server_default is not None or (c.primary_key and c.autoincrement)):
                raise ValueError(f"{table.name}.{c.name} has no value and no default")
        names = [c.name for c in table.c if c.name in given or c.name in filled]
        n = len(rows)
        columns = []
        for name in names:
            if name in filled:
                d = filled[name]
                values = [d.arg] * n if d.is_scalar else [d.arg(None) for _ in range(n)]
            else:
                values = [r[name] for r in rows]
            columns.append(self._convert(table.c[name], values))
        if self.dialect.name == "postgresql" and self.dialect.driver == "asyncpg":
            await self._unnest(table, names, columns, n)
            return n
        compiled = insert(table).compile(dialect=self.dialect, column_keys=names)
        if self.dialect.positional:
            index = {name: i for i, name in enumerate(names)}
            columns = [columns[index[name]] for name in compiled.positiontup]
            params = list(zip(*columns, strict=True))
        else:
            params = [dict(zip(names, p, strict=True)) for p in zip(*columns, strict=True)]
        await self.conn.exec_driver_sql(str(compiled), params)
        return n

    async def _unnest(self, table, names: list[str], columns: list[list], n: int) -> None:
        """PostgreSQL: ``INSERT … SELECT * FROM unnest($1::type[], …)``, one statement per
        chunk with a column of values per parameter (no per-row round trip or planning)."""
        quote = self.dialect.identifier_preparer.quote
        casts = ", ".join(f"${i + 1}::{table.c[name].type.compile(dialect=self.dialect)}[]"
                          for i, name in enumerate(names))
        sql = (f"INSERT INTO {self.dialect.identifier_preparer.format_table(table)} "
               f"({', '.join(quote(name) for name in names)}) SELECT * FROM unnest({casts})")
        for start in range(0, n, UNNEST_CHUNK):
            await self.conn.exec_driver_sql(sql, tuple(values[start:start + UNNEST_CHUNK] for values in columns))

    async def ids(self, stmt) -> list[int]:
        """The first column of a Core statement's rows (ids read back, without the ORM)."""
        return list((await self.conn.execute(stmt)).scalars().all())


def _python_type(type_) -> type | None:
    try:
        return getattr(type_, "impl", type_).python_type  # a TypeDecorator says it of its impl
    except NotImplementedError:
        return None


# --- the city as the generator sees it ------------------------------------------------------


class _Ns:
    """A plain record (what message texts read of a booking, a member, a session, a period)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


class _BookingText:
    """What message texts read of a booking."""

    __slots__ = ("id", "cancel_reason", "payment_status", "fee_fen", "hold_expires_at")

    def __init__(self, ref: str, fee: int):
        self.id, self.cancel_reason, self.payment_status, self.fee_fen, self.hold_expires_at = ref, "", "none", fee, None


class _Facts(BookingFacts):
    """``BookingFacts`` whose wording of the visit is worked out once per period."""

    when = cached_property(BookingFacts.when.fget)
    place = cached_property(BookingFacts.place.fget)
    who = cached_property(BookingFacts.who.fget)


@dataclass(slots=True)
class _Period:
    id: int
    index: int
    start: time
    end: time
    starts_at: datetime
    ends_at: datetime
    units: dict[str, int]
    final: dict[str, list[int]] = field(default_factory=dict)  # pool → [capacity, booked, pool id]


@dataclass(slots=True)
class _Session:
    id: int
    doctor: RosterDoctor
    day: date
    half_day: str
    campus_id: int
    type_id: int
    fee: int
    release_at: datetime
    pull: float
    group: str
    periods: list[_Period] = field(default_factory=list)
    suspended_at: datetime | None = None
    reason: str = ""
    actor: str = ""
    actor_name: str = ""


class _Plan:
    """One booking: where, through which channel, when, and how it ended."""

    __slots__ = ("session", "period", "pool", "channel", "created", "cancel_at", "cancel_reason", "cancel_actor",
                 "status", "arrived", "late", "marked", "member", "actor", "ref", "centre", "reason_data")

    def __init__(self, session: _Session, period: _Period, pool: str, channel: str, created: datetime):
        self.session, self.period, self.pool, self.channel, self.created = session, period, pool, channel, created
        self.cancel_at: datetime | None = None
        self.cancel_reason = ""
        self.cancel_actor = ""
        self.status = "checked_in"
        self.arrived: datetime | None = None
        self.late = False
        self.marked: datetime | None = None
        self.member: _Member | None = None
        self.actor = "member"
        self.ref = ""
        self.centre: int | None = None
        self.reason_data: dict = {}

    def active_until(self) -> datetime:
        """When the booking stops counting toward the member's active bookings."""
        end = self.period.starts_at
        if self.cancel_at is not None and self.cancel_at < end:
            end = self.cancel_at
        if self.arrived is not None and self.arrived < end:
            end = self.arrived
        return end


class _Member:
    __slots__ = ("index", "group", "name", "sex", "birth", "id_number", "phone", "id", "demo", "active", "sessions",
                 "pending", "counts", "until", "reason", "credit", "first", "wechat", "opt_out", "registered_by",
                 "created")

    def __init__(self, index: int, group: str, name: str, sex: str, birth: date, id_number: str, phone: str):
        self.index, self.group, self.name, self.sex, self.birth = index, group, name, sex, birth
        self.id_number, self.phone = id_number, phone
        self.id: int | None = None
        self.demo = False
        self.active: list[datetime] = []
        self.sessions: set[int] = set()
        self.pending: list[tuple[datetime, int, _Plan]] = []  # no-shows not marked yet: (mark time, seq, plan)
        self.counts: dict[str, int] = {}
        self.until: datetime | None = None
        self.reason = ""
        self.credit: list[tuple] = []  # (kind, plan, at, until, detail)
        self.first: datetime | None = None
        self.wechat = False
        self.opt_out = False
        self.registered_by = "self"
        self.created: datetime | None = None


class _City:
    """The catalogue, staff and members the history refers to, loaded once."""

    def __init__(self, city: CityContext, doctors: list[RosterDoctor], seed: int):
        self.city = city
        self.tz = city.tz
        self.rules = city.rules
        self.doctors = {d.id: d for d in doctors}
        self.seed = seed
        self.hospitals: dict[int, Hospital] = {}
        self.departments: dict[int, Department] = {}
        self.doctor_rows: dict[int, Doctor] = {}
        self.campuses: dict[int, Campus] = {}
        self.types: dict[int, RegistrationType] = {}
        self.staff: dict[str, StaffAccount] = {}
        self.centres: dict[int | None, list[int]] = {}
        self.all_centres: list[int] = []
        self.midnights: dict[date, datetime] = {}
        self.plain_rows: dict[tuple[str, int], _Ns] = {}
        self.link_base = ""

    async def load(self, s: AsyncSession, public_base_url: str) -> None:
        self.hospitals = {h.id: h for h in (await s.scalars(select(Hospital))).all()}
        self.departments = {d.id: d for d in (await s.scalars(select(Department))).all()}
        self.doctor_rows = {d.id: d for d in (await s.scalars(select(Doctor))).all()}
        self.campuses = {c.id: c for c in (await s.scalars(select(Campus))).all()}
        self.types = {t.id: t for t in (await s.scalars(select(RegistrationType))).all()}
        self.staff = {a.username: a for a in (await s.scalars(select(StaffAccount))).all()}
        for h in sorted(self.hospitals.values(), key=lambda h: h.id):
            if h.kind == "community":
                self.centres.setdefault(h.district_id, []).append(h.id)
                self.all_centres.append(h.id)
        self.link_base = await link_base(s, self.city, public_base_url)

    def plain(self, rows: dict, ident: int | None) -> _Ns | None:
        """A plain copy of a catalogue row's columns (message texts read them many times)."""
        row = rows.get(ident)
        if row is None:
            return None
        key = (type(row).__name__, ident)
        found = self.plain_rows.get(key)
        if found is None:
            found = self.plain_rows[key] = _Ns(**{c.name: getattr(row, c.name) for c in row.__table__.columns})
        return found

    def at(self, day: date, minutes: float) -> datetime:
        """The instant ``minutes`` after local midnight of ``day``."""
        midnight = self.midnights.get(day)
        if midnight is None:
            midnight = self.midnights[day] = datetime.combine(day, time(0), tzinfo=self.tz).astimezone(UTC)
        return midnight + timedelta(minutes=minutes)

    def local_day(self, at: datetime) -> date:
        return at.astimezone(self.tz).date()

    def staff_actor(self, username: str) -> tuple[str, str]:
        """(actor label, display name) of a demo staff account, or the system's."""
        account = self.staff.get(username)
        return (f"staff:{account.id}", account.display_name) if account else ("system", "system")

    def hospital_staff(self, hospital: Hospital) -> tuple[str, str]:
        """Who acts for a hospital in its back office: its scheduler or administrator, else the
        city's operations administrator."""
        code = hospital.code.lower()
        for username in (f"{code}.scheduler", f"{code}.admin", "admin"):
            if username in self.staff:
                return self.staff_actor(username)
        return "system", "system"


# --- the generator --------------------------------------------------------------------------


class _History:
    def __init__(self, c: _City, rng: random.Random, *, now: datetime, first: date, last: date, scale: float):
        self.c, self.rng, self.now, self.first, self.last, self.scale = c, rng, now, first, last, scale
        self.sessions: list[_Session] = []
        self.plans: list[_Plan] = []
        self.members: list[_Member] = []
        self.groups: dict[str, list[_Member]] = {}
        self.demo: list[_Member] = []
        self.channels, self.channel_weights = zip(*CHANNELS, strict=True)
        self.hours, self.hour_weights = zip(*BOOKING_HOURS, strict=True)
        self.days = (last - first).days + 1
        dept_rng = random.Random(f"{c.seed}:history:departments")
        self.dept_pull = {d: dept_rng.uniform(0.6, 1.4) for d in sorted({x.department_id for x in c.doctors.values()})}

    # demand ----------------------------------------------------------------------------------

    def pull(self, doc: RosterDoctor, day: date, half_day: str) -> float:
        growth = 1 + GROWTH * ((day - self.first).days / max(1, self.days - 1) - 0.5)
        return (LEVEL_PULL.get((doc.hospital_kind, doc.hospital_level), 0.5) * TITLE_PULL[doc.title]
                * WEEKDAY_PULL[day.weekday()] * HALF_DAY_PULL[half_day] * self.dept_pull[doc.department_id]
                * growth * self.rng.uniform(0.75, 1.25))

    @staticmethod
    def group_of(department: Department) -> str:
        code = department.code
        if any(code == p or code.startswith(p + ".") for p in CHILD_DEPARTMENTS):
            return "child"
        if any(code == p or code.startswith(p + ".") for p in WOMEN_DEPARTMENTS):
            return "women"
        return "adult"

    def count(self, mean: float) -> int:
        whole = int(mean)
        return whole + (self.rng.random() < mean - whole)

    # sessions --------------------------------------------------------------------------------

    def plan_suspensions(self) -> None:
        """A few sessions the hospital suspended (停诊) one to five days ahead, or the same
        morning when the doctor fell ill."""
        rng = self.rng
        for cs in self.sessions:
            if rng.random() >= SUSPENDED_SHARE:
                continue
            reason = rng.choice(data.SUSPENSION_REASONS)
            start = cs.periods[0].starts_at
            if reason == "医生身体不适":
                at = self.c.at(cs.day, rng.uniform(6.5 * 60, 7.5 * 60))
                at = min(at, start - timedelta(minutes=30))
            else:
                before = cs.day - timedelta(days=rng.randint(1, 5))
                at = self.c.at(before, rng.uniform(9 * 60, 17 * 60))
            cs.suspended_at, cs.reason = max(at, cs.release_at + timedelta(hours=1)), reason
            cs.actor, cs.actor_name = self.c.hospital_staff(self.c.hospitals[cs.doctor.hospital_id])

    # bookings --------------------------------------------------------------------------------

    def booking_time(self, cs: _Session, p: _Period, *, rush: bool) -> datetime:
        """When a member booked a public unit: at the release for a sought-after clinic,
        else some days ahead at a waking hour."""
        rng = self.rng
        if rush:
            return cs.release_at + timedelta(seconds=rng.expovariate(1 / 150))
        lead = rng.choices(range(len(LEAD_DAYS)), LEAD_DAYS)[0]
        day = cs.day - timedelta(days=lead)
        at = self.c.at(day, rng.choices(self.hours, self.hour_weights)[0] * 60 + rng.random() * 60)
        if at >= p.starts_at - timedelta(minutes=20):
            at = p.starts_at - timedelta(minutes=rng.uniform(20, 150))
        return max(at, cs.release_at + timedelta(seconds=rng.uniform(30, 3600)))

    def same_day(self, cs: _Session, p: _Period, earliest_minutes: float) -> datetime:
        """A booking made at the hospital on the day, before the period starts."""
        rng = self.rng
        opens = self.c.at(cs.day, earliest_minutes)
        latest = p.starts_at - timedelta(minutes=3)
        if latest <= opens:
            return latest - timedelta(minutes=rng.uniform(1, 20))
        return opens + (latest - opens) * rng.random() ** 0.7

    def ahead_office_hours(self, cs: _Session, lo: int, hi: int) -> datetime:
        """A booking made by staff ``lo``–``hi`` days ahead, in office hours, before the
        reserved units are released to the public pool."""
        rng = self.rng
        day = cs.day - timedelta(days=rng.randint(lo, hi))
        at = self.c.at(day, rng.uniform(8 * 60, 17 * 60))
        return min(at, cs.periods[0].starts_at - RESERVED_RELEASE - timedelta(hours=1))

    def arrivals(self, cs: _Session, p: _Period, pool: str, units: int) -> list[_Plan]:
        rng = self.rng
        if pool == "public":
            wanted = units * (FLOOR_FILL + BASE_FILL * cs.pull ** PULL_POWER) * self.scale * (1.25 - 0.07 * p.index)
            rush = cs.pull > RUSH_PULL
            out = []
            for _ in range(self.count(wanted)):
                channel = rng.choices(self.channels, self.channel_weights)[0]
                if channel == "kiosk":
                    created = self.same_day(cs, p, 7 * 60) if rng.random() < 0.8 else self.booking_time(cs, p, rush=False)
                else:
                    created = self.booking_time(cs, p, rush=rush and rng.random() < 0.7)
                out.append(_Plan(cs, p, pool, channel, created))
            return out
        if pool == "onsite":
            n = self.count(units * RESERVED_FILL[pool] * min(cs.pull, 1.6) * self.scale)
            return [_Plan(cs, p, pool, "onsite", self.same_day(cs, p, 6.5 * 60)) for _ in range(n)]
        if pool == "clinic":
            n = self.count(units * RESERVED_FILL[pool] * self.scale * (0.6 + 0.4 * min(cs.pull, 1.5)))
            return [_Plan(cs, p, pool, "clinic", self.ahead_office_hours(cs, 3, 14)) for _ in range(n)]
        n = self.count(units * RESERVED_FILL[pool] * self.scale)  # referral
        plans = [_Plan(cs, p, pool, "referral", self.ahead_office_hours(cs, 2, 10)) for _ in range(n)]
        for plan in plans:
            near = self.c.centres.get(self.c.hospitals[cs.doctor.hospital_id].district_id) or self.c.all_centres
            plan.centre = rng.choice(near if rng.random() < 0.8 else self.c.all_centres)
        return plans

    def decide(self, plan: _Plan) -> None:
        """Cancelled (before the deadline, by whom and why), else checked in or no-show."""
        rng = self.rng
        cs, p, channel = plan.session, plan.period, plan.channel
        if channel == "phone":
            plan.actor = self.agent_actor()
        elif channel == "clinic":
            plan.actor = f"clinic:{cs.doctor.id}:"
        elif channel == "referral":
            clerk = self.c.staff.get("sq01.clerk")
            staff_id = clerk.id if clerk is not None and clerk.hospital_id == plan.centre else ""
            plan.actor = f"referral:{plan.centre}:{staff_id}"
        elif channel == "onsite":
            plan.actor = "staff"
        if rng.random() < CANCEL[channel]:
            deadline = cancel_deadline(cs.day, p.starts_at, self.c)
            if plan.pool in RESERVED:
                deadline = min(deadline, p.starts_at - RESERVED_RELEASE)
            earliest = plan.created + timedelta(minutes=10)
            if earliest < deadline:
                plan.status = "cancelled"
                plan.cancel_at = earliest + (deadline - earliest) * rng.random() ** 1.3
                if channel == "phone":
                    plan.cancel_reason, plan.cancel_actor = "phone_cancel", plan.actor
                elif channel in ("wechat", "app", "sms"):
                    plan.cancel_reason = rng.choice(data.CANCEL_REASONS) if rng.random() < 0.6 else ""
                    plan.cancel_actor = "member"
                else:
                    plan.cancel_reason, plan.cancel_actor = "member", "member"
                return
        if rng.random() < NO_SHOW[channel]:
            plan.status = "no_show"
            after_end = p.ends_at + timedelta(seconds=1)
            minute = math.ceil(after_end.timestamp() / 60 / SWEEP_MINUTES) * SWEEP_MINUTES
            plan.marked = datetime.fromtimestamp(minute * 60 + 15, UTC)
            return
        plan.status = "checked_in"
        if channel in ("onsite", "kiosk") and plan.created > p.starts_at - timedelta(hours=3):
            arrived = plan.created + timedelta(minutes=rng.uniform(0.5, 4))
        elif rng.random() < LATE_SHARE:
            arrived = p.starts_at + timedelta(minutes=rng.uniform(self.c.rules.late_grace_minutes + 1, 50))
        else:
            arrived = p.starts_at - timedelta(minutes=min(90.0, rng.lognormvariate(3.0, 0.5)))
        plan.arrived = max(arrived, plan.created + timedelta(minutes=1))
        plan.late = plan.arrived > p.starts_at + timedelta(minutes=self.c.rules.late_grace_minutes)

    def agent_actor(self) -> str:
        agent = self.c.staff.get("agent")
        return f"agent:{agent.id}" if agent is not None else "agent"

    def fill(self, cs: _Session) -> None:
        """Every pool of the session: the bookings that got a unit, in time order (a unit is
        taken only while one is free), reserved units released to the public pool a day ahead."""
        for p in cs.periods:
            release = p.starts_at - RESERVED_RELEASE
            released = 0
            taken: list[_Plan] = []
            for pool in ("clinic", "referral", "onsite"):
                units = p.units.get(pool, 0)
                if not units:
                    continue
                got = self.admit(self.arrivals(cs, p, pool, units), lambda at, u=units: u, cs)
                taken += got
                if pool != "onsite":
                    released += units - sum(1 for x in got if x.cancel_at is None or x.cancel_at >= release)
            units = p.units.get("public", 0)
            if units:
                def capacity(at, u=units, r=released, rel=release):
                    return u + r if at >= rel else u
                taken += self.admit(self.arrivals(cs, p, "public", units), capacity, cs)
            self.plans += taken

    def admit(self, arrivals: list[_Plan], capacity, cs: _Session) -> list[_Plan]:
        if not arrivals:
            return []
        arrivals.sort(key=lambda x: x.created)
        holding: list[datetime] = []  # when the units held by bookings cancelled later come back
        kept = 0
        out = []
        for plan in arrivals:
            if cs.suspended_at is not None and plan.created >= cs.suspended_at:
                break
            holding = [t for t in holding if t > plan.created]
            if kept + len(holding) >= capacity(plan.created):
                continue
            self.decide(plan)
            if cs.suspended_at is not None and (plan.cancel_at is None or plan.cancel_at > cs.suspended_at):
                plan.status, plan.cancel_at, plan.arrived, plan.marked, plan.late = (
                    "cancelled", cs.suspended_at, None, None, False)
                plan.cancel_reason, plan.cancel_actor = "session_suspended", cs.actor
                plan.reason_data = {"reason": cs.reason}
            if plan.cancel_at is not None:
                holding.append(plan.cancel_at)
            else:
                kept += 1
            out.append(plan)
        return out

    # members ---------------------------------------------------------------------------------

    def make_members(self, demo_rows: list[Member]) -> None:
        """The members the bookings start from: each group about one member per
        ``BOOKINGS_PER_MEMBER`` of its bookings (more join while booking, see :meth:`assign`);
        and the demo's own members, who book some too (never a no-show: they must stay free to
        book in the demo)."""
        self.member_rng = random.Random(f"{self.c.seed}:history:members")
        wanted: dict[str, int] = {"child": 0, "women": 0, "adult": 0}
        for plan in self.plans:
            wanted[plan.session.group] += 1
        self.taken_ids = {cipher().decrypt(m.id_number_encrypted) for m in demo_rows}
        self.taken_phones = {m.phone for m in demo_rows}
        for group, n in wanted.items():
            self.groups[group] = []
            for _ in range(max(20, int(n / BOOKINGS_PER_MEMBER))):
                self.new_member(group)
        for row in demo_rows:
            m = _Member(-1, "adult", row.name, row.sex, row.birth_date, "", row.phone)
            m.id, m.demo, m.created = row.id, True, row.created_at
            self.demo.append(m)

    def new_member(self, group: str) -> _Member:
        """A member with a valid, unique real-name identity fitting the group: a child, a woman
        of 20 to 45, or an adult (older people more often)."""
        rng = self.member_rng
        sex = "F" if group == "women" else rng.choice("MF")
        if group == "child":
            age_days = rng.randint(40, 14 * 365)
        elif group == "women":
            age_days = rng.randint(20 * 365, 45 * 365)
        else:
            age_days = int(365 * min(92, max(18, rng.gauss(52, 17))))
        birth = self.c.local_day(self.now) - timedelta(days=age_days)
        number = _id_number(rng, birth, sex, self.taken_ids)
        m = _Member(len(self.members), group, _name(rng), sex, birth, number, _phone(rng, self.taken_phones))
        m.opt_out = rng.random() < OPT_OUT_SHARE
        self.groups[group].append(m)
        self.members.append(m)
        return m

    def assign(self) -> None:
        """Give each booking a member, in the order bookings were made, under the engine's rules
        (not suspended, fewer than the limit of active bookings, one per session): one of the
        group's members, frequent bookers more often, or a new member when none of a few tried
        could have booked."""
        rng = self.rng
        limit = self.c.rules.max_active_bookings
        self.plans.sort(key=lambda x: x.created)
        demo_share = 15 / max(1, sum(1 for p in self.plans if p.session.group == "adult"))
        for seq, plan in enumerate(self.plans):
            t, sid, group_name = plan.created, plan.session.id, plan.session.group
            chosen = None
            if self.demo and group_name != "child" and plan.status != "no_show" and rng.random() < demo_share:
                for m in rng.sample(self.demo, len(self.demo)):
                    if (group_name != "women" or m.sex == "F") and self.eligible(m, t, sid, limit):
                        chosen = m
                        break
            if chosen is None:
                group = self.groups[group_name]
                n = len(group)
                for _ in range(6):
                    m = group[int(n * rng.random() ** 1.5)]
                    if self.eligible(m, t, sid, limit):
                        chosen = m
                        break
                else:
                    chosen = self.new_member(group_name)
            plan.member = chosen
            chosen.active.append(plan.active_until())
            chosen.sessions.add(sid)
            if chosen.first is None:
                chosen.first = t
            if plan.channel == "wechat":
                chosen.wechat = True
            if plan.status == "no_show":
                bisect.insort(chosen.pending, (plan.marked, seq, plan))
        for m in self.members + self.demo:
            self.apply_marks(m, self.now)

    def eligible(self, m: _Member, t: datetime, session_id: int, limit: int) -> bool:
        if session_id in m.sessions:
            return False
        self.apply_marks(m, t)
        if m.until is not None and m.until > t:
            return False
        if m.active:
            m.active = [x for x in m.active if x > t]
            if len(m.active) >= limit:
                return False
        return True

    def apply_marks(self, m: _Member, t: datetime) -> None:
        """The no-show sweep reached the member's no-shows marked before ``t``: count each in
        its credit window and suspend per the ladder (``core.booking.credit.apply_no_show``)."""
        while m.pending and m.pending[0][0] < t:
            at, _, plan = m.pending.pop(0)
            start, end, label = window_of(self.c.city, plan.period.ends_at)
            nth = m.counts[label] = m.counts.get(label, 0) + 1
            days = penalty_days(self.c.city, nth)
            m.credit.append(("no_show", plan, at, None, {"nth": nth, "window": label}))
            if days <= 0:
                continue
            until = at + timedelta(days=days)
            if m.until is not None and m.until > until:
                until = m.until
            reason = self.credit_reason(plan, nth=nth, days=days, until=until, label=label)
            m.until, m.reason = until, reason
            m.credit.append(("suspended", plan, at, until,
                             {"nth": nth, "days": days, "window": label, "reason": reason}))

    def credit_reason(self, plan: _Plan, *, nth: int, days: int, until: datetime, label: str) -> str:
        """The suspension's reason, worded as ``core.booking.credit`` words it."""
        cs = plan.session
        hospital = self.c.hospitals[cs.doctor.hospital_id]
        doctor = self.c.doctor_rows[cs.doctor.id]
        windows = self.c.rules.credit_window_days
        span = f"{label.split(':', 1)[1]}年内" if windows is None else f"近{windows}天内"
        text = (f"您{cs.day:%Y年%m月%d日}在{hospital.name}{doctor.name}医生的预约未按时就诊，为{span}第{nth}次爽约，"
                f"预约资格暂停{days}天，至{local_text(until, self.c.tz)}恢复。")
        return text[:300]

    def member_created(self) -> None:
        """Members registered some weeks before their first booking (or during the months)."""
        rng = random.Random(f"{self.c.seed}:history:registered")
        start = self.c.at(self.first, 0)
        agent = self.agent_actor()
        for m in self.members:
            if m.first is not None:
                m.created = m.first - timedelta(hours=1 + rng.expovariate(1 / (24 * 40)))
            else:
                m.created = start + (self.now - start) * rng.random()
            if rng.random() < 0.05:
                m.registered_by = agent


def cancel_deadline(day: date, starts_at: datetime, c: _City) -> datetime:
    """``core.booking.engine.cancel_deadline`` for a booking of ``day``."""
    days = c.rules.cancel_days_before
    if days == 0:
        return starts_at
    return datetime.combine(day - timedelta(days=days), c.rules.cancel_time, tzinfo=c.tz).astimezone(UTC)


def _id_number(rng: random.Random, birth: date, sex: str, taken: set[str]) -> str:
    """A valid resident ID number (GB 11643: region, birth date, sequence odd for men, check
    digit) not given to anyone else yet."""
    while True:
        region = rng.choice(data.LOCAL_REGIONS) if rng.random() < 0.75 else rng.choice(data.OTHER_REGIONS)
        seq = rng.randrange(0, 500) * 2 + (1 if sex == "M" else 0)
        first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
        number = first17 + check_digit(first17)
        if number not in taken:
            taken.add(number)
            return number


def _phone(rng: random.Random, taken: set[str]) -> str:
    while True:
        phone = rng.choice(data.PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        if phone not in taken:
            taken.add(phone)
            return phone


def _name(rng: random.Random) -> str:
    common = data.SURNAMES[:20]
    surname = rng.choice(common) if rng.random() < 0.55 else rng.choice(data.SURNAMES)
    return surname + "".join(rng.choice(data.GIVEN) for _ in range(1 if rng.random() < 0.3 else 2))


def _openid(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + "-_"
    return "o" + "".join(rng.choice(alphabet) for _ in range(27))


# --- rows -----------------------------------------------------------------------------------


class _Rows:
    """The rows of every table, built from the plans."""

    def __init__(self, h: _History):
        self.h, self.c = h, h.c
        self.city_id = h.c.city.id
        self.bookings: list[dict] = []
        self.events: list[dict] = []
        self.notes: list[dict] = []
        self.referrals: list[dict] = []
        self.credit: list[dict] = []
        self.surveys: list[dict] = []
        self.complaints: list[dict] = []
        self.rng = random.Random(f"{h.c.seed}:history:rows")
        self.people: dict[_Member, _Ns] = {}
        self.period_facts: dict[int, _Facts] = {}
        quality = random.Random(f"{h.c.seed}:history:quality")
        self.quality = {hid: quality.uniform(3.9, 4.6) for hid in sorted(h.c.hospitals)}

    def note(self, kind: str, member: _Member, facts: BookingFacts | None, data_: dict, at: datetime,
             booking_id: str | None) -> None:
        """A message as the message log sender delivered it (or skipped, for a member who opted
        out of non-essential messages)."""
        spec = KINDS[kind]
        person = self.people.get(member)
        if person is None:
            person = self.people[member] = _Ns(name=member.name, suspended_until=member.until,
                                               suspension_reason=member.reason)
        body = compose(self.c.city, kind, person, facts, data_)
        skipped = not spec.essential and member.opt_out
        self.notes.append({
            "city_id": self.city_id, "member_id": member.id, "booking_id": booking_id, "kind": kind,
            "sender": "" if skipped else SENDER, "recipient": member.phone, "body": body[:2000],
            "essential": spec.essential, "status": "skipped" if skipped else "sent", "attempts": 0 if skipped else 1,
            "error": "member opted out of non-essential messages" if skipped else "", "created_at": at,
            "sent_at": None if skipped else at + SEND_DELAYS[len(self.notes) % len(SEND_DELAYS)],
        })

    def event(self, ref: str, kind: str, at: datetime, actor: str, data_: dict | None = None) -> None:
        self.events.append({"city_id": self.city_id, "booking_id": ref, "kind": kind, "at": at, "actor": actor[:80],
                            "data": data_ or {}})

    def build(self) -> None:
        for plan in self.h.plans:
            self.booking(plan)
        for m in self.h.members + self.h.demo:
            for kind, plan, at, until, detail in m.credit:
                self.credit.append({"city_id": self.city_id, "member_id": m.id, "booking_id": plan.ref, "kind": kind,
                                    "at": at, "suspended_until": until, "detail": detail})
                if kind == "suspended":
                    self.note("credit_suspended", m, None, {"suspended_until": until.isoformat(),
                                                            "reason": detail["reason"]}, at, plan.ref)

    def facts(self, plan: _Plan, booking: _Ns) -> BookingFacts:
        """What the booking's messages state: the period's facts (read once per period, from
        plain copies of the catalogue rows) with this booking."""
        facts = self.period_facts.get(plan.period.id)
        if facts is None:
            cs, c = plan.session, self.c
            facts = self.period_facts[plan.period.id] = _Facts(
                booking=booking, hospital=c.plain(c.hospitals, cs.doctor.hospital_id),
                department=c.plain(c.departments, cs.doctor.department_id), doctor=c.plain(c.doctor_rows, cs.doctor.id),
                session=_Ns(date=cs.day, half_day=cs.half_day), period=_Ns(start=plan.period.start, end=plan.period.end),
                campus=c.plain(c.campuses, cs.campus_id), reg_type=c.plain(c.types, cs.type_id),
            )
        facts.booking = booking
        return facts

    def booking(self, plan: _Plan) -> None:
        rng, c = self.rng, self.c
        cs, p, m = plan.session, plan.period, plan.member
        ref = plan.ref
        updated = plan.cancel_at or plan.arrived or plan.marked or plan.created
        self.bookings.append({
            "id": ref, "city_id": self.city_id, "member_id": m.id, "hospital_id": cs.doctor.hospital_id,
            "department_id": cs.doctor.department_id, "doctor_id": cs.doctor.id, "session_id": cs.id, "period_id": p.id,
            "pool_id": p.final[plan.pool][2], "session_date": cs.day, "starts_at": p.starts_at, "ends_at": p.ends_at,
            "channel": plan.channel, "status": plan.status, "fee_fen": cs.fee, "payment_status": "none",
            "payment_provider": "", "payment_ref": "", "hold_expires_at": None, "checked_in_at": plan.arrived,
            "late": plan.late, "cancel_reason": plan.cancel_reason[:300], "created_by": plan.actor[:80],
            "created_at": plan.created, "updated_at": updated,
        })
        booking = _BookingText(ref, cs.fee)
        facts = self.facts(plan, booking)
        t0 = plan.created
        self.event(ref, "created", t0, plan.actor, {"pool": plan.pool})
        self.event(ref, "confirmed", t0, plan.actor)
        if plan.channel == "phone":
            agent = c.staff.get("agent")
            self.event(ref, "agent_call", t0, plan.actor, {
                "action": "book", "recording_ref": f"REC{t0.astimezone(c.tz):%Y%m%d%H%M%S}{rng.randrange(1000):03d}",
                "agent": agent.display_name if agent is not None else ""})
        if plan.centre is not None:
            clerk = plan.actor.rsplit(":", 1)[-1]
            self.referrals.append({"city_id": self.city_id, "booking_id": ref, "centre_id": plan.centre,
                                   "hospital_id": cs.doctor.hospital_id, "member_id": m.id,
                                   "staff_id": int(clerk) if clerk else None, "note": "", "created_at": t0})
        self.note("booking_confirmed", m, facts, {"starts_at": p.starts_at.isoformat()}, t0 + timedelta(seconds=1), ref)
        # Reminders still ahead when the booking was made, sent while it was still confirmed.
        still = plan.cancel_at or plan.arrived or plan.period.ends_at
        evening = datetime.combine(cs.day - timedelta(days=1), REMINDER_EVENING_BEFORE, tzinfo=c.tz).astimezone(UTC)
        if t0 < evening < still:
            self.note("reminder_day_before", m, facts, {}, evening, ref)
        shortly = p.starts_at - REMINDER_BEFORE_START
        if t0 < shortly < still:
            self.note("reminder_30min", m, facts, {}, shortly, ref)
        if plan.status == "cancelled":
            booking.cancel_reason = plan.cancel_reason
            self.event(ref, "cancelled", plan.cancel_at, plan.cancel_actor,
                       {"reason": plan.cancel_reason[:300]} if plan.cancel_reason else None)
            if plan.cancel_reason == "session_suspended":
                self.note("session_suspended", m, facts, plan.reason_data, plan.cancel_at, ref)
            else:
                self.note("booking_cancelled", m, facts, {"reason": plan.cancel_reason[:300]}, plan.cancel_at, ref)
            if plan.channel == "phone":
                self.event(ref, "agent_call", plan.cancel_at, plan.actor, {
                    "action": "cancel",
                    "recording_ref": f"REC{plan.cancel_at.astimezone(c.tz):%Y%m%d%H%M%S}{rng.randrange(1000):03d}",
                    "agent": c.staff["agent"].display_name if "agent" in c.staff else ""})
        elif plan.status == "checked_in":
            self.event(ref, "checked_in", plan.arrived, HIS, {"at": plan.arrived.isoformat(), "late": plan.late})
            invited = max(p.ends_at + SURVEY_AFTER_VISIT, plan.arrived)
            url = absolute(c.link_base, f"/c/{c.city.slug}/survey/{ref}")
            self.note("survey_invitation", m, facts, {"url": url}, invited, ref)
            if rng.random() < SURVEY_SHARE and not m.opt_out:
                self.survey(plan, invited)
            if rng.random() < COMPLAINT_SHARE:
                self.complaint(plan)
        else:
            self.event(ref, "no_show", plan.marked, "system")

    def survey(self, plan: _Plan, invited: datetime) -> None:
        rng = self.rng
        at = invited + timedelta(minutes=min(6 * 24 * 60, rng.lognormvariate(4.5, 1.2)))
        if at >= self.h.now:
            return
        cs = plan.session
        q = self.quality[cs.doctor.hospital_id] + (0.15 if cs.doctor.title in ("chief", "associate_chief") else 0)
        overall = min(5, max(1, round(rng.gauss(q, 0.75))))
        waiting = min(5, max(1, overall + rng.choice((-2, -1, -1, 0, 0, 0, 1)) - (1 if plan.late else 0)))
        attitude = min(5, max(1, overall + rng.choice((-1, 0, 0, 0, 1))))
        comment = ""
        if rng.random() < 0.3:
            mood = "good" if overall >= 4 else ("fair" if overall == 3 else "poor")
            comment = rng.choice(data.SURVEY_COMMENTS[mood])
        self.surveys.append({
            "city_id": self.city_id, "booking_id": plan.ref, "member_id": plan.member.id,
            "hospital_id": cs.doctor.hospital_id, "department_id": cs.doctor.department_id, "doctor_id": cs.doctor.id,
            "visit_date": cs.day, "overall": overall, "waiting": waiting, "attitude": attitude, "comment": comment,
            "created_at": at,
        })

    def complaint(self, plan: _Plan) -> None:
        rng, c = self.rng, self.c
        at = plan.period.ends_at + timedelta(minutes=rng.uniform(30, 3 * 24 * 60))
        if at >= self.h.now:
            return
        category = rng.choices(("waiting", "service", "medical", "fees", "environment", "booking", "other"),
                               (30, 22, 10, 8, 10, 14, 6))[0]
        texts, replies = data.COMPLAINTS[category]
        hospital = c.hospitals[plan.session.doctor.hospital_id]
        status, reply, replied_by, replied_at, closed_at = "submitted", "", "", None, None
        if rng.random() < 0.93:
            replied_at = at + timedelta(hours=min(96.0, rng.lognormvariate(2.2, 0.9)))
            if replied_at < self.h.now:
                status, reply = "replied", rng.choice(replies).format(h=hospital.short_name)
                replied_by = c.hospital_staff(hospital)[1]
                if replied_by == "system":
                    replied_by = f"{hospital.short_name}患者服务中心"
                closing = replied_at + timedelta(days=rng.uniform(1, 5))
                if rng.random() < 0.6 and closing < self.h.now:
                    status, closed_at = "closed", closing
            else:
                replied_at = None
        self.complaints.append({
            "city_id": self.city_id, "member_id": plan.member.id, "hospital_id": hospital.id, "booking_id": plan.ref,
            "category": category, "text": rng.choice(texts), "status": status, "reply": reply, "replied_by": replied_by,
            "replied_at": replied_at, "closed_at": closed_at, "created_at": at,
            "updated_at": closed_at or replied_at or at,
        })


# --- the entry point ------------------------------------------------------------------------


async def seed_history(
    s: AsyncSession,
    city: CityContext,
    doctors: list[RosterDoctor],
    *,
    today: date,
    days: int = HISTORY_DAYS,
    seed: int,
    now: datetime,
    scale: float = SCALE,
    public_base_url: str = "",
) -> HistoryReport:
    """Write ``days`` days of the city's past before ``today`` (its local date); ``now`` is the
    present instant (nothing is dated after it). Runs in the caller's transaction with the city
    set, on a city whose schedule has no session on those days. The report rollups are the
    caller's to refresh once the rows are committed (:func:`refresh_history_rollups`)."""
    if days <= 0 or not doctors:
        return HistoryReport()
    # Hundreds of thousands of small objects, none of them in a cycle: the cyclic collector
    # would scan the growing heap again and again for nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return await _seed_history(s, city, doctors, today=today, days=days, seed=seed, now=now, scale=scale,
                                   public_base_url=public_base_url)
    finally:
        if collecting:
            gc.enable()


async def _seed_history(s, city, doctors, *, today, days, seed, now, scale, public_base_url) -> HistoryReport:
    started = clock.perf_counter()
    phases: dict[str, float] = {}
    mark = [started]

    def lap(name: str) -> None:
        mark.append(clock.perf_counter())
        phases[name] = round(mark[-1] - mark[-2], 3)

    first, last = today - timedelta(days=days), today - timedelta(days=1)
    c = _City(city, doctors, seed)
    await c.load(s, public_base_url)
    h = _History(c, random.Random(f"{seed}:history"), now=now, first=first, last=last, scale=scale)
    writer = BulkWriter(await s.connection())
    session_rows, periods = await _write_schedule(s, writer, h, doctors, [first + timedelta(days=i) for i in range(days)])
    lap("schedule")
    h.plan_suspensions()
    for cs in h.sessions:
        h.fill(cs)
    lap("bookings")
    demo_rows = list((await s.scalars(select(Member).where(Member.registered_by == "demo").order_by(Member.id))).all())
    h.make_members(demo_rows)
    h.assign()
    h.member_created()
    lap("members")
    await _write_members(s, writer, h)
    lap("write members")
    await _write_pools(s, writer, h, periods)
    lap("write pools")
    for plan in h.plans:
        plan.ref = new_booking_ref()
    rows = _Rows(h)
    rows.build()
    lap("rows")
    await writer.insert(Booking.__table__, rows.bookings)
    lap("write bookings")
    await writer.insert(BookingEvent.__table__, rows.events)
    lap("write events")
    await writer.insert(Referral.__table__, rows.referrals)
    await writer.insert(Notification.__table__, rows.notes)
    lap("write notifications")
    await writer.insert(CreditEvent.__table__, rows.credit)
    await writer.insert(SurveyResponse.__table__, rows.surveys)
    await writer.insert(Complaint.__table__, rows.complaints)
    await writer.insert(ScheduleChange.__table__, _schedule_changes(h))
    await _suspend_sessions(s, h)
    lap("write feedback")
    by_status: dict[str, int] = {}
    for plan in h.plans:
        by_status[plan.status] = by_status.get(plan.status, 0) + 1
    return HistoryReport(
        first_day=first, last_day=last, sessions=len(session_rows), suspended=sum(1 for x in h.sessions if x.suspended_at),
        members=len(h.members), bookings=len(rows.bookings), events=len(rows.events), notifications=len(rows.notes),
        credit_events=len(rows.credit), surveys=len(rows.surveys), complaints=len(rows.complaints),
        referrals=len(rows.referrals), seconds=clock.perf_counter() - started, by_status=by_status, phases=phases,
    )


async def refresh_history_rollups(rt, city: CityContext) -> None:
    """Roll the history's closed days up for the reports (``core.reports.refresh_rollups``), in
    a transaction of its own: run after the planner statistics are fresh on PostgreSQL."""
    with use_city(city):
        async with rt.db.transaction() as s:
            await refresh_rollups(s)


async def _write_schedule(s, writer: BulkWriter, h: _History, doctors: list[RosterDoctor], days: list[date]):
    """The doctors' sessions and periods on ``days`` (their weekly rosters, as the fortnight
    ahead has them); pools are written once the bookings are known."""
    c = h.c
    session_rows, specs = _session_rows(c.city, doctors, days, seed=c.seed)
    await writer.insert(CS, session_rows)
    ids = await writer.ids(select(CS.c.id).where(CS.c.city_id == c.city.id, CS.c.date.between(days[0], days[-1]))
                           .order_by(CS.c.id))
    if len(ids) != len(session_rows):
        raise RuntimeError("the history's days already have sessions")
    created = [(sid, r["doctor_id"], r["date"], r["half_day"]) for sid, r in zip(ids, session_rows, strict=True)]
    period_rows, pool_specs = _period_rows(c.city, created, specs)
    await writer.insert(P, period_rows)
    period_ids = await writer.ids(
        select(P.c.id).join(CS, CS.c.id == P.c.session_id)
        .where(P.c.city_id == c.city.id, CS.c.city_id == c.city.id, CS.c.date.between(days[0], days[-1]))
        .order_by(P.c.id))
    by_session: dict[int, list[tuple[int, dict]]] = {}
    for pid, row in zip(period_ids, period_rows, strict=True):
        by_session.setdefault(row["session_id"], []).append((pid, row))
    periods: list[_Period] = []
    for sid, r in zip(ids, session_rows, strict=True):
        doc = c.doctors[r["doctor_id"]]
        cs = _Session(sid, doc, r["date"], r["half_day"], r["campus_id"], r["registration_type_id"], r["fee_fen"],
                      r["release_at"], h.pull(doc, r["date"], r["half_day"]),
                      h.group_of(c.departments[doc.department_id]))
        for i, (pid, row) in enumerate(by_session[sid]):
            p = _Period(pid, i, row["start"], row["end"], row["starts_at"], row["ends_at"],
                        pool_specs[(sid, row["start"])])
            cs.periods.append(p)
            periods.append(p)
        h.sessions.append(cs)
    return session_rows, periods


async def _write_members(s, writer: BulkWriter, h: _History) -> None:
    from guahao.core.members.passwords import hash_password

    rng = random.Random(f"{h.c.seed}:history:openids")
    # Generated members cannot log in: nobody knows the password their hash is of.
    password_hash = await hash_password(secrets.token_urlsafe(24))
    crypt = cipher()
    rows = []
    for m in h.members:
        rows.append({
            "city_id": h.c.city.id, "name": m.name, "id_number_encrypted": crypt.encrypt(m.id_number),
            "id_number_hash": crypt.lookup_hash(m.id_number), "id_number_masked": mask_id_number(m.id_number),
            "birth_date": m.birth, "sex": m.sex, "phone": m.phone, "password_hash": password_hash,
            "suspended_until": m.until, "suspension_reason": m.reason, "notifications_opt_out": m.opt_out,
            "created_at": m.created, "registered_by": m.registered_by, "email": None,
            "wechat_openid": _openid(rng) if m.wechat else None,
        })
    await writer.insert(Member.__table__, rows)
    ids = dict((await s.execute(select(Member.phone, Member.id))).all())
    for m in h.members:
        m.id = ids[m.phone]
    if h.demo:
        # The demo's own members joined before their first visit in the history.
        start = h.c.at(h.first, 0) - timedelta(days=30)
        for i, m in enumerate(h.demo):
            joined = min(start - timedelta(days=7 * i), m.first or start)
            await s.execute(update(Member).where(Member.id == m.id).values(created_at=joined))


async def _write_pools(s, writer: BulkWriter, h: _History, periods: list[_Period]) -> None:
    """Every pool of the past periods as the day left it: ``booked`` the units still taken
    (checked in or no-show), reserved pools released a day ahead (their capacity what they
    kept, the rest added to the public pool), a suspended session's pools emptied
    (``core.backoffice.changes``). Reserved bookings are never cancelled after the release, so
    what a reserved pool kept is what it holds."""
    held: Counter = Counter((plan.period.id, plan.pool) for plan in h.plans if plan.status != "cancelled")
    city_id = h.c.city.id
    rows = []
    keys = []
    for cs in h.sessions:
        emptied = cs.suspended_at is not None
        for p in cs.periods:
            final = p.final
            released = 0
            for pool, units in p.units.items():
                booked = held[(p.id, pool)]
                if emptied:
                    final[pool] = [0, 0, 0]
                elif pool in RESERVED:
                    final[pool] = [booked, booked, 0]
                    released += units - booked
                else:
                    final[pool] = [units, booked, 0]
            if released and "public" in final:
                final["public"][0] += released
            for pool in p.units:
                capacity, booked, _ = final[pool]
                rows.append({"city_id": city_id, "period_id": p.id, "session_id": cs.id, "pool": pool,
                             "capacity": capacity, "booked": booked, "release_to_public_at": None})
                keys.append((p, pool))
    await writer.insert(SP, rows)
    ids = await writer.ids(
        select(SP.c.id).join(CS, CS.c.id == SP.c.session_id)
        .where(SP.c.city_id == city_id, CS.c.city_id == city_id, CS.c.date.between(h.first, h.last))
        .order_by(SP.c.id))
    for (p, pool), pool_id in zip(keys, ids, strict=True):
        p.final[pool][2] = pool_id


def _schedule_changes(h: _History) -> list[dict]:
    """The suspensions as the back office records them (``core.backoffice.changes``)."""
    cancelled: dict[int, int] = {}
    for plan in h.plans:
        if plan.cancel_reason == "session_suspended":
            cancelled[plan.session.id] = cancelled.get(plan.session.id, 0) + 1
    return [
        {"city_id": h.c.city.id, "hospital_id": cs.doctor.hospital_id, "session_id": cs.id, "kind": "suspend",
         "target_session_id": None, "reason": cs.reason, "actor": cs.actor, "actor_name": cs.actor_name[:120],
         "at": cs.suspended_at, "moved": 0, "cancelled": cancelled.get(cs.id, 0), "waitlist_cancelled": 0}
        for cs in h.sessions if cs.suspended_at is not None
    ]


async def _suspend_sessions(s, h: _History) -> None:
    for cs in h.sessions:
        if cs.suspended_at is not None:
            await s.execute(update(ClinicSession).where(ClinicSession.id == cs.id)
                            .values(status="suspended", status_reason=f"停诊：{cs.reason}"[:500]))


__all__ = ["HISTORY_DAYS", "BulkWriter", "HistoryReport", "refresh_history_rollups", "seed_history"]
