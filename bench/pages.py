"""Server time of the patient site's heaviest pages: the demo city's hospital list, the
hospital with most departments, and the doctor with the most sessions (14-day schedule).

Reads the ``Server-Timing`` header the app sets on every response; prints it with the
round-trip time seen by the client. One request at a time, after a warm-up.

    python -m bench.pages                  # embedded: a fresh SQLite file
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/guahao python -m bench.pages
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import tempfile
import time

from sqlalchemy import func, select

from bench.common import RawConnection, percentile, recreate_database, server
from guahao.core.demo.seed import seed_demo
from guahao.core.migrate import upgrade_async
from guahao.core.models import ClinicSession, Department
from guahao.core.runtime import Runtime
from guahao.tenants.context import use_city
from guahao.tenants.service import get_city
from guahao.tenants.settings import Settings

TARGET_MS = 100.0


async def heaviest(rt, city) -> tuple[int, int]:
    """The hospital with most departments and the doctor with most sessions."""
    with use_city(city):
        async with rt.db.transaction() as s:
            hospital = (await s.execute(select(Department.hospital_id, func.count()).group_by(Department.hospital_id)
                                        .order_by(func.count().desc()).limit(1))).first()[0]
            doctor = (await s.execute(select(ClinicSession.doctor_id, func.count()).group_by(ClinicSession.doctor_id)
                                      .order_by(func.count().desc()).limit(1))).first()[0]
    return hospital, doctor


async def measure(base: str, path: str, n: int) -> tuple[list[float], list[float], int]:
    conn = await RawConnection(base).open()
    server_ms, rtt_ms, size = [], [], 0
    for i in range(n + 10):
        t0 = time.perf_counter()
        status, body = await conn.request("GET", path)
        rtt = (time.perf_counter() - t0) * 1000
        assert status == 200, (path, status)
        if i >= 10:  # warm-up
            server_ms.append(float(re.search(r"dur=([\d.]+)", conn.headers["server-timing"]).group(1)))
            rtt_ms.append(rtt)
            size = len(body)
    await conn.close()
    return server_ms, rtt_ms, size


async def main(n: int) -> None:
    tmp = tempfile.mkdtemp()
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        from sqlalchemy.engine import make_url

        url = make_url(url).set(database="guahao_bench_pages").render_as_string(hide_password=False)
        settings = Settings.from_env(database_url=url, redis_url="")
        await recreate_database(settings)
    else:
        settings = Settings.from_env(database_url=f"sqlite+aiosqlite:///{tmp}/pages.sqlite3", redis_url="")
    await upgrade_async(settings)
    rt = Runtime(settings)
    await seed_demo(rt)
    city = await get_city(rt.db, "demo")
    hospital, doctor = await heaviest(rt, city)
    await rt.stop()
    env = {"DATABASE_URL": settings.database_url, "REDIS_URL": "", "GUAHAO_SECRET_KEY": settings.secret_key}
    pages = {"hospital list": "/c/demo/", f"hospital {hospital} (most departments)": f"/c/demo/hospitals/{hospital}",
             f"doctor {doctor} (14-day schedule)": f"/c/demo/doctors/{doctor}"}
    backend = "PostgreSQL" if settings.is_postgres else "SQLite"
    print(f"patient site pages, demo city on {backend}, {n} sequential requests each (after 10 warm-up)")
    with server("guahao.core.app:create_app", env) as (base, _pid):
        for label, path in pages.items():
            srv, rtt, size = await measure(base, path, n)
            ok = "ok" if percentile(srv, 99) < TARGET_MS else "OVER"
            print(f"  {label:38s} {size:7d} B  server p50 {percentile(srv, 50):6.1f} ms  p99 {percentile(srv, 99):6.1f} ms"
                  f"  round trip p50 {percentile(rtt, 50):6.1f} ms  [{ok}: target < {TARGET_MS:.0f} ms]")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=200)
    a = ap.parse_args()
    asyncio.run(main(a.requests))
