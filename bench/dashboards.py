"""Server time of the health-bureau dashboard pages over the generated year (R13), on PostgreSQL.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/guahao python -m bench.gen_year
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/guahao python -m bench.dashboards

Serves the app on the year's database, logs in as the demo's bureau viewers (the whole city,
``bureau``; one district, ``bureau.east``) and reads the ``Server-Timing`` header of the
overview and of every report page with its default grouping, for the default 30 days and for
the year to date; prints p50 and max over ``--runs`` requests after one warm-up. A page
renders the report, its chart option and its table. Target: under 500 ms per report page.
"""

from __future__ import annotations

import argparse
import re

import httpx

from bench.common import bench_settings, percentile, server
from guahao.core.demo.staff import PASSWORD

TARGET_MS = 500
PAGES = ("", "/bookings", "/no_show", "/slots", "/complaints", "/satisfaction", "/referrals", "/comparison")
RANGES = {"30 days": "", "this year": "range=year"}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def login(client: httpx.Client, username: str) -> None:
    page = client.get("/console/c/demo/login")
    token = CSRF.search(page.text).group(1)
    r = client.post("/console/c/demo/login", data={"username": username, "password": PASSWORD, "csrf": token})
    if r.status_code != 303:
        raise SystemExit(f"cannot log in as {username}: {r.status_code}")


def main(database: str, runs: int) -> None:
    settings = bench_settings(database)
    env = {"DATABASE_URL": settings.database_url, "REDIS_URL": "", "GUAHAO_SECRET_KEY": settings.secret_key}
    print(f"dashboard pages over the year in {database}; {runs} requests each after a warm-up, one uvicorn worker")
    worst = 0.0
    with server("guahao.core.app:create_app", env) as (base, _pid):
        for username in ("bureau", "bureau.east"):
            with httpx.Client(base_url=base, timeout=60) as client:
                login(client, username)
                for label, query in RANGES.items():
                    for page in PAGES:
                        url = f"/console/c/demo/dashboards{page}" + (f"?{query}" if query else "")
                        times = []
                        for i in range(runs + 1):
                            r = client.get(url)
                            assert r.status_code == 200, (url, r.status_code)
                            if i:
                                times.append(float(re.search(r"dur=([\d.]+)", r.headers["server-timing"]).group(1)))
                        if page:
                            worst = max(worst, max(times))
                        print(f"  {username:11s} {label:9s} {page or '/ (overview)':14s} p50 {percentile(times, 50):7.1f} ms"
                              f"  max {max(times):7.1f} ms  {len(r.content) // 1024:5d} KiB")
    print(f"  slowest report page {worst:.1f} ms; target < {TARGET_MS} ms")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database", default="guahao_bench_reports")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    main(a.database, a.runs)
