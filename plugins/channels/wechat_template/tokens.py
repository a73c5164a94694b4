"""Access tokens of WeChat apps: cached until shortly before they expire, fetched one at a time.

WeChat limits token fetches per app and day, and a fresh token retires the previous one a few
minutes later, so the workers of a platform must not each fetch their own. With Redis the token
is kept there for every process, and a refresh takes a short Redis lock (single flight across
processes) while the others wait for the new token to appear. Without Redis each process keeps
its own, refreshed under an asyncio lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid

import httpx

TOKEN_MARGIN_SECONDS = 300
LOCK_MS = 15_000  # longer than a token request may take (the client timeout)
POLL_SECONDS = 0.05

# Delete the key only while it still holds our value (our lock, or the token found invalid).
_DELETE_IF_SAME = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_memory: dict[tuple[str, str], tuple[str, float]] = {}
_refreshing: dict[tuple[str, str], asyncio.Lock] = {}


class WeChatError(RuntimeError):
    def __init__(self, errcode: int, errmsg: str):
        super().__init__(f"wechat errcode {errcode}: {errmsg}")
        self.errcode = errcode


def redis_key(endpoint: str, app_id: str) -> str:
    return "guahao:wechat:token:" + hashlib.sha256(f"{endpoint}\x00{app_id}".encode()).hexdigest()[:24]


async def _fetch(client: httpx.AsyncClient, endpoint: str, app_id: str, secret: str) -> tuple[str, int]:
    """A new token and how many seconds to keep it."""
    response = await client.get(
        f"{endpoint}/cgi-bin/token", params={"grant_type": "client_credential", "appid": app_id, "secret": secret}
    )
    body = response.json()
    if not body.get("access_token"):
        raise WeChatError(int(body.get("errcode", -1)), str(body.get("errmsg", "")))
    return body["access_token"], max(int(body.get("expires_in", 7200)) - TOKEN_MARGIN_SECONDS, 0)


def _text(value) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


async def access_token(client: httpx.AsyncClient, endpoint: str, app_id: str, secret: str, redis=None) -> str:
    """The app's current token: from the cache, else fetched by exactly one caller."""
    if redis is not None:
        return await _shared(redis, client, endpoint, app_id, secret)
    key = (endpoint, app_id)
    lock = _refreshing.setdefault(key, asyncio.Lock())
    async with lock:
        cached = _memory.get(key)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        token, ttl = await _fetch(client, endpoint, app_id, secret)
        _memory[key] = (token, time.monotonic() + ttl)
        return token


async def _shared(redis, client: httpx.AsyncClient, endpoint: str, app_id: str, secret: str) -> str:
    key = redis_key(endpoint, app_id)
    lock, me = key + ":lock", uuid.uuid4().hex
    deadline = time.monotonic() + 2 * LOCK_MS / 1000
    while True:
        token = _text(await redis.get(key))
        if token:
            return token
        if await redis.set(lock, me, nx=True, px=LOCK_MS):
            try:
                token = _text(await redis.get(key))  # another process may have just finished
                if token:
                    return token
                token, ttl = await _fetch(client, endpoint, app_id, secret)
                if ttl > 0:
                    await redis.set(key, token, ex=ttl)
                return token
            finally:
                await redis.eval(_DELETE_IF_SAME, 1, lock, me)
        if time.monotonic() > deadline:
            raise WeChatError(-1, "access token refresh still running in another process")
        await asyncio.sleep(POLL_SECONDS)


async def forget(endpoint: str, app_id: str, token: str, redis=None) -> None:
    """WeChat called ``token`` invalid: drop it, unless a newer one has replaced it already."""
    if redis is not None:
        await redis.eval(_DELETE_IF_SAME, 1, redis_key(endpoint, app_id), token)
        return
    cached = _memory.get((endpoint, app_id))
    if cached and cached[0] == token:
        del _memory[(endpoint, app_id)]
