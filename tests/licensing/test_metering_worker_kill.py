"""A real ``guahao worker`` (arq, PostgreSQL, Redis) is killed with SIGKILL while it meters a burst
of events; the outbox hands the unfinished messages over again, a second worker finishes, and
every fact is in the ledger exactly once, with an intact chain.

The kill comes right after the first ledger rows appear: the first worker has then counted
events whose messages it has not marked done, so the second worker runs them again (and the
dead worker's batch still open at that moment, if any, was rolled back by PostgreSQL).
Deselected without ``REDIS_URL``.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import func, select, update

from guahao.core.booking import service
from guahao.core.models import OutboxMessage
from guahao.core.usage import report_usage
from guahao.licensing.ledger.models import UsageEvent
from guahao.licensing.ledger.verify import verify
from guahao.plugin_api import city_session
from guahao.tenants.context import platform_scope, use_city
from tests.core.jobs.test_worker_kill import log_tail, start_worker, stop, wait_for
from tests.core.plugins.probes import make_member
from tests.factories import make_catalogue

REPORTED = 120
BOOKINGS = 10
METERED = ("booking.event", "notification.sent", "usage.reported")


async def ledger_count(rt, city) -> int:
    async with city_session(rt, city) as s:
        return int(await s.scalar(select(func.count()).select_from(UsageEvent)) or 0)


async def metered(rt, city) -> list[OutboxMessage]:
    with use_city(city):
        async with rt.db.transaction() as s:
            q = select(OutboxMessage).where(OutboxMessage.topic.in_(METERED)).order_by(OutboxMessage.id)
            return list((await s.scalars(q)).all())


async def due(rt, city) -> list[OutboxMessage]:
    """The city's outbox rows due by now (the reminders planned for later are not)."""
    with use_city(city):
        async with rt.db.transaction() as s:
            return list((await s.scalars(select(OutboxMessage).where(OutboxMessage.due_at <= func.now()))).all())


@contextlib.asynccontextmanager
async def queue_to_itself(rt, city):
    """Earlier tests leave due rows of their cities in the shared database, which a worker would
    run too (and run first when they are older): they wait until the test is over."""
    parked = datetime(2100, 1, 1, tzinfo=UTC)
    with platform_scope("test: other cities' outbox rows wait while a worker runs this one's"):
        async with rt.db.transaction() as s:
            rows = (await s.execute(
                select(OutboxMessage.id, OutboxMessage.due_at)
                .where(OutboxMessage.city_id != city.id, OutboxMessage.status.in_(("pending", "queued")))
            )).all()
            if rows:
                await s.execute(update(OutboxMessage).where(OutboxMessage.id.in_([r.id for r in rows])).values(due_at=parked))
    try:
        yield
    finally:
        with platform_scope("test: other cities' outbox rows are due again"):
            async with rt.db.transaction() as s:
                for start in range(0, len(rows), 1000):
                    await s.execute(update(OutboxMessage), [{"id": r.id, "due_at": r.due_at} for r in rows[start:start + 1000]])


async def test_a_worker_killed_while_metering_leaves_every_fact_counted_once(rt, redis_rt, city, pg_only):
    cat = await make_catalogue(rt, city, days_ahead=2, periods=1, capacity=BOOKINGS)
    period = cat.periods[cat.sessions[0].id][0]
    with use_city(city):
        for n in range(BOOKINGS):
            member = await make_member(rt, city, name=f"病人{n}")
            await service.book(rt, member_id=member.id, period_id=period.id, channel="web")
        async with rt.db.transaction() as s:
            for i in range(REPORTED):
                report_usage(s, meter="phone.minutes", quantity=1 + i % 5, source_id=f"call:{i}",
                             occurred_at=datetime(2026, 11, 3, 2, 0, tzinfo=UTC), dimensions={"channel": "ivr"})

    first = second = None
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(queue_to_itself(rt, city))
        stack.callback(lambda: (stop(first), stop(second)))
        first = start_worker(redis_rt.settings)

        async def counting_began():
            return await ledger_count(rt, city) > 0

        await wait_for(counting_began, timeout=60, what="the first worker appends to the ledger", procs=[first])
        first.kill()
        first.wait(timeout=10)
        messages = await metered(rt, city)
        statuses = Counter(m.status for m in messages)
        async with city_session(rt, city) as s:
            counted = set((await s.scalars(select(UsageEvent.source_id))).all())
        unfinished = {m.payload["source_id"] for m in messages if m.topic == "usage.reported" and m.status != "done"}
        assert statuses["done"] < len(messages), f"the worker was killed mid-way: {statuses}"
        assert counted & unfinished, "some facts were counted by the dead worker before their messages were done"

        second = start_worker(redis_rt.settings)
        state: dict = {}

        async def all_done():
            rows = await due(rt, city)
            state.update(statuses=Counter((m.topic, m.status) for m in rows if m.status != "done"),
                         ledger=await ledger_count(rt, city), log=log_tail(second)[-600:])
            return all(m.status == "done" for m in rows)

        await wait_for(all_done, timeout=90, what="every due message of the city is done", procs=[second], state=state)

    messages = await metered(rt, city)
    async with city_session(rt, city) as s:
        rows = list((await s.scalars(select(UsageEvent).order_by(UsageEvent.seq))).all())
        verdict = await verify(s)
    assert verdict.ok and verdict.rows == len(rows)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    by_meter = Counter(r.meter for r in rows)
    calls = [r for r in rows if r.meter == "phone.minutes"]
    assert sorted(int(r.source_id.split(":")[1]) for r in calls) == list(range(REPORTED))
    assert sum(r.quantity for r in calls) == sum(1 + i % 5 for i in range(REPORTED))
    sent = [m for m in messages if m.topic == "notification.sent"]
    assert len(sent) >= BOOKINGS  # each booking's confirmation was delivered and metered
    assert by_meter == {"phone.minutes": REPORTED, "booking.confirmed": BOOKINGS, "hospital.active": 1,
                        "notification.sent": len({m.payload["notification_id"] for m in sent})}
