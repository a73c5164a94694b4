"""Availability of one department over 14 days, over HTTP, against a bare Starlette endpoint
that serves the same JSON document from memory (same run, same machine, same client).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/guahao python -m bench.availability
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from bench.common import bench_settings, fixed_load, recreate_database, server, summary
from guahao.core.demo.seed import seed_demo
from guahao.core.migrate import upgrade_async
from guahao.core.models import ClinicSession
from guahao.core.runtime import Runtime
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from guahao.tenants.service import get_city


async def busiest_department(rt, city) -> int:
    with use_city(city):
        async with rt.db.transaction() as s:
            row = (await s.execute(
                select(ClinicSession.department_id, func.count()).group_by(ClinicSession.department_id)
                .order_by(func.count().desc()).limit(1))).first()
    return row[0]


async def main(total: int, concurrency: int) -> None:
    settings = bench_settings("guahao_bench_read")
    await recreate_database(settings)
    await upgrade_async(settings)
    rt = Runtime(settings)
    await seed_demo(rt)
    city = await get_city(rt.db, "demo")
    dept = await busiest_department(rt, city)
    await rt.stop()
    today = utcnow().astimezone(city.tz).date()
    path = (f"/api/v1/demo/availability?department_id={dept}&date_from={today}"
            f"&date_to={today + timedelta(days=13)}")
    env = {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "GUAHAO_SECRET_KEY": settings.secret_key, "GUAHAO_DATA_KEY": settings.data_key}
    runs = {}
    for label, ttl in (("1-s micro-cache (default)", "1.0"), ("cache off", "0")):
        with server("guahao.core.app:create_app", {**env, "GUAHAO_AVAILABILITY_CACHE_SECONDS": ttl}) as (base, _pid):
            first = httpx.get(base + path, timeout=60)
            first.raise_for_status()
            doc = first.json()
            await fixed_load(base, path, total=min(200, total), concurrency=concurrency)  # warm-up
            runs[label] = await fixed_load(base, path, total=total, concurrency=concurrency)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    with server("bench.bare_app:create_app", {"BENCH_PAYLOAD": f.name}) as (base, _pid):
        await fixed_load(base, "/doc", total=min(200, total), concurrency=concurrency)
        ref_s, ref_lat, _ = await fixed_load(base, "/doc", total=total, concurrency=concurrency)
    sessions = len(doc["items"])
    periods = sum(len(i["periods"]) for i in doc["items"])
    size = len(first.content)
    ref_rate = total / ref_s
    print(f"availability, one department × 14 days: {sessions} sessions, {periods} periods, {size} bytes; "
          f"{total} requests, {concurrency} in flight")
    for label, (app_s, app_lat, app_st) in runs.items():
        app_rate = total / app_s
        print(f"  app, {label} (HTTP, uvicorn, PostgreSQL): {app_rate:8.0f} req/s; {summary(app_lat)}; "
              f"statuses {app_st}; ratio {app_rate / ref_rate:.2f}")
    print(f"  reference (bare Starlette JSON, same document): {ref_rate:8.0f} req/s; {summary(ref_lat)}")
    print("  target: ratio >= 0.30")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=32)
    a = ap.parse_args()
    asyncio.run(main(a.requests, a.concurrency))
