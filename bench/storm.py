"""Slot-release storm: thousands of members book at the same second for 500 units.

Over real HTTP against a uvicorn process on PostgreSQL (and Redis when ``REDIS_URL`` is set),
then the same inventory update and booking insert issued directly with asyncpg (no HTTP, no
ORM) as the reference figure of this machine, in the same run.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/guahao python -m bench.storm [--members 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import time
from datetime import date, timedelta
from datetime import time as dtime

import asyncpg
from sqlalchemy import func, select, text

from bench.common import (
    RawConnection,
    bench_settings,
    pg_dsn,
    postgres_cpu_seconds,
    process_cpu_seconds,
    recreate_database,
    server,
    summary,
)
from guahao.core.catalogue.schedule import PeriodSpec, create_session
from guahao.core.members.ids import check_digit
from guahao.core.members.tokens import issue
from guahao.core.migrate import upgrade_async
from guahao.core.models import (
    Booking,
    Campus,
    ClinicSession,
    Department,
    Doctor,
    Hospital,
    Member,
    Period,
    RegistrationType,
    SlotPool,
)
from guahao.core.runtime import Runtime
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from guahao.tenants.crypto import cipher
from guahao.tenants.service import configure_plugin, create_city

DOCTORS = 10
PERIODS = 5
CAPACITY = 10  # 10 doctors × 5 periods × 10 = 500 units


async def build_inventory(rt, city, tag: str) -> list[int]:
    """One session per doctor tomorrow morning; returns the period ids (500 units in all)."""
    with use_city(city):
        async with rt.db.transaction() as s:
            h = Hospital(code=f"H-{tag}", name=f"压测医院{tag}")
            s.add(h)
            await s.flush()
            campus, dept = Campus(hospital_id=h.id, name="本部"), Department(hospital_id=h.id, code="03", name="内科")
            rtype = RegistrationType(hospital_id=h.id, code="general", name="普通", fee_fen=500)
            s.add_all([campus, dept, rtype])
            await s.flush()
            day = utcnow().astimezone(city.tz).date() + timedelta(days=1)
            for i in range(DOCTORS):
                doc = Doctor(hospital_id=h.id, department_id=dept.id, name=f"医生{tag}{i}")
                s.add(doc)
                await s.flush()
                specs = [PeriodSpec(dtime(8, k * 10), dtime(8, k * 10 + 10), {"public": CAPACITY}) for k in range(PERIODS)]
                cs = await create_session(s, hospital=h, doctor=doc, campus_id=campus.id, registration_type=rtype,
                                          day=day, half_day="am", periods=specs)
                cs.release_at = utcnow() - timedelta(minutes=1)
            await s.flush()
            pids = (await s.scalars(
                select(Period.id).join(ClinicSession, ClinicSession.id == Period.session_id)
                .where(ClinicSession.hospital_id == h.id).order_by(Period.id)
            )).all()
    return list(pids)


def id_number(i: int) -> str:
    first17 = f"110101{1950 + i % 50:04d}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}"
    return first17 + check_digit(first17)


async def make_members(rt, city, n: int) -> list[int]:
    from argon2 import PasswordHasher

    pw_hash = PasswordHasher().hash("bench-password-1")
    c = cipher()
    with use_city(city):
        async with rt.db.transaction() as s:
            for i in range(n):
                num = id_number(i)
                s.add(
                    Member(
                        name=f"压测{i}",
                        id_number_encrypted=c.encrypt(num),
                        id_number_hash=c.lookup_hash(num),
                        id_number_masked=num[:4] + "*" * 10 + num[-4:],
                        birth_date=date(1950 + i % 50, 1 + i % 12, 1 + i % 28),
                        sex="M" if int(num[16]) % 2 else "F",
                        phone=f"139{i:08d}",
                        password_hash=pw_hash,
                    )
                )
            await s.flush()
            return list((await s.scalars(select(Member.id).order_by(Member.id))).all())


async def audit(rt, city, period_ids: list[int]) -> dict:
    """Confirmed, overbooked and duplicate counts, read straight from the tables."""
    with use_city(city):
        async with rt.db.transaction() as s:
            holding = ("pending_payment", "confirmed", "offered", "checked_in")
            confirmed = await s.scalar(select(func.count()).select_from(Booking)
                                       .where(Booking.period_id.in_(period_ids), Booking.status.in_(holding)))
            over = 0
            for pool in (await s.scalars(select(SlotPool).where(SlotPool.period_id.in_(period_ids)))).all():
                n = await s.scalar(select(func.count()).select_from(Booking)
                                   .where(Booking.pool_id == pool.id, Booking.status.in_(holding)))
                over += max(0, n - pool.capacity) + (1 if pool.booked != n else 0)
            dup = await s.scalar(text(
                "SELECT count(*) FROM (SELECT member_id, session_id FROM bookings WHERE period_id = ANY(:p) "
                "AND status IN ('pending_payment','confirmed','offered','checked_in') "
                "GROUP BY member_id, session_id HAVING count(*) > 1) d"), {"p": period_ids})
    return {"confirmed": confirmed, "overbooked": over, "duplicates": dup}


async def http_storm(base: str, city_slug: str, tokens: list[str], period_ids: list[int]):
    """Every member opens a connection first, then all send their booking at the same moment."""
    rng = random.Random(7)
    targets = [rng.choice(period_ids) for _ in tokens]
    conns = [await RawConnection(base).open() for _ in tokens]
    start = asyncio.Event()
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    path = f"/api/v1/{city_slug}/bookings"

    async def one(conn: RawConnection, token: str, period_id: int):
        body = json.dumps({"period_id": period_id, "channel": "web"}).encode()
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": secrets.token_hex(8)}
        await start.wait()
        t0 = time.perf_counter()
        status, payload = await conn.request("POST", path, body=body, headers=headers)
        latencies.append(time.perf_counter() - t0)
        key = str(status) if status < 300 else json.loads(payload).get("error", {}).get("code", str(status))
        statuses[key] = statuses.get(key, 0) + 1

    tasks = [asyncio.create_task(one(c, t, p)) for c, t, p in zip(conns, tokens, targets, strict=False)]
    await asyncio.sleep(0.2)
    t0 = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    for c in conns:
        await c.close()
    return elapsed, latencies, statuses


async def reference_storm(settings, city, member_ids: list[int], period_ids: list[int], pool_size: int):
    """The same conditional inventory update and booking insert, straight through asyncpg."""
    pool = await asyncpg.create_pool(pg_dsn(settings.app_url), min_size=pool_size, max_size=pool_size)
    async with pool.acquire() as conn:
        await conn.execute("SELECT 1")
        await conn.execute("SELECT set_config('app.city_id', $1, false)", str(city.id))  # this lookup only
        meta = {}
        for r in await conn.fetch(
            "SELECT sp.id pool_id, sp.period_id, p.session_id, p.starts_at, p.ends_at, cs.date, cs.hospital_id, "
            "cs.department_id, cs.doctor_id FROM slot_pools sp JOIN periods p ON p.id = sp.period_id "
            "JOIN clinic_sessions cs ON cs.id = p.session_id WHERE sp.period_id = ANY($1::int[])", period_ids):
            meta[r["period_id"]] = r
        await conn.execute("RESET app.city_id")
    rng = random.Random(7)
    targets = [rng.choice(period_ids) for _ in member_ids]
    latencies: list[float] = []
    ok = 0
    start = asyncio.Event()

    async def one(member_id: int, period_id: int):
        nonlocal ok
        m = meta[period_id]
        await start.wait()
        t0 = time.perf_counter()
        async with pool.acquire() as conn:
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.city_id', $1, true)", str(city.id))
                took = await conn.fetchval(
                    "UPDATE slot_pools SET booked = booked + 1 WHERE id = $1 AND booked < capacity RETURNING id",
                    m["pool_id"])
                if took is not None:
                    now = utcnow()
                    await conn.execute(
                        "INSERT INTO bookings (id, city_id, member_id, hospital_id, department_id, doctor_id, session_id,"
                        " period_id, pool_id, session_date, starts_at, ends_at, channel, status, fee_fen, payment_status,"
                        " payment_provider, payment_ref, late, cancel_reason, created_by, created_at, updated_at)"
                        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,'web','confirmed',500,'none','','',false,'',"
                        " 'member',$13,$13)",
                        "R" + secrets.token_hex(8), city.id, member_id, m["hospital_id"], m["department_id"],
                        m["doctor_id"], m["session_id"], period_id, m["pool_id"], m["date"], m["starts_at"],
                        m["ends_at"], now)
                    ok += 1
        latencies.append(time.perf_counter() - t0)

    tasks = [asyncio.create_task(one(mid, p)) for mid, p in zip(member_ids, targets, strict=False)]
    await asyncio.sleep(0.2)
    t0 = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    await pool.close()
    return elapsed, latencies, ok


async def main(members: int, workers: int) -> None:
    settings = bench_settings("guahao_bench_storm")
    await recreate_database(settings)
    await upgrade_async(settings)
    rt = Runtime(settings)
    city = await create_city(rt.db, slug="bench", name="压测市")
    for plugin in ("pay_at_hospital", "demo_his", "message_log"):
        await configure_plugin(rt.db, city, plugin)
    app_periods = await build_inventory(rt, city, "A")
    ref_periods = await build_inventory(rt, city, "B")
    member_ids = await make_members(rt, city, members)
    tokens = [issue(settings, member_id=m, city_id=city.id)[0] for m in member_ids]
    pool_size = settings.db_pool_size

    env = {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "GUAHAO_SECRET_KEY": settings.secret_key, "GUAHAO_DATA_KEY": settings.data_key}
    with server("guahao.core.app:create_app", env, workers=workers) as (base, pid):
        cpu0 = (time.process_time(), process_cpu_seconds(pid), postgres_cpu_seconds())
        elapsed, lat, statuses = await http_storm(base, city.slug, tokens, app_periods)
        cpu = (time.process_time() - cpu0[0], process_cpu_seconds(pid) - cpu0[1], postgres_cpu_seconds() - cpu0[2])
    result = await audit(rt, city, app_periods)

    ref_elapsed, ref_lat, ref_ok = await reference_storm(settings, city, member_ids, ref_periods, pool_size * 2)
    await rt.stop()

    app_rate, ref_rate = members / elapsed, members / ref_elapsed
    print(f"slot-release storm: {members} members, {len(app_periods)} periods, 500 units, "
          f"{members} client connections, {workers} server worker(s), redis={'yes' if settings.redis_url else 'no'}")
    print(f"  app (HTTP, uvicorn, PostgreSQL): {app_rate:8.0f} attempts/s in {elapsed:.2f} s; {summary(lat)}")
    print(f"    outcomes: {dict(sorted(statuses.items()))}")
    print(f"    confirmed {result['confirmed']}, overbooked {result['overbooked']}, duplicates {result['duplicates']}")
    print(f"    CPU seconds during the storm: server {cpu[1]:.2f}, PostgreSQL {cpu[2]:.2f}, load generator {cpu[0]:.2f}")
    print(f"  reference (asyncpg UPDATE+INSERT, no HTTP/ORM): {ref_rate:8.0f} attempts/s in {ref_elapsed:.2f} s; "
          f"{summary(ref_lat)}; confirmed {ref_ok}")
    print(f"  ratio app/reference: {app_rate / ref_rate:.2f} (target >= 0.30); "
          f"confirmed == 500: {result['confirmed'] == 500}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="uvicorn worker processes (default: one per core, as deployed)")
    a = ap.parse_args()
    asyncio.run(main(a.members, a.workers))
