"""The outbox handler of ``his.sync`` (pulls from a hospital's HIS).

``core.his`` sits above the job layer (it suspends sessions through the back office's change
flow), so the job layer cannot import it: importing ``core.his`` adds its handler to the
built-in ones. The processes that run jobs import it (``guahao worker`` and ``guahao serve``
through the command line, the app through the console's HIS page).
"""

from __future__ import annotations

from guahao.core.jobs.context import JobContext
from guahao.core.jobs.handlers import BUILTIN_HANDLERS

from .sync import SYNC_TOPIC, run_request


async def handle_his_sync(ctx: JobContext, payload: dict) -> None:
    """Run the pull; a failed pull is recorded as a run and raised, so the outbox retries it."""
    await run_request(ctx.rt, ctx.plugins, payload)


def register() -> None:
    BUILTIN_HANDLERS.setdefault(SYNC_TOPIC, handle_his_sync)
