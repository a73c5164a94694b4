"""The account's server URL: ``/c/{city}/plugins/wechat_oa/callback``.

GET is WeChat's URL verification (the ``signature`` checked, ``echostr`` answered verbatim);
POST is a follower's message or event, in plain or safe mode (:mod:`.protocol`). A forged,
stale or unreadable request is answered 4xx with a stable code and changes nothing.

Each push is kept once (:class:`.models.WeChatPush`, unique per city and message) before it is
acted on; WeChat retries a push three times when the answer takes more than five seconds, and
a retry gets the first answer back instead of being acted on again. Answers are computed within
:data:`ANSWER_SECONDS`; one that takes longer is left unanswered (``success``) so WeChat neither
shows an error nor retries.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from guahao.plugin_api import city_session, utcnow

from . import protocol, replies
from .models import WeChatPush

log = logging.getLogger("guahao.wechat_oa")

NAME = "wechat_oa"
ANSWER_SECONDS = 4.0


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def site_url(request: Request, city, settings) -> str:
    """The patient site's address for links, ending in ``/``."""
    configured = str(settings.get("site_url") or "")
    if configured:
        return configured if configured.endswith("/") else configured + "/"
    return f"{request.url.scheme}://{request.url.netloc}/c/{city.slug}/"


def dedup_key(message) -> str:
    """A text's ``MsgId``; for an event (no id) its sender, time, kind and key, as WeChat advises."""
    raw = message._data  # the pushed fields as WeChat named them
    if raw.get("MsgId"):
        return f"msg:{raw['MsgId']}"[:160]
    return f"event:{message.source}:{raw.get('CreateTime', '')}:{raw.get('Event', '')}:{raw.get('EventKey') or ''}"[:160]


async def _keep(rt, city, message) -> tuple[int | None, str]:
    """``(id, "")`` for a push seen first now; ``(None, the first answer)`` for a retry."""
    key = dedup_key(message)
    kind = message.type if message.type != "event" else f"event:{message.event}"
    try:
        async with city_session(rt, city) as s:
            row = WeChatPush(dedup_key=key, openid=str(message.source)[:64], kind=kind[:40])
            s.add(row)
            await s.flush()
            row_id = row.id
    except IntegrityError:
        async with city_session(rt, city) as s:
            first = await s.scalar(select(WeChatPush.reply).where(WeChatPush.dedup_key == key))
        return None, first or ""
    return row_id, ""


async def callback(request: Request) -> Response:
    rt, city = request.app.state.rt, request.state.city
    plugins = await rt.plugins.for_city(city)
    settings, secrets = plugins.settings(NAME), plugins.secrets(NAME)
    keys = protocol.Keys(str(secrets.get("token") or ""), str(secrets.get("encoding_aes_key") or ""),
                         str(settings.get("app_id") or ""))
    now, tolerance = utcnow().timestamp(), int(settings.get("tolerance_seconds", 300))
    try:
        if request.method == "GET":
            protocol.check_request(request.query_params, keys, now=now, tolerance=tolerance)
            return PlainTextResponse(request.query_params.get("echostr", ""))
        message = protocol.read(await request.body(), request.query_params, keys, now=now, tolerance=tolerance)
    except protocol.Refused as refused:
        if refused.status == 401:
            log.warning("WeChat push for city %s refused: %s", city.slug, refused.code)
        return _error(refused.status, refused.code, refused.message)
    row_id, first_answer = await _keep(rt, city, message)
    if row_id is None:  # WeChat's retry of a push already acted on
        return _xml(protocol.answer(message, first_answer, request.query_params, keys, now=now))
    try:
        reply = await asyncio.wait_for(
            replies.respond(rt, city, message, settings=settings, site=site_url(request, city, settings)),
            ANSWER_SECONDS)
    except asyncio.TimeoutError:
        log.warning("WeChat push %s for city %s took too long to answer", row_id, city.slug)
        reply = replies.Reply("", "timeout")
    async with city_session(rt, city) as s:
        await s.execute(update(WeChatPush).where(WeChatPush.id == row_id)
                        .values(outcome=reply.outcome[:40], reply=reply.text[:2000]))
    return _xml(protocol.answer(message, reply.text, request.query_params, keys, now=now))


def _xml(body: str) -> Response:
    if body == "success":
        return PlainTextResponse(body)
    return Response(body, media_type="application/xml")
