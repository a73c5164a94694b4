"""Running outbox messages: handlers per topic, retries with back-off, final failure, replays."""

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from guahao.core.jobs import MAX_ATTEMPTS, backoff_seconds, drain_in_process, in_process_runner, process_outbox_message
from guahao.core.models import OutboxMessage
from guahao.tenants.clock import frozen, utcnow
from guahao.tenants.context import use_city
from tests.core.plugins.probes import Probe, emit_row, enable, outbox_rows
from tests.factories import make_city


async def test_a_plugin_handler_runs_in_the_messages_city(rt, city, register_plugin):
    probe = register_plugin(Probe(topic="probe.work"), "worker_probe")
    city = await enable(rt, city, "worker_probe")
    outbox_id = await emit_row(rt, city, "probe.work", {"n": 1})

    assert await process_outbox_message(rt, outbox_id) == "done"
    [(ctx, payload)] = probe.jobs
    assert payload == {"n": 1}
    assert (ctx.city.id, ctx.message_id, ctx.attempt) == (city.id, outbox_id, 1)
    [row] = await outbox_rows(rt, city, id=outbox_id)
    assert row.status == "done" and row.done_at is not None and row.attempts == 0


async def test_a_replayed_message_is_a_no_op(rt, city, register_plugin):
    probe = register_plugin(Probe(topic="probe.work"), "replay_probe")
    city = await enable(rt, city, "replay_probe")
    outbox_id = await emit_row(rt, city, "probe.work", {})
    await process_outbox_message(rt, outbox_id)
    assert await process_outbox_message(rt, outbox_id) == "done"
    assert len(probe.jobs) == 1
    assert await process_outbox_message(rt, 10**9) is None  # a job whose row is gone


async def test_failures_back_off_exponentially_and_never_give_up(rt, city, register_plugin):
    probe = register_plugin(Probe(topic="probe.work"), "failing_probe")
    city = await enable(rt, city, "failing_probe")
    outbox_id = await emit_row(rt, city, "probe.work", {"fail": "HIS down"})

    start = utcnow()
    for attempt in range(1, MAX_ATTEMPTS + 4):
        at = start + timedelta(hours=attempt)
        with frozen(at):
            status = await process_outbox_message(rt, outbox_id)
        [row] = await outbox_rows(rt, city, id=outbox_id)
        assert row.attempts == attempt
        assert "HIS down" in row.last_error
        # Past MAX_ATTEMPTS it is failing (shown to staff) and still retried, every 15 minutes at most.
        assert status == row.status == "pending"
        assert row.due_at == at + timedelta(seconds=backoff_seconds(attempt))
    assert [backoff_seconds(n) for n in (1, 2, 3)] == [10, 20, 40]
    assert backoff_seconds(MAX_ATTEMPTS + 3) == backoff_seconds(20) == 900
    assert [ctx.attempt for ctx, _ in probe.jobs] == list(range(1, MAX_ATTEMPTS + 4))

    # The far end is back: the next try succeeds (a notification would have stopped at MAX_ATTEMPTS).
    with use_city(city):
        async with rt.db.transaction() as s:
            (await s.get(OutboxMessage, outbox_id)).payload = {}
    with frozen(start + timedelta(hours=MAX_ATTEMPTS + 4)):
        assert await process_outbox_message(rt, outbox_id) == "done"


async def test_a_topic_nobody_handles_is_retried_not_lost(rt, city):
    outbox_id = await emit_row(rt, city, "nobody.handles", {})
    assert await process_outbox_message(rt, outbox_id) == "pending"
    [row] = await outbox_rows(rt, city, id=outbox_id)
    assert row.attempts == 1 and "UnknownTopic" in row.last_error


async def test_a_plugin_handler_is_not_run_for_a_city_without_the_plugin(rt, city, register_plugin):
    probe = register_plugin(Probe(topic="probe.work"), "elsewhere_probe")
    await enable(rt, city, "elsewhere_probe")
    other = await make_city(rt, city.slug + "-x")
    outbox_id = await emit_row(rt, other, "probe.work", {})
    assert await process_outbox_message(rt, outbox_id) == "pending"
    assert probe.jobs == []


async def test_drain_runs_due_rows_and_leaves_future_ones(rt, city, register_plugin):
    probe = register_plugin(Probe(topic="probe.work"), "drain_probe")
    city = await enable(rt, city, "drain_probe")
    now = utcnow()
    due = await emit_row(rt, city, "probe.work", {"n": "due"})
    later = await emit_row(rt, city, "probe.work", {"n": "later"}, due_at=now + timedelta(hours=1))

    assert await drain_in_process(rt, city_id=city.id) == 1
    assert [p["n"] for _, p in probe.jobs] == ["due"]
    assert {r.id: r.status for r in await outbox_rows(rt, city)} == {due: "done", later: "pending"}

    assert await drain_in_process(rt, city_id=city.id, now=now + timedelta(hours=2)) == 1
    assert [p["n"] for _, p in probe.jobs] == ["due", "later"]


