"""The relay to arq: due rows become jobs named after their row; a replay changes nothing."""

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from arq.worker import create_worker

from guahao.core.jobs import outbox_job_id, queue_name, relay_once, worker_settings
from tests.core.plugins.probes import Probe, emit_row, enable, outbox_rows, set_aside_other_cities

_earlier = itertools.count(1)


def long_ago() -> datetime:
    """Each call earlier than the last: a test's rows are due before anything left behind by
    earlier tests, so a relay pass limited to their number picks exactly them."""
    return datetime(2000, 1, 1, tzinfo=UTC) - timedelta(days=next(_earlier))


class FakeRedis:
    def __init__(self, fail: bool = False):
        self.fail = fail
        self.jobs: list[tuple[str, tuple, str]] = []
        self.deleted: list[str] = []

    async def delete(self, *keys):
        self.deleted.extend(keys)

    async def enqueue_job(self, function, *args, _job_id=None, _queue_name=None):
        if self.fail:
            raise ConnectionError("redis is down")
        self.jobs.append((function, args, _job_id))
        return object()


class RelayRuntime:
    """The test runtime with a different Redis (the relay reads only these attributes)."""

    def __init__(self, rt, redis, **settings):
        self.db = rt.db
        self.plugins = rt.plugins
        self.redis = redis
        self.settings = dataclasses.replace(rt.settings, **settings)


async def test_due_rows_are_enqueued_under_their_outbox_id_and_marked_queued(rt, city):
    at = long_ago()
    first = await emit_row(rt, city, "probe.work", {}, due_at=at)
    second = await emit_row(rt, city, "probe.work", {}, due_at=at + timedelta(seconds=1))
    redis = FakeRedis()
    relay = RelayRuntime(rt, redis)

    assert await relay_once(relay, limit=2) == 2
    assert redis.jobs == [("run_outbox", (first,), f"outbox:{first}"), ("run_outbox", (second,), f"outbox:{second}")]
    assert {r.status for r in await outbox_rows(rt, city)} == {"queued"}


async def test_a_redis_outage_leaves_rows_pending(rt, city):
    outbox_id = await emit_row(rt, city, "probe.work", {}, due_at=long_ago())
    with pytest.raises(ConnectionError):
        await relay_once(RelayRuntime(rt, FakeRedis(fail=True)), limit=1)
    [row] = await outbox_rows(rt, city, id=outbox_id)
    assert row.status == "pending"


async def test_rows_stuck_in_queued_are_handed_over_again(rt, city):
    stuck = await emit_row(rt, city, "probe.work", {}, due_at=long_ago(), status="queued")
    redis = FakeRedis()
    assert await relay_once(RelayRuntime(rt, redis), limit=1) == 1
    assert redis.jobs == [("run_outbox", (stuck,), f"outbox:{stuck}")]
    assert redis.deleted == [f"arq:in-progress:outbox:{stuck}"]  # a dead run's lease is dropped


async def test_namespaced_settings_keep_test_runs_apart(settings):
    ns = dataclasses.replace(settings, extra={"arq_namespace": "run7"})
    assert (queue_name(settings), outbox_job_id(settings, 5)) == ("guahao:queue", "outbox:5")
    assert (queue_name(ns), outbox_job_id(ns, 5)) == ("guahao:run7:queue", "run7:outbox:5")


async def test_the_worker_settings_describe_the_jobs(settings):
    ws = worker_settings(dataclasses.replace(settings, redis_url="redis://127.0.0.1:6379/0"))
    assert [f.name for f in ws.functions] == ["run_outbox"]
    assert ws.functions[0].keep_result_s == 0
    crons = {c.name: c for c in ws.cron_jobs}
    assert set(crons) == {"cron:relay", "cron:no_show_sweep", "cron:pool_release", "cron:report_rollups", "cron:api_calls"}
    assert all(c.unique for c in crons.values())
    assert crons["cron:no_show_sweep"].minute == set(range(0, 60, 5))
    with pytest.raises(RuntimeError):
        worker_settings(settings.__class__(redis_url=""))


async def _burst(redis_rt) -> int:
    worker = create_worker(
        worker_settings(redis_rt.settings, runtime=redis_rt),
        burst=True,
        handle_signals=False,
        poll_delay=0.05,
        cron_jobs=[],  # the relay and sweeps are driven by the test here
    )
    try:
        await worker.async_run()
        return worker.jobs_complete
    finally:
        await worker.close()


async def test_relay_and_arq_worker_run_the_rows_and_a_replay_is_a_no_op(rt, redis_rt, city, register_plugin):
    probe = register_plugin(Probe(topic="probe.work"), "arq_probe")
    city = await enable(rt, city, "arq_probe")
    await set_aside_other_cities(rt, city)
    at = long_ago()
    ids = [await emit_row(rt, city, "probe.work", {"n": n}, due_at=at + timedelta(seconds=n)) for n in range(3)]

    assert await relay_once(redis_rt, limit=3) == 3
    assert {r.status for r in await outbox_rows(rt, city)} == {"queued"}
    # Enqueueing a job that arq still holds is refused (arq dedupes by job id).
    job_id = outbox_job_id(redis_rt.settings, ids[0])
    assert (
        await redis_rt.redis.enqueue_job(
            "run_outbox", ids[0], _job_id=job_id, _queue_name=queue_name(redis_rt.settings)
        )
        is None
    )

    assert await _burst(redis_rt) == 3
    assert sorted(p["n"] for _, p in probe.jobs) == [0, 1, 2]
    assert {r.status for r in await outbox_rows(rt, city)} == {"done"}

    # The job keeps no result, so the same id can be enqueued again; the run does nothing.
    replay = await redis_rt.redis.enqueue_job("run_outbox", ids[0], _job_id=job_id, _queue_name=queue_name(redis_rt.settings))
    assert replay is not None
    assert await _burst(redis_rt) == 1
    assert len(probe.jobs) == 3
