"""Fixtures of the booking tests."""

import os

import pytest


@pytest.fixture
async def redis():
    """A connection to the real Redis of ``REDIS_URL`` (tests using it are deselected without one)."""
    from arq import create_pool
    from arq.connections import RedisSettings

    pool = await create_pool(RedisSettings.from_dsn(os.environ["REDIS_URL"]))
    yield pool
    await pool.aclose()
