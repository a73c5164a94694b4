"""Moving due outbox rows to their runner: arq (production) or this process (embedded mode).

The relay reads across cities by design (``platform_scope``). A row handed to arq becomes
``queued`` with job id ``outbox:<id>``: while arq holds the job, enqueueing it again is a
no-op, and the job itself re-checks the row, so a replay never runs a side effect twice.
Run jobs keep no result (``keep_result=0``), so a message rescheduled after a failure can be
enqueued again under the same id. ``due_at`` of a queued row records when it was handed over;
the worker sets it again when a run starts. A row still ``queued`` long after that (Redis lost
it, or its worker died mid-run) is handed over again (``settings.outbox_requeue_after_seconds``,
never shorter than a run may last): arq's lease on the dead run is dropped, so the job runs
again now rather than when that lease ends.

With database cells (``tenants.cells``) each cell keeps its own outbox: the relay visits every
cell this process knows, and a job names its cell beside the row id (job id
``outbox:<cell>:<id>``; the platform database's rows keep ``outbox:<id>``).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from arq.constants import in_progress_key_prefix
from sqlalchemy import and_, or_, select, update

from guahao.core.models import OutboxMessage
from guahao.tenants.clock import utcnow
from guahao.tenants.context import platform_scope, use_cell
from guahao.tenants.settings import Settings

from .runner import process_outbox_message

RUN_OUTBOX = "run_outbox"


def namespace(settings: Settings) -> str:
    """Separates deployments (or test runs) sharing one Redis; empty in a normal deployment."""
    return str(settings.extra.get("arq_namespace", "") or "")


def queue_name(settings: Settings) -> str:
    ns = namespace(settings)
    return f"guahao:{ns}:queue" if ns else "guahao:queue"


def outbox_job_id(settings: Settings, outbox_id: int, cell: str = "") -> str:
    ns = namespace(settings)
    name = f"outbox:{cell}:{outbox_id}" if cell else f"outbox:{outbox_id}"
    return f"{ns}:{name}" if ns else name


def stuck_after(settings: Settings) -> timedelta:
    """How long a ``queued`` row waits before it is handed over again: by then no run of it
    can still be going (arq cancels a run at ``outbox_job_timeout_seconds``)."""
    return timedelta(seconds=max(settings.outbox_requeue_after_seconds, settings.outbox_job_timeout_seconds + 5))


def _due(settings: Settings, now: datetime):
    return or_(
        and_(OutboxMessage.status == "pending", OutboxMessage.due_at <= now),
        and_(OutboxMessage.status == "queued", OutboxMessage.due_at <= now - stuck_after(settings)),
    )


async def relay_once(rt, *, limit: int = 500) -> int:
    """Hand up to ``limit`` due rows of every city (of each cell) to arq; returns how many.

    Rows are marked ``queued`` in the transaction that read them, after their jobs are in
    Redis: if Redis is down nothing is marked and the rows wait for the next pass.
    """
    if rt.redis is None:
        raise RuntimeError("the outbox relay needs Redis (settings.redis_url)")
    total = 0
    for cell in rt.db.cell_names:
        total += await _relay_cell(rt, cell, limit)
    return total


async def _relay_cell(rt, cell: str, limit: int) -> int:
    now = utcnow()
    with platform_scope("outbox relay: due side effects of every city"), use_cell(cell):
        async with rt.db.transaction() as s:
            q = select(OutboxMessage.id, OutboxMessage.status).where(_due(rt.settings, now))
            q = q.order_by(OutboxMessage.due_at, OutboxMessage.id).limit(limit)
            if rt.db.dialect == "postgresql":
                q = q.with_for_update(skip_locked=True)
            rows = (await s.execute(q)).all()
            ids = [outbox_id for outbox_id, _ in rows]
            for outbox_id, status in rows:
                job_id = outbox_job_id(rt.settings, outbox_id, cell)
                if status == "queued":
                    await rt.redis.delete(in_progress_key_prefix + job_id)
                args = (outbox_id, cell) if cell else (outbox_id,)
                await rt.redis.enqueue_job(RUN_OUTBOX, *args, _job_id=job_id, _queue_name=queue_name(rt.settings))
            if ids:
                await s.execute(
                    update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(status="queued", due_at=now)
                )
    return len(ids)


async def mark_started(rt, outbox_id: int, cell: str = "") -> None:
    """A run of a queued row (of ``cell``) starts now: the relay counts its stuck time from here."""
    await rt.db.ensure_cell(cell)
    with platform_scope("outbox: a run starts (the row's city is not known yet)"), use_cell(cell):
        async with rt.db.transaction() as s:
            await s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == outbox_id, OutboxMessage.status == "queued")
                .values(due_at=utcnow())
            )


async def due_message_ids(
    rt, *, now: datetime | None = None, limit: int = 500, city_id: int | None = None, cell: str = ""
) -> list[int]:
    """Ids of rows of ``cell`` (default: the platform database) due at ``now`` (default: the
    current time), oldest first; every city's unless ``city_id`` names one."""
    at = now or utcnow()
    with platform_scope("outbox: due side effects of every city"), use_cell(cell):
        async with rt.db.transaction() as s:
            q = select(OutboxMessage.id).where(_due(rt.settings, at))
            if city_id is not None:
                q = q.where(OutboxMessage.city_id == city_id)
            q = q.order_by(OutboxMessage.due_at, OutboxMessage.id).limit(limit)
            return list((await s.scalars(q)).all())


async def drain_in_process(
    rt,
    *,
    now: datetime | None = None,
    limit: int = 500,
    rounds: int = 20,
    city_id: int | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Run due rows here and now (embedded mode, tests); returns how many runs were made.

    Messages that become due while draining (e.g. an event emitted by a handler) are picked up
    in the next round; ``rounds`` bounds the passes. ``now`` only selects rows; handlers use
    the clock (``tenants.clock``). ``city_id`` limits the drain to one city (CLI, tests);
    ``stop``, once set, ends the drain before the next message (a prompt shutdown).
    """
    total = 0
    for _ in range(rounds):
        ran = 0
        for cell in rt.db.cell_names:
            for outbox_id in await due_message_ids(rt, now=now, limit=limit, city_id=city_id, cell=cell):
                if stop is not None and stop.is_set():
                    return total
                await process_outbox_message(rt, outbox_id, cell)
                ran += 1
        if not ran:
            break
        total += ran
    return total
