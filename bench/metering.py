"""What metering costs: the slot-release storm with metering on and off, and ``usage verify``
over a million ledger rows, in one run on PostgreSQL (and Redis when ``REDIS_URL`` is set).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/guahao python -m bench.metering \\
        [--inventories 2] [--members 4000] [--rounds 3] [--ledger-rows 1000000]

Storm: as ``bench.storm`` measures it (members connect, then all book at the same moment;
attempts per second over real HTTP), here for ``--inventories`` sets of 500 units so that the
storm lasts long enough for the outbox to be drained while it runs; alternately with the
platform as shipped (metering on) and with ``bench.metering_off`` (the licensing plugin's
metering hooks taken out of the process, API calls not counted), each run on a city of its own. The outbox is drained
during the storm in both: by the web process itself without Redis, by a ``guahao worker``
process with Redis (started with the server, stopped once the city's due rows are done). Each
run reports how long the outbox took to drain after the storm began, and how many ledger rows
were already written while the storm lasted (metering paid during the storm, not after it).
The ratio is the median of the on-runs over the median of the off-runs (target >= 0.95).

Verify: a city with ``--ledger-rows`` rows of a correct chain (computed here, loaded with
``COPY``), then the ``verify`` function through the application's connection, and the
``guahao usage verify`` command as a process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta

import asyncpg
from sqlalchemy import func, select

from bench.common import (
    ROOT,
    bench_settings,
    pg_dsn,
    postgres_cpu_seconds,
    process_cpu_seconds,
    recreate_database,
    server,
    summary,
)
from bench.storm import audit, build_inventory, http_storm, make_members
from guahao.core.members.tokens import issue
from guahao.core.migrate import upgrade_async
from guahao.core.models import OutboxMessage
from guahao.core.runtime import Runtime
from guahao.licensing.ledger import chain
from guahao.licensing.ledger.models import UsageEvent
from guahao.licensing.ledger.verify import verify
from guahao.plugin_api import city_session
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from guahao.tenants.service import configure_plugin, create_city

TARGET_RATIO = 0.95
APPS = {"on": "guahao.core.app:create_app", "off": "bench.metering_off:create_app"}
WORKERS = {"on": "guahao.core.cli", "off": "bench.metering_off"}
DRAIN_TIMEOUT = 300.0


# --- the storm --------------------------------------------------------------------------------


@contextlib.contextmanager
def job_worker(mode: str, env: dict[str, str]):
    """A ``guahao worker`` process (metering ``on``) or the bench's one without metering; yields its pid."""
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", WORKERS[mode], "worker"], cwd=ROOT, env={**os.environ, **env},
                            stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            log.seek(0)
            if b"Starting worker" in log.read():
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"the {mode} worker did not start: {log.read()[-2000:].decode(errors='replace')}")
            time.sleep(0.1)
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


async def due_left(rt, city) -> int:
    """The city's outbox rows due now and not run yet."""
    with use_city(city):
        async with rt.db.transaction() as s:
            return int(await s.scalar(
                select(func.count()).select_from(OutboxMessage)
                .where(OutboxMessage.status.in_(("pending", "queued")), OutboxMessage.due_at <= utcnow())
            ) or 0)


async def ledger_rows(rt, city, until=None) -> int:
    async with city_session(rt, city) as s:
        q = select(func.count()).select_from(UsageEvent)
        if until is not None:
            q = q.where(UsageEvent.recorded_at <= until)
        return int(await s.scalar(q) or 0)


async def storm_run(rt, settings, mode: str, n: int, members: int, workers: int, inventories: int) -> dict:
    """One storm on a fresh city with metering ``on`` or ``off``; waits for the outbox to drain."""
    city = await create_city(rt.db, slug=f"m{n}-{mode}", name=f"计量压测{n}{mode}")
    for plugin in ("pay_at_hospital", "demo_his", "message_log"):
        await configure_plugin(rt.db, city, plugin)
    periods = [p for k in range(inventories) for p in await build_inventory(rt, city, f"{n}{mode}{k}")]
    member_ids = await make_members(rt, city, members)
    tokens = [issue(settings, member_id=m, city_id=city.id)[0] for m in member_ids]
    env = {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "GUAHAO_SECRET_KEY": settings.secret_key, "GUAHAO_DATA_KEY": settings.data_key,
           "GUAHAO_ARQ_NAMESPACE": f"bench-{uuid.uuid4().hex[:8]}"}
    with contextlib.ExitStack() as stack:
        worker_pid = stack.enter_context(job_worker(mode, env)) if settings.redis_url else None
        base, pid = stack.enter_context(server(APPS[mode], env, workers=workers))
        cpu0 = (process_cpu_seconds(pid), postgres_cpu_seconds(), process_cpu_seconds(worker_pid) if worker_pid else 0.0)
        started = utcnow()
        t0 = time.perf_counter()
        elapsed, lat, statuses = await http_storm(base, city.slug, tokens, periods)
        ended = utcnow()
        while await due_left(rt, city):
            if time.perf_counter() - t0 > DRAIN_TIMEOUT:
                raise RuntimeError(f"the outbox of {city.slug} did not drain in {DRAIN_TIMEOUT:.0f} s")
            await asyncio.sleep(0.1)
        drained = time.perf_counter() - t0
        cpu = (process_cpu_seconds(pid) - cpu0[0], postgres_cpu_seconds() - cpu0[1],
               (process_cpu_seconds(worker_pid) - cpu0[2]) if worker_pid else 0.0)
    result = await audit(rt, city, periods)
    return {
        "mode": mode, "run": n, "rate": members / elapsed, "elapsed": elapsed, "latency": summary(lat),
        "statuses": statuses, "confirmed": result["confirmed"], "overbooked": result["overbooked"],
        "drained": drained, "rows": await ledger_rows(rt, city), "rows_during": await ledger_rows(rt, city, ended),
        "cpu": cpu, "started": started,
    }


