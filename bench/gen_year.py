"""Fill PostgreSQL with a year of the demo city 示例市 for the report benchmark (R13).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/guahao python -m bench.gen_year --bookings 2000000

Seeds the demo catalogue, then writes a year of sessions, periods and pools (the demo's own
weekly rosters, from a year ago to the end of the booking window), members, bookings,
referrals, surveys and complaints with COPY, and builds the report rollups. Deterministic
for a seed. Distributions: busier Mondays and quiet Sundays, a winter peak, popular
departments and senior doctors fill first, about 10 % no-shows (more by phone and SMS,
fewer at kiosks), cancellations, the channel mix of a Chinese city (WeChat first), and the
referral pool booked by community centres, mostly of the hospital's own district. Pools are
never overbooked (``booked`` is the count of bookings holding a unit).

Runs as the database owner on a dedicated connection with the city set, so row-level
security holds; as a superuser it skips foreign-key triggers during the load (the rows are
consistent by construction).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import time
from datetime import date, timedelta

import asyncpg
from sqlalchemy import select, text

from bench.common import bench_settings, pg_dsn, recreate_database
from guahao.core.catalogue.schedule import even_periods, local_to_utc, release_instant
from guahao.core.demo.roster import PERIODS_PER_HALF_DAY, RESERVED_RELEASE, _type_of, pools_for, weekly_pattern
from guahao.core.demo.seed import DEMO_SEED, _roster, seed_demo
from guahao.core.migrate import upgrade_async
from guahao.core.models import Booking, ClinicSession, Complaint, Hospital, Member, Period, Referral, SlotPool, SurveyResponse
from guahao.core.reports import refresh_rollups
from guahao.core.runtime import Runtime
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from guahao.tenants.db import make_engine
from guahao.tenants.service import get_city

WEEKDAY = (1.0, 0.9, 0.88, 0.9, 0.85, 0.62, 0.5)
TITLE = {"chief": 1.15, "associate_chief": 1.05, "attending": 0.95, "resident": 0.85}
POOL_FILL = {"public": 1.0, "onsite": 0.7, "clinic": 0.8, "referral": 0.6}
PUBLIC_CHANNELS = (("wechat", 34), ("app", 20), ("web", 14), ("phone", 10), ("kiosk", 11), ("sms", 5), ("agent", 6))
NO_SHOW = {"wechat": 0.095, "app": 0.085, "web": 0.105, "phone": 0.14, "kiosk": 0.05, "sms": 0.13, "agent": 0.12,
           "onsite": 0.03, "clinic": 0.04, "referral": 0.11}
CANCEL_SHARE = 0.09
COMPLAINT_SHARE = 0.004
SURVEY_SHARE = 0.15
CHUNK_DAYS = 14

COLUMNS = {
    "clinic_sessions": ("id", "city_id", "hospital_id", "campus_id", "department_id", "doctor_id",
                        "registration_type_id", "date", "half_day", "fee_fen", "status", "starts_at", "ends_at",
                        "release_at", "status_reason"),
    "periods": ("id", "city_id", "session_id", "start", "end", "starts_at", "ends_at"),
    "slot_pools": ("id", "city_id", "period_id", "session_id", "pool", "capacity", "booked", "release_to_public_at"),
    "members": ("id", "city_id", "name", "id_number_encrypted", "id_number_hash", "id_number_masked", "birth_date",
                "sex", "phone", "password_hash", "suspended_until", "suspension_reason", "notifications_opt_out",
                "created_at", "registered_by", "email", "wechat_openid"),
    "bookings": ("id", "city_id", "member_id", "hospital_id", "department_id", "doctor_id", "session_id",
                 "period_id", "pool_id", "session_date", "starts_at", "ends_at", "channel", "status", "fee_fen",
                 "payment_status", "payment_provider", "payment_ref", "hold_expires_at", "checked_in_at", "late",
                 "cancel_reason", "created_by", "created_at", "updated_at"),
    "referrals": ("id", "city_id", "booking_id", "centre_id", "hospital_id", "member_id", "staff_id", "note",
                  "created_at"),
    "survey_responses": ("id", "city_id", "booking_id", "member_id", "hospital_id", "department_id", "doctor_id",
                         "visit_date", "overall", "waiting", "attitude", "comment", "created_at"),
    "complaints": ("id", "city_id", "member_id", "hospital_id", "booking_id", "category", "text", "status", "reply",
                   "replied_by", "replied_at", "closed_at", "created_at", "updated_at"),
}
MODELS = {m.__tablename__: m for m in (ClinicSession, Period, SlotPool, Member, Booking, Referral, SurveyResponse,
                                       Complaint)}


def _check_columns() -> None:
    """Fail loudly if a table gained a column this generator does not fill."""
    for table, cols in COLUMNS.items():
        have = set(MODELS[table].__table__.c.keys())
        if have != set(cols):
            raise SystemExit(f"{table}: columns changed: {sorted(have ^ set(cols))}")


class Ids:
    def __init__(self, start: dict[str, int]):
        self.next = dict(start)

    def take(self, table: str) -> int:
        n = self.next[table]
        self.next[table] = n + 1
        return n


class Year:
    """Generates and loads the rows, a fortnight at a time."""

    def __init__(self, conn, city, doctors, hospitals, ids: Ids, *, seed: int, members: int, today: date):
        self.conn, self.city, self.doctors, self.ids = conn, city, doctors, ids
        self.rng = random.Random(seed)
        self.seed, self.members, self.today = seed, members, today
        self.member_base = ids.next["members"]
        self.centres_by_district: dict[int | None, list[int]] = {}
        self.district = {h.id: h.district_id for h in hospitals}
        for h in hospitals:
            if h.kind == "community":
                self.centres_by_district.setdefault(h.district_id, []).append(h.id)
        self.all_centres = [c for cs in self.centres_by_district.values() for c in cs]
        dept_rng = random.Random(f"{seed}:departments")
        self.dept_pull = {d.department_id: dept_rng.uniform(0.55, 1.25) for d in doctors}
        self.patterns = {d.id: weekly_pattern(d, DEMO_SEED) for d in doctors}
        self.channels, self.channel_weights = zip(*PUBLIC_CHANNELS, strict=False)
        self.counts = dict.fromkeys(COLUMNS, 0)
        self.session_no = 0
        self.base = 1.0
        self.capacity_factor = 1

    def sessions_of(self, day: date):
        for doc in self.doctors:
            for weekday, half_day in self.patterns[doc.id]:
                if weekday == day.weekday():
                    yield doc, half_day

    def demand(self, doc, day: date) -> float:
        season = 1 + 0.12 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 15) / 365)
        ahead = (day - self.today).days
        window = 1.0 if ahead < 0 else max(0.12, 1 - ahead / 14)  # future days are still filling
        return WEEKDAY[day.weekday()] * self.dept_pull[doc.department_id] * TITLE[doc.title] * season * window

    def calibrate(self, days: list[date], target: int) -> None:
        """Choose the fill level (and, if the roster is too small, a capacity factor) so the
        year holds about ``target`` bookings."""
        buckets: dict[float, int] = {}
        capacity = 0
        for day in days:
            for doc, half_day in self.sessions_of(day):
                d = self.demand(doc, day)
                per_period = pools_for(doc, _type_of(doc))
                units = PERIODS_PER_HALF_DAY[half_day] * sum(per_period.values())
                capacity += units
                for pool, n in per_period.items():
                    key = round(d * POOL_FILL[pool], 2)
                    buckets[key] = buckets.get(key, 0) + PERIODS_PER_HALF_DAY[half_day] * n
        wanted = target * 1.02 / (1 + CANCEL_SHARE)  # a little over: the target is a floor
        self.capacity_factor = max(1, math.ceil(wanted / (0.8 * capacity)))

        def expected(base: float) -> float:
            return sum(units * self.capacity_factor * min(1.0, base * d) for d, units in buckets.items())

        lo, hi = 0.0, 10.0
        for _ in range(40):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if expected(mid) < wanted else (lo, mid)
        self.base = hi

    async def run(self, days: list[date]) -> None:
        await self.copy("members", self.member_rows())
        for i in range(0, len(days), CHUNK_DAYS):
            rows = {t: [] for t in COLUMNS if t != "members"}
            for day in days[i:i + CHUNK_DAYS]:
                for doc, half_day in self.sessions_of(day):
                    self.session(rows, doc, day, half_day)
            for table in ("clinic_sessions", "periods", "slot_pools", "bookings", "referrals", "survey_responses",
                          "complaints"):
                await self.copy(table, rows[table])

    async def copy(self, table: str, records: list[tuple]) -> None:
        if records:
            await self.conn.copy_records_to_table(table, records=records, columns=list(COLUMNS[table]))
            self.counts[table] += len(records)

    def member_rows(self) -> list[tuple]:
        now = utcnow()
        rng = random.Random(f"{self.seed}:members")
        out = []
        for n in range(self.members):
            sex = "F" if n % 2 else "M"
            born = date(1940, 1, 1) + timedelta(days=rng.randrange(80 * 365))
            out.append((self.ids.take("members"), self.city.id, f"患者{n:07d}", "generated", f"gen-{n:010d}",
                        f"{n % 100:02d}**************", born, sex, f"170{n:08d}", "generated", None,
                        "", False, now, "gen_year", None, None))
        return out

    def session(self, rows: dict, doc, day: date, half_day: str) -> None:
        tz = self.city.tz
        rng = self.rng
        type_code = _type_of(doc)
        specs = even_periods(half_day, PERIODS_PER_HALF_DAY[half_day], pools_for(doc, type_code))
        sid = self.ids.take("clinic_sessions")
        self.session_no += 1
        campus = doc.campus_ids[(day.weekday() + (half_day != "am")) % len(doc.campus_ids)]
        suspended = rng.random() < 0.01  # 停诊
        fee = doc.fees[type_code]
        rows["clinic_sessions"].append(
            (
                sid,
                self.city.id,
                doc.hospital_id,
                campus,
                doc.department_id,
                doc.id,
                doc.type_ids[type_code],
                day,
                half_day,
                fee,
                "suspended" if suspended else "open",
                local_to_utc(day, specs[0].start, tz),
                local_to_utc(day, specs[-1].end, tz),
                release_instant(day, tz, self.city.rules.booking_window_days, self.city.rules.release_time),
                "医生临时停诊" if suspended else "",
            )
        )
        demand = self.demand(doc, day) * self.base * rng.uniform(0.85, 1.15)
        past = day < self.today
        member_slot = 0
        for spec in specs:
            pid = self.ids.take("periods")
            starts, ends = local_to_utc(day, spec.start, tz), local_to_utc(day, spec.end, tz)
            rows["periods"].append((pid, self.city.id, sid, spec.start, spec.end, starts, ends))
            for pool, units in spec.pools.items():
                capacity = units * self.capacity_factor
                fill = 0.0 if suspended else min(1.0, demand * POOL_FILL[pool])
                holding = sum(1 for _ in range(capacity) if rng.random() < fill)
                cancelled = sum(1 for _ in range(holding) if rng.random() < CANCEL_SHARE)
                if suspended:
                    cancelled = rng.randrange(capacity + 1)  # the bookings the suspension cancelled
                pool_id = self.ids.take("slot_pools")
                reserved = pool in ("clinic", "referral")
                rows["slot_pools"].append((pool_id, self.city.id, pid, sid, pool, capacity, holding,
                                           starts - RESERVED_RELEASE if reserved else None))
                for k in range(holding + cancelled):
                    member_slot += 1
                    status = self.status(pool, past, cancelled=k >= holding)
                    self.booking(rows, doc, sid, pid, pool_id, pool, day, starts, ends, fee, status, member_slot)

    def status(self, pool: str, past: bool, *, cancelled: bool) -> tuple[str, str]:
        rng = self.rng
        channel = {"onsite": "onsite", "clinic": "clinic", "referral": "referral"}.get(pool) or \
            rng.choices(self.channels, self.channel_weights)[0]
        if cancelled:
            return channel, "expired" if rng.random() < 0.08 else "cancelled"
        if not past:
            return channel, "confirmed"
        return channel, "no_show" if rng.random() < NO_SHOW[channel] else "checked_in"

    def booking(self, rows, doc, sid, pid, pool_id, pool, day, starts, ends, fee, how, slot) -> None:
        rng = self.rng
        channel, status = how
        bid = f"Y{self.ids.take('bookings'):011d}"
        member = self.member_base + (self.session_no * 7919 + slot) % self.members
        created = starts - timedelta(minutes=rng.randrange(30, 7 * 24 * 60))
        checked_in_at = starts - timedelta(minutes=rng.randrange(5, 40)) if status == "checked_in" else None
        centre = 0
        if pool == "referral":
            near = self.centres_by_district.get(self.district.get(doc.hospital_id)) or self.all_centres
            centre = rng.choice(near if rng.random() < 0.8 else self.all_centres)
        created_by = f"referral:{centre}" if centre else ("agent" if channel == "agent" else "member")
        rows["bookings"].append((
            bid, self.city.id, member, doc.hospital_id, doc.department_id, doc.id, sid, pid, pool_id, day, starts,
            ends, channel, status, fee, "none", "", "", None, checked_in_at, False,
            "患者取消" if status == "cancelled" else "", created_by, created, checked_in_at or created))
        if centre:
            rows["referrals"].append((self.ids.take("referrals"), self.city.id, bid, centre, doc.hospital_id, member,
                                      None, "", created))
        if status == "checked_in" and rng.random() < SURVEY_SHARE:
            overall = rng.choices((1, 2, 3, 4, 5), (3, 5, 12, 35, 45))[0]
            rows["survey_responses"].append((
                self.ids.take("survey_responses"), self.city.id, bid, member, doc.hospital_id, doc.department_id,
                doc.id, day, overall, max(1, min(5, overall + rng.choice((-2, -1, -1, 0, 0)))),
                max(1, min(5, overall + rng.choice((-1, 0, 0, 0, 1)))), "", ends + timedelta(hours=rng.randrange(1, 72))))
        if status in ("checked_in", "no_show") and rng.random() < COMPLAINT_SHARE / 0.8:
            self.complaint(rows, doc, bid, member, ends)

    def complaint(self, rows, doc, bid, member, ends) -> None:
        rng = self.rng
        created = ends + timedelta(minutes=rng.randrange(60, 3 * 24 * 60))
        now = utcnow()
        roll = rng.random()
        status = "submitted" if created > now - timedelta(days=2) or roll < 0.05 else (
            "replied" if roll < 0.65 else "closed")
        replied = created + timedelta(hours=rng.lognormvariate(2.1, 0.9)) if status != "submitted" else None
        if replied and replied > now:
            status, replied = "submitted", None
        closed = replied + timedelta(days=rng.randrange(1, 5)) if status == "closed" else None
        category = rng.choices(("waiting", "service", "medical", "fees", "environment", "booking", "other"),
                               (30, 25, 12, 10, 8, 10, 5))[0]
        rows["complaints"].append((
            self.ids.take("complaints"), self.city.id, member, doc.hospital_id, bid, category, "候诊时间过长，服务有待改进",
            status, "已核实并改进" if replied else "", "hospital" if replied else "", replied, closed, created,
            closed or replied or created))


async def _next_ids(conn) -> dict[str, int]:
    out = {}
    for table in COLUMNS:
        if table == "bookings":
            out[table] = 1
            continue
        out[table] = (await conn.fetchval(f'SELECT coalesce(max(id), 0) FROM "{table}"')) + 1
    return out


async def generate(settings, *, bookings: int, seed: int, days_back: int = 365, window: int = 14) -> dict:
    """Build the demo city's year in ``settings``' database; returns counts and timings."""
    _check_columns()
    t0 = time.perf_counter()
    rt = Runtime(settings)
    await seed_demo(rt, days=0)
    city = await get_city(rt.db, "demo")
    with use_city(city):
        async with rt.db.transaction() as s:
            doctors = await _roster(s)
            hospitals = (await s.scalars(select(Hospital))).all()
    today = utcnow().astimezone(city.tz).date()
    days = [today - timedelta(days=days_back - i) for i in range(days_back + window)]
    conn = await asyncpg.connect(pg_dsn(settings.owner_url))
    try:
        await conn.execute("SELECT set_config('app.city_id', $1, false)", str(city.id))
        if await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
            await conn.execute("SET session_replication_role = replica")
        ids = Ids(await _next_ids(conn))
        year = Year(conn, city, doctors, hospitals, ids, seed=seed, members=max(20_000, bookings // 8), today=today)
        year.calibrate(days, bookings)
        await year.run(days)
        for table in COLUMNS:
            if table != "bookings":
                await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                   f"(SELECT coalesce(max(id), 1) FROM \"{table}\"))")
    finally:
        await conn.close()
    loaded = time.perf_counter()
    await _analyze(settings)
    with use_city(city):
        async with rt.db.transaction() as s:
            refresh = await refresh_rollups(s)
    await _analyze(settings)
    await rt.stop()
    done = time.perf_counter()
    return {"counts": year.counts, "capacity_factor": year.capacity_factor, "load_seconds": loaded - t0,
            "rollup_seconds": done - loaded, "rollup_rows": refresh.rows, "days": (days[0], days[-1])}


async def _analyze(settings) -> None:
    engine = make_engine(settings.owner_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
    finally:
        await engine.dispose()


async def main(args) -> None:
    settings = bench_settings(args.database)
    await recreate_database(settings)
    await upgrade_async(settings)
    out = await generate(settings, bookings=args.bookings, seed=args.seed)
    print(f"year of 示例市 {out['days'][0]} … {out['days'][1]} in {settings.database_url.rsplit('/', 1)[-1]}")
    for table, n in out["counts"].items():
        print(f"  {table:18s} {n:>10,d}")
    print(f"  capacity factor {out['capacity_factor']}; load {out['load_seconds']:.1f} s; "
          f"rollups {out['rollup_seconds']:.1f} s {out['rollup_rows']}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bookings", type=int, default=2_000_000)
    ap.add_argument("--seed", type=int, default=20240607)
    ap.add_argument("--database", default="guahao_bench_reports")
    asyncio.run(main(ap.parse_args()))
