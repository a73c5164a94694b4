"""Outbox relay and job runners (arq worker, or in-process in embedded mode)."""

import contextlib


@contextlib.asynccontextmanager
async def in_process_runner(rt):
    yield
