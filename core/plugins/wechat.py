"""Access tokens of WeChat apps (公众号): cached until shortly before they expire, fetched one at a time.

Shared by every plugin that calls the WeChat API with an app's credentials (the template
sender, the official account's menu): one token per app, whoever asks for it.

WeChat limits token fetches per app and day, and a fresh token retires the previous one a few
minutes later, so the workers of a platform must not each fetch their own. With Redis the token
is kept there for every process, and a refresh takes a short Redis lock (single flight across
processes) while the others wait for the new token to appear. Without Redis each process keeps
its own, refreshed under an asyncio lock.

Calls go through the caller's ``core.plugins.http.HttpClient``; WeChat's answers (an
``errcode`` in a 200 answer) are read by :func:`answer`, which raises ``WeChatError``.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from json import dumps
from typing import Any

import httpx

from .http import HttpClient, TransportError, json_answer

TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid or expired access token: fetch a new one
RETRYABLE = frozenset({-1, 45009, 45047}) | TOKEN_ERRORS  # busy, rate limits
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


class WeChatError(TransportError):
    """WeChat answered with an ``errcode``: temporary for busy, rate limits and stale tokens.

    Parameters:
        errcode: WeChat's error code.
        errmsg: WeChat's message.
        what: what was refused, put before the code (``"token refused: "``).
    """

    def __init__(self, errcode: int, errmsg: str, what: str = "") -> None:
        super().__init__(f"{what}errcode {errcode}: {errmsg}", permanent=errcode not in RETRYABLE, code=str(errcode))
        self.errcode = errcode


def _errcode(body: dict) -> int:
    try:
        return int(body.get("errcode", -1))
    except (TypeError, ValueError):
        return -1


def answer(response: httpx.Response) -> dict[str, Any]:
    """A WeChat API answer: its body when ``errcode`` is 0, else ``WeChatError`` (a missing
    ``errcode`` counts as -1, busy)."""
    body = json_answer(response)
    if _errcode(body) != 0:
        raise WeChatError(_errcode(body), str(body.get("errmsg", "")))
    return body


def _token_answer(response: httpx.Response) -> dict[str, Any]:
    body = json_answer(response)
    if not body.get("access_token"):
        raise WeChatError(_errcode(body), str(body.get("errmsg", "")), what="token refused: ")
    return body


def redis_key(endpoint: str, app_id: str) -> str:
    return "guahao:wechat:token:" + hashlib.sha256(f"{endpoint}\x00{app_id}".encode()).hexdigest()[:24]


async def _fetch(http: HttpClient, endpoint: str, app_id: str, secret: str) -> tuple[str, int]:
    """A new token and how many seconds to keep it."""
    body = await http.request(
        "GET", f"{endpoint}/cgi-bin/token", params={"grant_type": "client_credential", "appid": app_id, "secret": secret},
        classify=_token_answer,
    )
    return body["access_token"], max(int(body.get("expires_in", 7200)) - TOKEN_MARGIN_SECONDS, 0)


def _text(value) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


async def access_token(http: HttpClient, endpoint: str, app_id: str, secret: str, redis=None) -> str:
    """The app's current token: from the cache, else fetched by exactly one caller (through
    ``http``). Raises ``TransportError`` (``WeChatError`` when WeChat refuses)."""
    if redis is not None:
        return await _shared(redis, http, endpoint, app_id, secret)
    key = (endpoint, app_id)
    lock = _refreshing.setdefault(key, asyncio.Lock())
    async with lock:
        cached = _memory.get(key)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        token, ttl = await _fetch(http, endpoint, app_id, secret)
        _memory[key] = (token, time.monotonic() + ttl)
        return token


async def _shared(redis, http: HttpClient, endpoint: str, app_id: str, secret: str) -> str:
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
                token, ttl = await _fetch(http, endpoint, app_id, secret)
                if ttl > 0:
                    await redis.set(key, token, ex=ttl)
                return token
            finally:
                await redis.eval(_DELETE_IF_SAME, 1, lock, me)
        if time.monotonic() > deadline:
            raise TransportError("access token refresh still running in another process", code="token_busy")
        await asyncio.sleep(POLL_SECONDS)


async def forget(endpoint: str, app_id: str, token: str, redis=None) -> None:
    """WeChat called ``token`` invalid: drop it, unless a newer one has replaced it already."""
    if redis is not None:
        await redis.eval(_DELETE_IF_SAME, 1, redis_key(endpoint, app_id), token)
        return
    cached = _memory.get((endpoint, app_id))
    if cached and cached[0] == token:
        del _memory[(endpoint, app_id)]


async def call(http: HttpClient, endpoint: str, app_id: str, secret: str, path: str, *, redis=None,
               method: str = "POST", json: Any = None, idempotent: bool = False) -> dict[str, Any]:
    """One WeChat API call with the app's access token (``access_token=`` in the query): the
    answer when ``errcode`` is 0, else ``WeChatError``. ``json`` is sent as UTF-8 text, not
    ``\\u`` escapes (WeChat shows escapes as they are, e.g. in menu names). A token WeChat
    calls invalid is dropped (:func:`forget`), so the next call fetches a new one."""
    token = await access_token(http, endpoint, app_id, secret, redis)
    body = None if json is None else dumps(json, ensure_ascii=False, separators=(",", ":")).encode()
    headers = None if body is None else {"Content-Type": "application/json; charset=utf-8"}
    try:
        return await http.request(method, f"{endpoint}{path}", params={"access_token": token}, content=body,
                                  headers=headers, idempotent=idempotent, classify=answer)
    except WeChatError as exc:
        if exc.errcode in TOKEN_ERRORS:
            await forget(endpoint, app_id, token, redis)
        raise