# --- the ledger of a million rows -------------------------------------------------------------

_METERS = [  # (meter, quantity, dimensions): a mix of what a city's ledger holds
    *(("booking.confirmed", 1, {"channel": c, "registration_type": "general"}) for c in ("web", "app", "wechat", "phone")),
    ("notification.sent", 1, {"channel": "sms", "kind": "booking_confirmed"}),
    ("notification.sent", 2, {"channel": "sms", "kind": "reminder_day_before"}),
    ("booking.cancelled", 1, {"channel": "web", "registration_type": "general", "reason": "行程有变"}),
    ("fee.paid_fen", 500, {"provider": "stripe"}),
    ("member.registered", 1, {"registered_by": "self"}),
]
_STORED = [(m, q, json.dumps(d, ensure_ascii=False), chain.dimensions_text(d)) for m, q, d in _METERS]


def ledger_records(city_id: int, count: int, start_seq: int, prev: str, *, total: int, start):
    """Rows ``start_seq …`` (``count`` of them) of a chain of ``total`` rows spread over the year
    after ``start``, as COPY records, and the last hash."""
    first = start
    step = timedelta(days=365) / max(total, 1)
    records = []
    for seq in range(start_seq, start_seq + count):
        meter, quantity, stored, canonical_dims = _STORED[seq % len(_STORED)]
        occurred = first + step * seq
        recorded = occurred + timedelta(seconds=3)
        source = f"{meter}:bench-{seq}"
        digest = chain.link(prev, chain.content(city_id, seq, meter, quantity, canonical_dims, chain.utc_text(occurred),
                                                source, chain.utc_text(recorded)))
        records.append((city_id, seq, meter, quantity, stored, occurred, source, recorded, prev, digest))
        prev = digest
    return records, prev


async def seed_ledger(settings, city_id: int, rows: int, batch: int = 100_000) -> tuple[float, float]:
    """Write ``rows`` chained rows for the city with COPY (as the database owner); returns the
    seconds spent computing the chain and loading it."""
    conn = await asyncpg.connect(pg_dsn(settings.database_url))
    compute = load = 0.0
    prev, seq, start = chain.GENESIS, 1, utcnow() - timedelta(days=365)
    columns = ["city_id", "seq", "meter", "quantity", "dimensions", "occurred_at", "source_id", "recorded_at",
               "prev_hash", "hash"]
    try:
        while seq <= rows:
            t0 = time.perf_counter()
            records, prev = ledger_records(city_id, min(batch, rows - seq + 1), seq, prev, total=rows, start=start)
            t1 = time.perf_counter()
            await conn.copy_records_to_table("usage_events", records=records, columns=columns)
            load += time.perf_counter() - t1
            compute += t1 - t0
            seq += len(records)
        await conn.execute("INSERT INTO usage_chain_heads (city_id, seq, hash, updated_at) VALUES ($1, $2, $3, now())",
                           city_id, rows, prev)
        await conn.execute("ANALYZE usage_events")
    finally:
        await conn.close()
    return compute, load


