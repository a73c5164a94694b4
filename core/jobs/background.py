"""Long-running tasks the plugins hand to ``guahao worker`` (hook ``guahao_worker_tasks``).

Each task runs beside the jobs until the worker stops; one that raises is logged and started
again after a pause, so a plugin's listener survives a bad moment without taking the worker down.
"""

from __future__ import annotations

import asyncio
import logging

from guahao.core.plugins.manager import call_robust

log = logging.getLogger("guahao.jobs")

RESTART_AFTER_SECONDS = 10.0


async def _keep_running(name: str, task) -> None:
    while True:
        try:
            await task()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("worker task %s failed; starting it again in %.0f s", name, RESTART_AFTER_SECONDS)
            await asyncio.sleep(RESTART_AFTER_SECONDS)


async def start_background(rt) -> list[asyncio.Task]:
    """Start every plugin's worker tasks; returns them (see :func:`stop_background`)."""
    started = []
    for outcome in await call_robust(rt.plugins.pm.hook.guahao_worker_tasks, rt=rt):
        for task in outcome.result or []:
            name = f"{outcome.plugin}:{getattr(task, '__qualname__', task)}"
            started.append(asyncio.create_task(_keep_running(name, task), name=name))
    return started


async def stop_background(tasks: list[asyncio.Task]) -> None:
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
