"""The WeChat access token shared through Redis: N workers, one token fetch."""

from __future__ import annotations

import asyncio
import os

import pytest

from guahao.core.notifications import sharing
from guahao.plugins.channels.wechat_template import WeChatTemplateSender, tokens

from .test_wechat_template import CITY, configured, message


@pytest.fixture
async def redis():
    """Two connections to the real Redis of ``REDIS_URL``, as two worker processes would have."""
    from arq import create_pool
    from arq.connections import RedisSettings

    settings = RedisSettings.from_dsn(os.environ["REDIS_URL"])
    one, two = await create_pool(settings), await create_pool(settings)
    yield one, two
    await one.aclose()
    await two.aclose()


async def _send(redis, settings, secrets, openid, n):
    with sharing(redis):
        return await WeChatTemplateSender().send(CITY, message(openid, n), settings, secrets)


async def test_workers_racing_for_a_token_fetch_it_once(wechat_api, redis):
    app_id, openid, settings, secrets = configured(wechat_api)
    results = await asyncio.gather(*(_send(redis[n % 2], settings, secrets, openid, n) for n in range(1, 13)))
    assert all(r.ok for r in results)
    assert wechat_api.token_requests[app_id] == 1
    stored = await redis[0].get(tokens.redis_key(settings["endpoint"], app_id))
    ttl = await redis[0].ttl(tokens.redis_key(settings["endpoint"], app_id))
    assert stored and 7200 - 300 - 5 <= ttl <= 7200 - 300
    assert not await redis[0].exists(tokens.redis_key(settings["endpoint"], app_id) + ":lock")


async def test_a_revoked_token_is_replaced_once_for_everyone(wechat_api, redis):
    app_id, openid, settings, secrets = configured(wechat_api)
    assert (await _send(redis[0], settings, secrets, openid, 1)).ok
    wechat_api.revoke(app_id)
    failed = await asyncio.gather(*(_send(redis[n % 2], settings, secrets, openid, n) for n in range(2, 6)))
    assert all(not r.ok and r.retryable and "40001" in r.error for r in failed)
    again = await asyncio.gather(*(_send(redis[n % 2], settings, secrets, openid, n) for n in range(2, 6)))
    assert all(r.ok for r in again)
    assert wechat_api.token_requests[app_id] == 2


async def test_forgetting_an_old_token_keeps_a_newer_one(redis):
    key = tokens.redis_key("http://wechat.invalid", "wx-forget")
    await redis[0].set(key, "new-token", ex=60)
    await tokens.forget("http://wechat.invalid", "wx-forget", "old-token", redis[1])
    assert await redis[0].get(key) == b"new-token"
    await tokens.forget("http://wechat.invalid", "wx-forget", "new-token", redis[1])
    assert await redis[0].get(key) is None


async def test_a_held_lock_makes_the_others_wait_for_its_token(wechat_api, redis):
    app_id, openid, settings, secrets = configured(wechat_api)
    key = tokens.redis_key(settings["endpoint"], app_id)
    await redis[0].set(key + ":lock", "someone-else", px=5000)
    waiting = asyncio.ensure_future(_send(redis[1], settings, secrets, openid, 1))
    await asyncio.sleep(0.2)
    assert not waiting.done() and wechat_api.token_requests.get(app_id, 0) == 0
    wechat_api.tokens["from-the-other-process"] = app_id
    await redis[0].set(key, "from-the-other-process", ex=60)
    assert (await waiting).ok
    assert wechat_api.token_requests.get(app_id, 0) == 0
    await redis[0].delete(key + ":lock", key)