async def verify_run(rt, settings, rows: int) -> dict:
    city = await create_city(rt.db, slug="ledger-1m", name="百万行账本")
    compute, load = await seed_ledger(settings, city.id, rows)
    t0 = time.perf_counter()
    async with city_session(rt, city) as s:
        verdict = await verify(s)
    seconds = time.perf_counter() - t0
    env = {**os.environ, "DATABASE_URL": settings.database_url, "GUAHAO_SECRET_KEY": settings.secret_key}
    t1 = time.perf_counter()
    cli = subprocess.run([sys.executable, "-m", "guahao.core.cli", "usage", "verify", city.slug], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    cli_seconds = time.perf_counter() - t1
    return {"rows": verdict.rows, "ok": verdict.ok, "seconds": seconds, "compute": compute, "load": load,
            "cli": (cli.stdout + cli.stderr).strip(), "cli_code": cli.returncode, "cli_seconds": cli_seconds}


# --- the report -------------------------------------------------------------------------------


def table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)
    print("  " + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  " + line)
    for r in rows:
        print("  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))


def report_storm(runs: list[dict], members: int, units: int, workers: int, redis: bool) -> float:
    print(f"slot-release storm, metering on and off: {members} members for {units} units per run, {workers} server "
          f"worker(s), outbox drained {'by a guahao worker (Redis)' if redis else 'in the web process (no Redis)'}")
    rows = []
    for r in runs:
        cpu = r["cpu"]
        rows.append([r["mode"], str(r["run"]), f"{r['rate']:.0f}", f"{r['elapsed']:.2f}", str(r["confirmed"]),
                     f"{r['drained']:.1f}", f"{r['rows_during']}/{r['rows']}",
                     f"{cpu[0]:.1f}/{cpu[2]:.1f}/{cpu[1]:.1f}", r["latency"]])
    table(["metering", "run", "attempts/s", "storm s", "confirmed", "drained s", "ledger rows (storm/all)",
           "CPU s web/worker/pg", "latency"], rows)
    on = [r["rate"] for r in runs if r["mode"] == "on"]
    off = [r["rate"] for r in runs if r["mode"] == "off"]
    ratio = statistics.median(on) / statistics.median(off)
    drain_on = statistics.median(r["drained"] for r in runs if r["mode"] == "on")
    drain_off = statistics.median(r["drained"] for r in runs if r["mode"] == "off")
    print(f"  median attempts/s: on {statistics.median(on):.0f}, off {statistics.median(off):.0f}; "
          f"ratio on/off {ratio:.3f} (target >= {TARGET_RATIO}) {'OK' if ratio >= TARGET_RATIO else 'BELOW TARGET'}")
    print(f"  median time until the outbox was drained: on {drain_on:.1f} s, off {drain_off:.1f} s")
    bad = [r for r in runs if r["confirmed"] != units or r["overbooked"]]
    print(f"  every run confirmed {units} with none overbooked: {not bad}")
    return ratio


def report_verify(v: dict) -> None:
    print(f"usage verify over one city's ledger of {v['rows']:,} rows (chain computed in {v['compute']:.1f} s, "
          f"loaded with COPY in {v['load']:.1f} s)")
    table(["what", "seconds", "rows/s", "result"], [
        ["verify() (app role, streamed)", f"{v['seconds']:.1f}", f"{v['rows'] / v['seconds']:,.0f}",
         "intact" if v["ok"] else "MISMATCH"],
        ["guahao usage verify (process)", f"{v['cli_seconds']:.1f}", f"{v['rows'] / v['cli_seconds']:,.0f}",
         f"exit {v['cli_code']}"],
    ])
    print(f"  $ guahao usage verify ledger-1m\n  {v['cli']}")


async def main(args) -> None:
    settings = bench_settings("guahao_bench_metering")
    await recreate_database(settings)
    await upgrade_async(settings)
    rt = Runtime(settings)
    await rt.start()
    try:
        runs = []
        if args.rounds:
            for n in range(1, args.rounds + 1):
                for mode in (("on", "off") if n % 2 else ("off", "on")):
                    runs.append(await storm_run(rt, settings, mode, n, args.members, args.workers, args.inventories))
                    print(f"  … run {n} {mode}: {runs[-1]['rate']:.0f} attempts/s", flush=True)
        verified = await verify_run(rt, settings, args.ledger_rows) if args.ledger_rows else None
    finally:
        await rt.stop()
    print()
    if runs:
        report_storm(runs, args.members, 500 * args.inventories, args.workers, bool(settings.redis_url))
    if verified:
        print()
        report_verify(verified)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inventories", type=int, default=2,
                    help="sets of 500 units (one hospital each, as bench.storm builds it) per storm (default 2)")
    ap.add_argument("--members", type=int, default=4000, help="members booking in each storm (default 4000)")
    ap.add_argument("--rounds", type=int, default=3, help="storms per mode, alternating on/off (0: none; default 3)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="uvicorn worker processes (default: one per core, as deployed)")
    ap.add_argument("--ledger-rows", type=int, default=1_000_000, help="rows of the ledger to verify (0: skip)")
    asyncio.run(main(ap.parse_args()))
