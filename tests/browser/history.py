"""Months of past bookings for the demo city on any database (SQLite included), so the
dashboards and their screenshots have something to show.

    DATABASE_URL=sqlite+aiosqlite:///var/guahao.sqlite3 .venv/bin/python -m tests.browser.history --days 90

The demo seed only schedules the booking window ahead. This adds the ``days`` before today:
the demo doctors' weekly rosters as sessions, periods and pools, and bookings, referrals,
surveys and complaints drawn from the year generator's distributions (``bench.gen_year``:
busier Mondays, popular departments, the channel mix, no-shows by channel, cancellations).
The generator writes with PostgreSQL's COPY; here its rows go through SQLAlchemy inserts in
one transaction. Then the report rollups are refreshed. Run it once, on a demo city whose
schedule starts today (``guahao demo --reset --no-serve``).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import timedelta

from sqlalchemy import func, insert, select

from bench.gen_year import COLUMNS, MODELS, Ids, Year, _check_columns
from guahao.core.demo.roster import PERIODS_PER_HALF_DAY, _type_of, pools_for
from guahao.core.demo.seed import _roster
from guahao.core.models import ClinicSession, Hospital
from guahao.core.reports import refresh_rollups
from guahao.core.runtime import Runtime
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from guahao.tenants.service import get_city
from guahao.tenants.settings import Settings

FILL = 0.72  # share of the released units the history books, before cancellations
SEED = 20240607
BATCH = 5000


class Inserts:
    """The one method of an asyncpg connection the generator uses, as SQLAlchemy inserts."""

    def __init__(self, session):
        self.s = session

    async def copy_records_to_table(self, table: str, *, records: list[tuple], columns: list[str]) -> None:
        t = MODELS[table].__table__
        for i in range(0, len(records), BATCH):
            await self.s.execute(insert(t), [dict(zip(columns, r, strict=False)) for r in records[i:i + BATCH]])


def _capacity(year: Year, days) -> int:
    return sum(PERIODS_PER_HALF_DAY[half_day] * sum(pools_for(doc, _type_of(doc)).values())
               for day in days for doc, half_day in year.sessions_of(day))


async def add_history(rt, *, days: int, slug: str = "demo", seed: int = SEED) -> dict[str, int]:
    """Fill the ``days`` before today of city ``slug``; returns the rows written per table."""
    _check_columns()
    city = await get_city(rt.db, slug)
    if city is None:
        raise SystemExit(f"no city {slug!r}: seed the demo first (guahao demo --no-serve)")
    today = utcnow().astimezone(city.tz).date()
    wanted = [today - timedelta(days=days - i) for i in range(days)]
    with use_city(city):
        async with rt.db.transaction() as s:
            first = await s.scalar(select(func.min(ClinicSession.date)))
            if first is not None and first < today:
                print(f"{slug} already has its history from {first} (the demo seeds one): nothing added")
                return {}
            doctors = await _roster(s)
            hospitals = (await s.scalars(select(Hospital))).all()
            start = {t: (await s.scalar(select(func.max(MODELS[t].__table__.c.id))) or 0) + 1
                     for t in COLUMNS if t != "bookings"}
            ids = Ids({**start, "bookings": 1})
            year = Year(Inserts(s), city, doctors, hospitals, ids, seed=seed, members=5000, today=today)
            year.calibrate(wanted, int(_capacity(year, wanted) * FILL))
            await year.run(wanted)
            await refresh_rollups(s)
    return year.counts


async def main(days: int) -> None:
    rt = Runtime(Settings.from_env())
    started = time.perf_counter()
    counts = await add_history(rt, days=days)
    await rt.stop()
    print(f"history of {days} days added in {time.perf_counter() - started:.1f} s: "
          + ", ".join(f"{t} {n:,}" for t, n in counts.items()))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=90, help="days of history before today (default 90)")
    asyncio.run(main(ap.parse_args().days))
