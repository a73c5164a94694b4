"""WeChat Pay's callbacks: ``POST /c/{city}/plugins/wechatpay/notify``.

Checked in this order, each refusal answered 4xx with ``{"code": "FAIL", "message": …}`` and
changing nothing (WeChat Pay retries a refused notification later): the city has its keys
(fail closed, 400 ``not_configured``) — the city's own merchant, or a hospital's own, picked by
the ``Wechatpay-Serial`` the notification names; the body is at most 64 KiB (413); the headers name
WeChat Pay's signature scheme and the configured public key id; the timestamp is within
5 minutes of now (401 ``stale``, a replayed capture); the RSA-SHA256 signature over
``TIMESTAMP\\nNONCE\\nBODY\\n`` verifies with the city's WeChat Pay public key (401); the body is
a notification whose AES-256-GCM ``resource`` decrypts with the APIv3 key (400).

A verified notification is acted on once (see :mod:`.settle`) and answered 200
``{"code": "SUCCESS", "message": "成功"}`` — also when it was a duplicate, or refused for a wrong
merchant or amount (recorded and logged, so WeChat Pay stops retrying).
"""

from __future__ import annotations

import json
import logging
import time

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from guahao.core.models import Hospital
from guahao.plugin_api import use_city

from . import settle, signing
from .client import NAME

log = logging.getLogger("guahao.wechatpay")

MAX_BODY = 64 * 1024
REPLAY_WINDOW = 300  # seconds either side of now


def fail(status: int, reason: str, message: str) -> JSONResponse:
    """A refusal as WeChat Pay reads it (``code`` FAIL); ``reason`` is our stable code."""
    return JSONResponse({"code": "FAIL", "message": message, "reason": reason}, status_code=status)


def _fresh(timestamp: str) -> bool:
    try:
        return abs(time.time() - int(timestamp)) <= REPLAY_WINDOW
    except ValueError:
        return False


async def merchants(rt, city, plugins) -> dict[str, tuple[dict, dict]]:
    """The city's merchant accounts by WeChat Pay public key id: the city's own and those of
    hospitals that take fees on their own account (``hospital_settings``)."""
    found: dict[str, tuple[dict, dict]] = {}
    with use_city(city):
        async with rt.db.transaction() as s:
            hospital_ids = list((await s.scalars(select(Hospital.id))).all())
    for hospital_id in [None, *hospital_ids]:
        settings, secrets = plugins.settings(NAME, hospital_id), plugins.secrets(NAME, hospital_id)
        key_id = str(settings.get("platform_public_key_id") or "")
        if key_id and key_id not in found and secrets.get("platform_public_key") and secrets.get("apiv3_key"):
            found[key_id] = (settings, secrets)
    return found


def mchid_of(plugins):
    """The merchant id a hospital's bookings are paid to."""
    return lambda hospital_id: str(plugins.settings(NAME, hospital_id).get("mchid") or "")


async def notify(request: Request) -> JSONResponse:
    rt = request.app.state.rt
    city = request.state.city
    plugins = await rt.plugins.for_city(city)
    accounts = await merchants(rt, city, plugins)
    if not accounts:  # fail closed: nothing is believed without the keys
        return fail(400, "not_configured", "本城市未配置微信支付密钥 / WeChat Pay keys not configured")
    key_id = request.headers.get("wechatpay-serial", "")
    settings, secrets = accounts.get(key_id) or next(iter(accounts.values()))
    public_pem, apiv3_key = str(secrets["platform_public_key"]), str(secrets["apiv3_key"])
    key_id = str(settings["platform_public_key_id"])
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return fail(413, "payload_too_large", "请求体过大 / body too large")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            return fail(413, "payload_too_large", "请求体过大 / body too large")
    if not _fresh(request.headers.get("wechatpay-timestamp", "")):
        log.warning("WeChat Pay notification with a stale or missing timestamp for city %s", city.slug)
        return fail(401, "stale", "时间戳超出允许范围 / timestamp outside the replay window")
    try:
        why = signing.verify_response(request.headers, raw, public_pem=public_pem, public_key_id=key_id)
    except signing.BadKey:
        return fail(400, "not_configured", "微信支付公钥无效 / WeChat Pay public key unusable")
    if why:
        log.warning("WeChat Pay notification with a bad %s for city %s", why, city.slug)
        return fail(401, "invalid_signature", "签名验证失败 / signature does not verify")
    try:
        notice = json.loads(raw)
        if not isinstance(notice, dict) or not notice.get("id") or not isinstance(notice.get("resource"), dict):
            raise ValueError("not a notification")
        plain = signing.decrypt_resource(notice["resource"], apiv3_key)
    except ValueError:
        return fail(400, "invalid_payload", "通知内容无法解析或解密 / notification unreadable")
    with use_city(city):
        try:
            outcome, booking_id, detail = await settle.handle(rt, city, notice, plain, settings, mchid_of(plugins))
        except (KeyError, TypeError, ValueError, AttributeError):  # a decrypted resource of the wrong shape
            log.warning("WeChat Pay notification %s for city %s has an unreadable resource", notice.get("id"), city.slug)
            return fail(400, "invalid_payload", "通知内容无法解析或解密 / notification unreadable")
    log.info("WeChat Pay notification %s (%s) for booking %s: %s", notice.get("id"), notice.get("event_type"),
             booking_id, outcome)
    return JSONResponse({"code": "SUCCESS", "message": "成功", "outcome": outcome,
                         **({"detail": detail} if detail else {})})


def notify_routes() -> list:
    return [Route("/notify", notify, methods=["POST"])]