async def test_the_in_process_runner_drains_in_the_background(rt, city, register_plugin):
    probe = register_plugin(Probe(topic="probe.work"), "runner_probe")
    city = await enable(rt, city, "runner_probe")
    assert rt.settings.outbox_in_process
    # Due before anything earlier tests left behind, so the runner's first pass starts with it.
    await emit_row(rt, city, "probe.work", {"n": 1}, due_at=datetime(1999, 1, 1, tzinfo=UTC))
    async with in_process_runner(rt, poll_seconds=0.05) as task:
        assert task is not None
        for _ in range(200):
            if probe.jobs:
                break
            await asyncio.sleep(0.05)
    assert task.done() and not task.cancelled()  # stopped between messages, not killed
    assert [p for _, p in probe.jobs] == [{"n": 1}]


async def test_the_in_process_runner_stays_idle_when_redis_runs_the_jobs(settings):
    rt = SimpleNamespace(settings=dataclasses.replace(settings, redis_url="redis://127.0.0.1:6379/0"))
    async with in_process_runner(rt) as task:
        assert task is None


async def test_a_far_ends_retry_after_hint_lengthens_the_wait(rt, city, register_plugin):
    from guahao.core.plugins.http import TransportError
    from guahao.plugin_api import hookimpl

    class Throttled:
        @hookimpl
        def guahao_outbox_handlers(self):
            async def handle(ctx, payload):
                raise TransportError("HTTP 429", retry_after=payload["wait"])

            return {"throttled.work": handle}

    register_plugin(Throttled(), "throttled_probe")
    city = await enable(rt, city, "throttled_probe")
    short = await emit_row(rt, city, "throttled.work", {"wait": 1})
    long = await emit_row(rt, city, "throttled.work", {"wait": 900})
    at = utcnow()
    with frozen(at):
        for outbox_id in (short, long):
            assert await process_outbox_message(rt, outbox_id) == "pending"
    [first] = await outbox_rows(rt, city, id=short)
    [second] = await outbox_rows(rt, city, id=long)
    assert (first.due_at - at).total_seconds() == backoff_seconds(1)  # a short hint keeps the back-off
    assert (second.due_at - at).total_seconds() == 900


async def test_a_delivery_the_far_end_refuses_for_good_stops_at_once_and_can_be_retried(rt, city, register_plugin):
    from guahao.core.audit import Actor
    from guahao.core.backoffice import deliveries
    from guahao.plugin_api import HisRejected, hookimpl

    class Refusing:
        @hookimpl
        def guahao_outbox_handlers(self):
            async def handle(ctx, payload):
                if payload.get("refuse"):
                    raise HisRejected("AR: 患者不存在 / unknown patient")

            return {"refusing.work": handle}

    register_plugin(Refusing(), "refusing_probe")
    city = await enable(rt, city, "refusing_probe")
    outbox_id = await emit_row(rt, city, "refusing.work", {"refuse": True})
    assert await process_outbox_message(rt, outbox_id) == "failed"  # not retried: the HIS said no for good
    [row] = await outbox_rows(rt, city, id=outbox_id)
    assert row.attempts == 1 and "患者不存在" in row.last_error
    assert await process_outbox_message(rt, outbox_id) == "failed"  # a late job for it runs nothing
    assert (await outbox_rows(rt, city, id=outbox_id))[0].attempts == 1

    # A person fixes the cause and retries it from the deliveries page: it runs again.
    with use_city(city):
        async with rt.db.transaction() as s:
            (await s.get(OutboxMessage, outbox_id)).payload = {}
            await deliveries.retry(s, Actor(kind="staff", id=1, name="admin"), outbox_id)
    assert await process_outbox_message(rt, outbox_id) == "done"


async def test_a_his_adapter_moves_by_cancelling_then_booking_unless_it_knows_better():
    from guahao.plugin_api import HisAck, HisAdapter

    class Minimal(HisAdapter):
        name = "minimal"

        def __init__(self):
            self.calls = []

        async def push_booking(self, city, booking, settings, secrets):
            self.calls.append(("book", booking["id"]))
            return HisAck(reference="H-" + booking["id"])

        async def push_cancellation(self, city, booking, settings, secrets):
            self.calls.append(("cancel", booking["id"]))
            return HisAck()

    adapter = Minimal()
    ack = await adapter.push_move(None, {"id": "new"}, {"id": "old"}, {}, {})
    assert adapter.calls == [("cancel", "old"), ("book", "new")] and ack.reference == "H-new"
    assert adapter.supports("book") and not adapter.supports("schedules") and not adapter.supports("fees")
    assert (await adapter.push_payment(None, {"id": "new"}, {"kind": "fees"}, {}, {})).message == "not supported"
    assert (await adapter.health(None, {}, {})).ok
