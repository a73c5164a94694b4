"""The uplink webhook: ``POST /c/{city}/plugins/sms_inbound/{provider}``.

The request is authenticated as its format requires (see :mod:`.transports`); a forged,
stale or unreadable one is answered 4xx with a code and changes nothing. Each message is then
stored once (:class:`.models.SmsInboundMessage`, unique per city, provider and message id) in
the same transaction as the outbox job that acts on it; a redelivery — even one arriving at
the same moment — fails that unique constraint and is acknowledged without acting twice. A
message sent longer ago than the city's ``max_age_minutes`` is acknowledged and left alone.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from guahao.plugin_api import city_session, emit, utcnow

from .models import SmsInboundMessage
from .transports import Refused, Uplink, acknowledgement, read

log = logging.getLogger("guahao.sms_inbound")

NAME = "sms_inbound"
PROCESS_TOPIC = "sms_inbound.process"


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def store(rt, city, provider: str, uplink: Uplink) -> bool:
    """Keep the message and schedule its processing, once: ``False`` for a message already kept."""
    try:
        async with city_session(rt, city) as s:
            row = SmsInboundMessage(provider=provider, message_id=uplink.message_id, phone=uplink.phone,
                                    text=uplink.text, sent_at=uplink.sent_at)
            s.add(row)
            await s.flush()
            emit(s, PROCESS_TOPIC, {"message": row.id})
    except IntegrityError:
        return False
    return True


async def uplink(request: Request) -> JSONResponse:
    rt, city = request.app.state.rt, request.state.city
    provider = request.path_params["provider"]
    plugins = await rt.plugins.for_city(city)
    settings, secrets = plugins.settings(NAME), plugins.secrets(NAME)
    now = utcnow()
    try:
        messages = read(provider, body=await request.body(), headers=request.headers, query=request.query_params,
                        secrets=secrets, tolerance=int(settings.get("tolerance_seconds", 300)), now=now)
    except Refused as refused:
        if refused.status == 401:
            log.warning("SMS uplink (%s) for city %s refused: %s", provider, city.slug, refused.code)
        return _error(refused.status, refused.code, refused.message)
    oldest = now - timedelta(minutes=int(settings.get("max_age_minutes", 720)))
    new = 0
    for message in messages:
        if message.sent_at is not None and message.sent_at < oldest:
            log.warning("SMS uplink %s (%s) for city %s sent at %s is too old to act on",
                        message.message_id, provider, city.slug, message.sent_at.isoformat())
            continue
        new += await store(rt, city, provider, message)
    return JSONResponse(acknowledgement(provider, new))


def routes() -> list:
    return [Route("/{provider}", uplink, methods=["POST"])]
