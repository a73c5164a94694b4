"""The arq worker (``guahao worker``): runs outbox jobs, the relay and the periodic sweeps.

Every cron job is ``unique`` so any number of workers run each tick once. The relay runs every
``RELAY_EVERY_SECONDS``; the no-show sweep every five minutes; reserved pools are released
every minute; the report rollups are refreshed every hour; the public API's calls of each
closed minute are reported for metering every minute (``core.usage_api``). Plugins' long-running
tasks (``guahao_worker_tasks``, e.g. an MLLP listener) run beside the jobs (``background``).
"""

from __future__ import annotations

import asyncio
import logging

from arq import cron, func
from arq.connections import RedisSettings
from arq.worker import create_worker

from guahao.tenants.settings import Settings

from .background import start_background, stop_background
from .periodic import refresh_report_rollups, release_pools, sweep_no_shows
from .relay import RUN_OUTBOX, mark_started, namespace, queue_name, relay_once
from .runner import process_outbox_message

log = logging.getLogger("guahao.jobs")

RELAY_EVERY_SECONDS = 2


async def run_outbox(ctx: dict, outbox_id: int, cell: str = "") -> str | None:
    await mark_started(ctx["rt"], outbox_id, cell)
    return await process_outbox_message(ctx["rt"], outbox_id, cell)


async def relay(ctx: dict) -> int:
    return await relay_once(ctx["rt"])


async def no_show_sweep(ctx: dict) -> int:
    return await sweep_no_shows(ctx["rt"])


async def pool_release(ctx: dict) -> int:
    return await release_pools(ctx["rt"])


async def report_rollups(ctx: dict) -> int:
    return await refresh_report_rollups(ctx["rt"])


async def api_calls(ctx: dict) -> int:
    from guahao.core.usage_api import flush_api_calls

    return await flush_api_calls(ctx["rt"])


def worker_settings(settings: Settings, *, runtime=None) -> type:
    """arq ``WorkerSettings`` for ``settings`` (``runtime``: share an already started one)."""
    if not settings.redis_url:
        raise RuntimeError("the worker needs Redis: set REDIS_URL")
    ns = namespace(settings)

    def name(job: str) -> str:
        return f"cron:{ns}:{job}" if ns else f"cron:{job}"

    async def startup(ctx: dict) -> None:
        from guahao.core.runtime import Runtime

        rt = runtime
        if rt is None:
            rt = Runtime(settings)
            await rt.start()
        ctx["rt"] = rt
        ctx["background"] = await start_background(rt)  # the plugins' listeners (guahao_worker_tasks)

    async def shutdown(ctx: dict) -> None:
        await stop_background(ctx.get("background") or [])
        if runtime is None and ctx.get("rt") is not None:
            await ctx["rt"].stop()

    return type(
        "WorkerSettings",
        (),
        {
            "functions": [
                func(
                    run_outbox, name=RUN_OUTBOX, keep_result=0, max_tries=3, timeout=settings.outbox_job_timeout_seconds
                )
            ],
            "cron_jobs": [
                cron(
                    relay,
                    name=name("relay"),
                    second=set(range(0, 60, RELAY_EVERY_SECONDS)),
                    run_at_startup=True,
                    timeout=60,
                ),
                cron(no_show_sweep, name=name("no_show_sweep"), minute=set(range(0, 60, 5)), second=15, timeout=240),
                cron(pool_release, name=name("pool_release"), second=45, timeout=50),
                cron(report_rollups, name=name("report_rollups"), minute=7, second=30, timeout=1800),
                cron(api_calls, name=name("api_calls"), second=20, timeout=50),
            ],
            "redis_settings": RedisSettings.from_dsn(settings.redis_url),
            "queue_name": queue_name(settings),
            "on_startup": startup,
            "on_shutdown": shutdown,
            "keep_result": 0,
            "max_jobs": 20,
        },
    )


async def run_worker(settings: Settings) -> None:
    """Run the worker until SIGTERM or SIGINT (``guahao worker``)."""
    worker = create_worker(worker_settings(settings))
    log.info("worker started on queue %s", queue_name(settings))
    try:
        await worker.async_run()
    except asyncio.CancelledError:  # the signal handler cancels the main task: a clean stop
        pass
    finally:
        await worker.close()
    log.info("worker stopped")
