"""Reading the HIS's tables by row version: every change once, none missed — also when a change
commits after a later one was read, when other hospitals share the database, and when the
database fails half-way."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import aiomysql
import pytest
from sqlalchemy import select

from guahao.plugins.his.midtable import reader
from guahao.plugins.his.midtable.adapter import keep_schedule
from guahao.plugins.his.midtable.database import HisUnavailable
from guahao.plugins.his.midtable.models import MidtableMark
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city

from .conftest import settings_for

DAY = date(2030, 5, 6)


async def read(his, sim, code: str = "H1", **settings) -> reader.ReadResult:
    return await reader.follow(his.rt, his.city, hospital_code=code, table="schedule", his_table="mt_schedule",
                               settings=settings_for(sim, **settings), secrets={}, keep=keep_schedule)


async def kept(his, code: str = "H1") -> dict[str, int]:
    rows = await reader.kept_rows(his.rt, his.city, code, "schedule")
    return {f"{r.data['session_no']}/{r.data['period_no']}": r.data["pools"]["public"] for r in rows}


async def publish(sim, session_no: str, capacity: int = 5, code: str = "H1") -> None:
    await sim.publish(code, session_no, doctor_code="D1", day=DAY, half_day="am",
                      periods=[("08:00", "09:00", capacity)])


async def test_each_change_is_read_once(his, sim):
    await publish(sim, "S1")
    await publish(sim, "S2")
    first = await read(his, sim)
    assert (first.rows, first.gaps) == (2, 0)
    assert (await read(his, sim)).rows == 0  # nothing new: nothing read
    await sim.set_capacity("H1", "S1", 1, 8)
    await sim.set_capacity("H1", "S1", 1, 9)  # the version of 8 is replaced before it is read
    again = await read(his, sim)
    assert again.rows == 1 and again.mark == first.mark + 2
    assert again.gaps == 0  # the sequence shows it committed and replaced: not waited for
    assert await kept(his) == {"S1/1": 9, "S2/1": 5}


async def test_a_change_committed_after_a_later_one_is_read_once(his, sim):
    await publish(sim, "S0")
    await read(his, sim)
    # The HIS's first transaction takes its version, then a second one commits before it does.
    slow = await aiomysql.connect(host=sim.host, port=sim.port, user=sim.user, password=sim.password, db=sim.database,
                                  autocommit=False)
    try:
        async with slow.cursor() as cur:
            await cur.execute("INSERT INTO mt_schedule (hospital_code, session_no, doctor_code, clinic_date, half_day, "
                              "start_time, end_time, capacity) VALUES ('H1', 'SLOW', 'D1', %s, 'pm', '13:00', '14:00', 3)",
                              (DAY,))
            await cur.execute("SELECT row_version FROM mt_schedule WHERE session_no = 'SLOW'")
            (slow_version,) = await cur.fetchone()
        await publish(sim, "FAST")
        seen = await read(his, sim)
        assert seen.rows == 1 and seen.mark > slow_version and seen.gaps == 1
        assert set(await kept(his)) == {"S0/1", "FAST/1"}
        assert (await read(his, sim)).rows == 0  # still uncommitted: still a gap, nothing read
        await slow.commit()
    finally:
        slow.close()
    late = await read(his, sim)
    assert (late.rows, late.gaps) == (1, 0)
    assert set(await kept(his)) == {"S0/1", "FAST/1", "SLOW/1"}
    assert (await read(his, sim)).rows == 0  # and never again


async def test_a_rolled_back_change_is_looked_for_until_gap_hours_pass(his, sim):
    async with sim.connection() as conn, conn.cursor() as cur:
        await cur.execute("INSERT INTO mt_schedule (hospital_code, session_no, doctor_code, clinic_date, half_day, "
                          "start_time, end_time) VALUES ('H1', 'GONE', 'D1', %s, 'am', '08:00', '09:00')", (DAY,))
        await conn.rollback()
    await publish(sim, "S1")
    assert (await read(his, sim)).gaps == 1
    assert (await read(his, sim, gap_hours=1)).gaps == 1
    later = await reader.follow(his.rt, his.city, hospital_code="H1", table="schedule", his_table="mt_schedule",
                                settings=settings_for(sim, gap_hours=1), secrets={}, keep=keep_schedule,
                                now=utcnow() + timedelta(hours=2))
    assert later.gaps == 0 and later.rows == 0


async def test_other_hospitals_rows_are_passed_over_not_taken_for_gaps(his, sim):
    await publish(sim, "A1", code="H1")
    await publish(sim, "B1", code="H2")
    await publish(sim, "A2", code="H1")
    got = await read(his, sim)
    assert (got.rows, got.others, got.gaps) == (2, 1, 0)
    assert set(await kept(his)) == {"A1/1", "A2/1"} and set(await kept(his, "H2")) == set()


async def test_a_database_that_fails_moves_no_mark(his, sim):
    await publish(sim, "S1")
    await read(his, sim)
    await publish(sim, "S2")
    with use_city(his.city):
        async with his.rt.db.transaction() as s:
            before = (await s.scalar(select(MidtableMark).where(MidtableMark.hospital_code == "H1"))).mark
    with pytest.raises(HisUnavailable, match="mt_nothing|doesn't exist"):
        await reader.follow(his.rt, his.city, hospital_code="H1", table="schedule", his_table="mt_nothing",
                            settings=settings_for(sim), secrets={}, keep=keep_schedule)
    with use_city(his.city):
        async with his.rt.db.transaction() as s:
            assert (await s.scalar(select(MidtableMark).where(MidtableMark.hospital_code == "H1"))).mark == before
    assert (await read(his, sim)).rows == 1


async def test_two_reads_at_once_keep_each_change_once(his, sim):
    for n in range(6):
        await publish(sim, f"S{n}")
    one, two = await asyncio.gather(read(his, sim), read(his, sim))
    assert one.rows + two.rows == 6 and {one.mark, two.mark} == {one.mark}
    assert len(await kept(his)) == 6 and (await read(his, sim)).rows == 0


async def test_writers_committing_in_any_order_while_the_platform_reads(his, sim):
    """Five HIS sessions insert and update rows at once, each transaction held open a random
    moment (so versions commit out of order, some roll back), while the platform keeps reading:
    every version is processed at most once and, at the end, what the platform kept is exactly
    the HIS's table."""
    import random

    rng = random.Random(12)
    processed: list[int] = []

    def counting(row):
        processed.append(int(row["row_version"]))
        return keep_schedule(row)

    async def writer(n: int) -> None:
        async with sim.connection() as conn, conn.cursor() as cur:
            for i in range(12):
                session = f"W{n}-{i % 8}"  # some rows changed twice, some once
                await cur.execute(
                    "INSERT INTO mt_schedule (hospital_code, session_no, doctor_code, clinic_date, half_day, start_time, "
                    "end_time, capacity) VALUES ('H1', %s, 'D1', %s, 'am', '08:00', '09:00', %s) "
                    "ON DUPLICATE KEY UPDATE capacity = VALUES(capacity)", (session, DAY, i))
                await asyncio.sleep(rng.random() / 20)
                if rng.random() < 0.15:
                    await conn.rollback()
                else:
                    await conn.commit()

    async def reading(done: asyncio.Event) -> None:
        while not done.is_set():
            await reader.follow(his.rt, his.city, hospital_code="H1", table="schedule", his_table="mt_schedule",
                                settings=settings_for(sim), secrets={}, keep=counting)
            await asyncio.sleep(0.01)

    done = asyncio.Event()
    task = asyncio.create_task(reading(done))
    await asyncio.gather(*(writer(n) for n in range(5)))
    done.set()
    await task
    await reader.follow(his.rt, his.city, hospital_code="H1", table="schedule", his_table="mt_schedule",
                        settings=settings_for(sim), secrets={}, keep=counting)

    assert len(processed) == len(set(processed))  # no version twice
    final = {r["session_no"]: (r["capacity"], r["row_version"]) for r in await sim.rows("SELECT * FROM mt_schedule")}
    rows = await reader.kept_rows(his.rt, his.city, "H1", "schedule")
    assert {r.data["session_no"]: (r.data["pools"]["public"], r.version) for r in rows} == final
