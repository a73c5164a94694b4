"""A real ``guahao worker`` process is killed (SIGKILL) while it sends booking confirmations
through a slow SMS gateway; a second worker finishes the run and no confirmation is lost.

Delivery is at least once: a message the gateway accepted just before the kill, but which the
dead worker never recorded as sent, may arrive twice. Deselected without ``REDIS_URL``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update
from starlette.requests import Request
from starlette.responses import JSONResponse

from guahao.core.booking import service
from guahao.core.models import OutboxMessage
from guahao.core.runtime import Runtime
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from tests.core.plugins.probes import make_member, outbox_rows, set_aside_other_cities
from tests.factories import make_catalogue
from tests.fakes.aliyun_sms import FakeAliyunSms
from tests.fakes.live import LiveServer

from .sms_city import enable_aliyun, notes

REDIS_URL = os.environ.get("REDIS_URL", "")
ROOT = Path(__file__).resolve().parents[3]
BOOKINGS = 20
GATEWAY_DELAY = 0.3  # seconds per request; the gateway serves one request at a time
JOB_TIMEOUT = 8  # seconds (longer than BOOKINGS requests to the gateway take)
REQUEUE_AFTER = 9  # a killed run is handed over again this long after it started


class SlowGateway(FakeAliyunSms):
    """The strict Aliyun fake behind a slow, one-at-a-time front. A request whose client went
    away before it was served is dropped, as a real gateway never answers a closed socket."""

    def __init__(self, delay: float):
        super().__init__()
        self.delay = delay
        self._one: asyncio.Lock | None = None

    async def endpoint(self, request: Request) -> JSONResponse:
        await request.body()
        if self._one is None:
            self._one = asyncio.Lock()
        async with self._one:
            await asyncio.sleep(self.delay)
            if await request.is_disconnected():
                return JSONResponse({"Code": "ClientGone"}, 499)
            return await super().endpoint(request)


@pytest.fixture
async def redis_rt(settings):
    """A runtime on its own arq namespace (the workers below share it through the env)."""
    runtime = Runtime(
        dataclasses.replace(settings, redis_url=REDIS_URL, extra={"arq_namespace": f"kill-{uuid.uuid4().hex[:10]}"})
    )
    await runtime.start()
    yield runtime
    await runtime.stop()


@pytest.fixture
def slow_sms():
    fake = SlowGateway(GATEWAY_DELAY)
    with LiveServer(fake.app) as server:
        fake.url = server.url
        yield fake


def start_worker(settings) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "GUAHAO_"))}
    env.update(
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        GUAHAO_SECRET_KEY=settings.secret_key,
        GUAHAO_DATA_KEY=settings.data_key,
        GUAHAO_ARQ_NAMESPACE=settings.extra["arq_namespace"],
        GUAHAO_OUTBOX_JOB_TIMEOUT_SECONDS=str(JOB_TIMEOUT),
        GUAHAO_OUTBOX_REQUEUE_AFTER_SECONDS=str(REQUEUE_AFTER),
    )
    log = tempfile.TemporaryFile()  # a file, not a pipe: a full pipe would block the worker
    proc = subprocess.Popen([sys.executable, "-m", "guahao.core.cli", "worker"], cwd=ROOT, env=env, stdout=log, stderr=log)
    proc.log = log
    return proc


async def wait_for(check, *, timeout: float, what: str, procs=(), state=None):
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        for proc in procs:
            if proc.poll() is not None:
                raise AssertionError(f"worker exited ({proc.returncode}): {log_tail(proc)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}: {state or ''}")
        await asyncio.sleep(0.05)


def log_tail(proc: subprocess.Popen) -> str:
    proc.log.seek(0)
    return proc.log.read().decode(errors="replace")[-2000:]


def stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.kill()
    if proc is not None:
        proc.wait(timeout=10)
        proc.log.close()


async def test_killing_a_worker_mid_run_loses_no_confirmation(rt, redis_rt, city, slow_sms, pg_only):
    # A worker runs with Redis and a shared database: the production set-up, on PostgreSQL.
    # (Embedded mode — SQLite, no Redis — runs jobs inside the web process instead.)
    city, key_id = await enable_aliyun(rt, city, slow_sms)
    await set_aside_other_cities(rt, city)
    cat = await make_catalogue(rt, city, days_ahead=2, periods=1, capacity=BOOKINGS)
    period = cat.periods[cat.sessions[0].id][0]
    members = [await make_member(rt, city, name=f"病人{n}") for n in range(BOOKINGS)]
    with use_city(city):
        for m in members:
            await service.book(rt, member_id=m.id, period_id=period.id, channel="web")
    phones = {m.phone for m in members}
    now = utcnow()
    due = {r.id for r in await outbox_rows(rt, city) if r.due_at <= now}
    assert len([r for r in await outbox_rows(rt, city, topic="notify") if r.id in due]) == BOOKINGS
    # The shared test database holds every earlier test's undelivered rows; the relay hands
    # out the oldest first, so these go to the front of the queue instead of behind them.
    with use_city(city):
        async with rt.db.transaction() as s:
            await s.execute(update(OutboxMessage).where(OutboxMessage.id.in_(due))
                            .values(due_at=datetime(1990, 1, 1, tzinfo=UTC)))

    def confirmations() -> Counter:
        return Counter(p for m in slow_sms.messages(key_id) if m["template"] == "SMS_CONFIRM" for p in m["phones"])

    first = second = None
    try:
        first = start_worker(redis_rt.settings)

        async def some_arrived():
            return len(confirmations()) >= 3

        await wait_for(some_arrived, timeout=60, what="the first confirmations reach the gateway", procs=[first])
        first.kill()
        first.wait(timeout=10)
        await asyncio.sleep(GATEWAY_DELAY * 2)  # the request being served when the worker died ends
        before = confirmations()
        recorded = {n.recipient for n in await notes(rt, city, kind="booking_confirmed", status="sent")}
        assert 0 < len(before) < BOOKINGS, "the worker was killed mid-run"
        in_flight = set(before) - recorded  # accepted by the gateway, not recorded by the dead worker

        second = start_worker(redis_rt.settings)
        state: dict = {}

        async def all_done():
            rows = await outbox_rows(rt, city)
            wanted = [r for r in rows if r.id in due or r.topic == "notification.sent"]
            state.update(sent=len(confirmations()), rows=Counter((r.topic, r.status) for r in wanted if r.status != "done"))
            return len(confirmations()) == BOOKINGS and all(r.status == "done" for r in wanted)

        await wait_for(
            all_done, timeout=90, what="every confirmation is sent and every due row done", procs=[second], state=state
        )
    finally:
        stop(first)
        stop(second)

    got = confirmations()
    assert set(got) == phones  # none missing
    duplicates = {p: n - 1 for p, n in got.items() if n > 1}
    assert set(duplicates) <= in_flight and all(n == 1 for n in duplicates.values()), (duplicates, in_flight)
    sent = await notes(rt, city, kind="booking_confirmed")
    assert len(sent) == BOOKINGS and {n.status for n in sent} == {"sent"}
    assert len(set(got) - set(before)) > 0  # the second worker delivered what the first did not
