"""Embedded mode: without Redis the web process drains the outbox and runs the sweeps itself,
refreshes the report rollups and reports the public API's calls for metering (every minute,
and all of them when it stops)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import AsyncIterator

from .periodic import refresh_report_rollups, release_pools, sweep_no_shows
from .relay import drain_in_process

log = logging.getLogger("guahao.jobs")

POOL_RELEASE_EVERY = 60.0
NO_SHOW_SWEEP_EVERY = 300.0
REPORT_ROLLUPS_EVERY = 3600.0
REPORT_ROLLUPS_FIRST = 300.0  # after start-up, not during it: a first refresh may roll up a year
STOP_TIMEOUT = 10.0


async def _logged(work, what: str) -> None:
    try:
        await work
    except Exception:  # the runner outlives a failing sweep; the next tick tries again
        log.exception("%s failed", what)


async def _loop(rt, stop: asyncio.Event, poll: float) -> None:
    from guahao.core.usage_api import FLUSH_EVERY_SECONDS, flush_api_calls

    next_release = next_sweep = 0.0
    next_calls = time.monotonic() + FLUSH_EVERY_SECONDS
    next_rollups = time.monotonic() + REPORT_ROLLUPS_FIRST
    while not stop.is_set():
        try:
            await drain_in_process(rt, stop=stop)
        except Exception:  # keep the loop alive; rows stay due and are tried again
            log.exception("in-process outbox drain failed")
        if stop.is_set():
            break
        now = time.monotonic()
        if now >= next_release:
            next_release = now + POOL_RELEASE_EVERY
            await _logged(release_pools(rt), "reserved pool release")
        if now >= next_sweep:
            next_sweep = now + NO_SHOW_SWEEP_EVERY
            await _logged(sweep_no_shows(rt), "no-show sweep")
        if now >= next_rollups:
            next_rollups = now + REPORT_ROLLUPS_EVERY
            await _logged(refresh_report_rollups(rt), "report rollup refresh")
        if now >= next_calls:
            next_calls = now + FLUSH_EVERY_SECONDS
            await _logged(flush_api_calls(rt), "API call report")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), poll)
    await _logged(flush_api_calls(rt, everything=True), "API call report")


@contextlib.asynccontextmanager
async def in_process_runner(rt, *, poll_seconds: float | None = None) -> AsyncIterator[asyncio.Task | None]:
    """While open, drain due outbox rows every ``outbox_poll_seconds``, run the sweeps and
    refresh the report rollups hourly (as the worker does).

    Does nothing unless ``rt.settings.outbox_in_process`` (no Redis): with Redis the worker
    owns the relay and the sweeps. Stops between passes on exit.
    """
    if not rt.settings.outbox_in_process:
        yield None
        return
    stop = asyncio.Event()
    task = asyncio.create_task(_loop(rt, stop, poll_seconds or rt.settings.outbox_poll_seconds), name="guahao-outbox")
    try:
        yield task
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, STOP_TIMEOUT)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
