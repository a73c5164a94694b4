"""Server time of every health-bureau report over a generated year (R13), on PostgreSQL.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/guahao python -m bench.gen_year
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/guahao python -m bench.reports

Each report runs in-process through the application's own connection (row-level security
on) for every grouping the dashboards offer and every scope: the whole city, one district,
one hospital; each over the past year through today, a closed month, the fortnight ahead
and the last 30 days plus the next 14 (the dashboards' default window). It prints p50 and
max over ``--runs`` runs after one warm-up. Target: every run under 500 ms.

``--report``, ``--group`` and ``--scope`` narrow the run (substring match); ``--explain``
prints ``EXPLAIN ANALYZE`` of every statement of one run of each combination instead.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import timedelta

from sqlalchemy import event, func, select

from bench.common import bench_settings, percentile
from guahao.core.models import Booking, District, Hospital
from guahao.core.reports import GROUPS, REPORTS, ReportFilter, coverage
from guahao.core.runtime import Runtime
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from guahao.tenants.service import get_city

TARGET_MS = 500


def scopes(today, district: int, hospital: int) -> dict[str, ReportFilter]:
    spans = {
        "year": dict(date_from=today - timedelta(days=365), date_to=today),
        "month": dict(date_from=today - timedelta(days=45), date_to=today - timedelta(days=15)),
        "14 ahead": dict(date_from=today, date_to=today + timedelta(days=13)),
        "30 back+14": dict(date_from=today - timedelta(days=30), date_to=today + timedelta(days=13)),
    }
    regions = {"city": {}, "district": {"district_ids": [district]}, "hospital": {"hospital_ids": [hospital]}}
    return {f"{r}, {s}": ReportFilter(**span, **region) for r, region in regions.items() for s, span in spans.items()}


async def explain(rt, city, report, f) -> None:
    """Run the report once and print EXPLAIN ANALYZE of each SELECT it sent."""
    sent: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")) and "set_config" not in statement:
            sent.append((statement, parameters))

    event.listen(rt.db.engine.sync_engine, "before_cursor_execute", capture)
    try:
        with use_city(city):
            async with rt.db.transaction() as s:
                await report(s, f)
    finally:
        event.remove(rt.db.engine.sync_engine, "before_cursor_execute", capture)
    with use_city(city):
        async with rt.db.transaction() as s:
            conn = await s.connection()
            for statement, parameters in sent:
                plan = await conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                print("\n".join(r[0] for r in plan.all()), "\n")


async def main(database: str, runs: int, only: dict[str, str | None], show_plans: bool) -> None:
    settings = bench_settings(database)
    rt = Runtime(settings)
    city = await get_city(rt.db, "demo")
    if city is None:
        raise SystemExit(f"no demo city in {database}: run python -m bench.gen_year first")
    today = utcnow().astimezone(city.tz).date()
    with use_city(city):
        async with rt.db.transaction() as s:
            bookings = await s.scalar(select(func.count()).select_from(Booking))
            cover = await coverage(s)
            district = await s.scalar(select(District.id).order_by(District.code))
            hospital = await s.scalar(select(Hospital.id).where(Hospital.kind == "general").order_by(Hospital.id))
    print(f"reports over {bookings:,} bookings of 示例市; rollups cover {cover.rolled_from if cover else '-'} … "
          f"{cover.rolled_through if cover else '-'}; {runs} runs each, in-process, PostgreSQL with RLS")
    worst, over = 0.0, []
    for name, report in REPORTS.items():
        if only["report"] and only["report"] not in name:
            continue
        for group in GROUPS[name]:
            if only["group"] and only["group"] not in group:
                continue
            for label, f in scopes(today, district, hospital).items():
                if only["scope"] and only["scope"] not in label:
                    continue
                f = f.with_group(group)
                if show_plans:
                    print(f"===== {name} by {group}, {label}")
                    await explain(rt, city, report, f)
                    continue
                times = []
                for i in range(runs + 1):
                    with use_city(city):
                        t0 = time.perf_counter()
                        async with rt.db.transaction() as s:
                            rep = await report(s, f)
                        elapsed = time.perf_counter() - t0
                    if i:
                        times.append(elapsed * 1000)
                worst = max(worst, max(times))
                if max(times) >= TARGET_MS:
                    over.append(f"{name} by {group}, {label}")
                print(f"  {name:12s} by {group:11s} {label:20s} p50 {percentile(times, 50):7.1f} ms  "
                      f"max {max(times):7.1f} ms  ({len(rep.rows)} rows)", flush=True)
    if not show_plans:
        print(f"  slowest run {worst:.1f} ms; target < {TARGET_MS} ms; {len(over)} over: {', '.join(over) or '-'}")
    await rt.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database", default="guahao_bench_reports")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--report", help="only reports whose name contains this")
    ap.add_argument("--group", help="only groupings whose name contains this")
    ap.add_argument("--scope", help="only scopes whose label contains this, e.g. 'city, year'")
    ap.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE instead of timing")
    a = ap.parse_args()
    asyncio.run(main(a.database, a.runs, {"report": a.report, "group": a.group, "scope": a.scope}, a.explain))
