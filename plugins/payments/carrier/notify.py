"""The carrier's signed result callback: ``POST /c/{city}/plugins/carrier/notify``.

Checked in this order, each refusal answered 4xx ``{"code": …, "message": …}`` and changing
nothing: the city has its keys (400 ``not_configured``); the body is at most 32 KiB (413
``payload_too_large``); the key id is the city's (401 ``unknown_key``); the timestamp is within
5 minutes of now (401 ``stale``); the HMAC-SHA256 signature holds (401 ``invalid_signature``);
the body is a result (400 ``invalid_payload``); the nonce was not seen in the last 10 minutes
(409 ``replayed_nonce``).

A verified result is acted on once per ``notify_id`` (``carrier_callbacks``): ``succeeded``
confirms the held booking through core's ``payment_received`` (money after the hold is refunded
through the outbox); ``declined``, ``insufficient_balance``, ``expired`` and ``failed`` are
recorded on the booking (event ``payment_failed``) and the hold runs out as usual. The answer
is 200 ``{"code": "ok", "outcome": …}``, also for a duplicate; a result refused for a wrong
amount is kept and answered 409 ``amount_mismatch``.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from guahao.core import payments
from guahao.core.booking import events
from guahao.core.booking.inventory import released_periods
from guahao.core.booking.service import clear_gate
from guahao.core.errors import DomainError
from guahao.core.models import Booking, BookingStatus
from guahao.plugin_api import use_city, utcnow

from . import orders, signing
from .client import NAME
from .models import CarrierCallback, CarrierNonce

log = logging.getLogger("guahao.carrier")

MAX_BODY = 32 * 1024
FAILURES = ("declined", "insufficient_balance", "expired", "failed")
MESSAGES = {
    "not_configured": "本城市未配置话费支付 / carrier billing not configured",
    "payload_too_large": "请求体过大 / body too large",
    "unknown_key": "密钥编号不符 / unknown key id",
    "stale": "时间戳超出允许范围 / timestamp outside the 5-minute window",
    "invalid_signature": "签名验证失败 / signature does not verify",
    "invalid_payload": "回调内容无法解析 / not a result callback",
    "replayed_nonce": "重复的请求（nonce 已使用）/ nonce seen before",
}


def refuse(status: int, code: str, message: str = "") -> JSONResponse:
    return JSONResponse({"code": code, "message": message or MESSAGES.get(code, code)}, status_code=status)


def _result(raw: bytes) -> dict | None:
    """The callback's fields, checked; ``None`` when it is not a result."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("type") != "charge.result":
        return None
    text = ("notify_id", "order_no", "transaction_id", "status", "time")
    if not all(isinstance(data.get(k), str) and 0 < len(data[k]) <= 64 for k in text):
        return None
    amount = data.get("amount_fen")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        return None
    if data["status"] not in ("succeeded", *FAILURES):
        return None
    return data


async def notify(request: Request) -> JSONResponse:
    rt, city = request.app.state.rt, request.state.city
    plugins = await rt.plugins.for_city(city)
    settings, secrets = plugins.settings(NAME), plugins.secrets(NAME)
    key_id, secret = str(settings.get("key_id") or ""), str(secrets.get("shared_secret") or "")
    if not (key_id and secret):  # fail closed: nothing is believed without the key
        return refuse(400, "not_configured")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return refuse(413, "payload_too_large")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            return refuse(413, "payload_too_large")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    why = signing.problem(request.headers, key_id=key_id, secret=secret, method="POST", target=target, body=raw)
    if why:
        log.warning("carrier callback refused for city %s: %s", city.slug, why)
        return refuse(401, why)
    result = _result(raw)
    if result is None:
        return refuse(400, "invalid_payload")
    with use_city(city):
        if not await _fresh_nonce(rt, signing.nonce_of(request.headers)):
            log.warning("carrier callback with a replayed nonce for city %s", city.slug)
            return refuse(409, "replayed_nonce")
        outcome, booking_id, detail = await _handle(rt, city, result)
    log.info("carrier callback %s (%s) for booking %s: %s", result["notify_id"], result["status"], booking_id, outcome)
    if outcome == "refused":
        code = detail.split(":", 1)[0]
        return refuse(409, code, detail)
    return JSONResponse({"code": "ok", "outcome": outcome})


async def _fresh_nonce(rt, nonce: str) -> bool:
    """Remember ``nonce`` (forgetting those older than ten minutes); ``False`` if seen before."""
    now = utcnow()
    try:
        async with rt.db.transaction() as s:
            await s.execute(delete(CarrierNonce).where(
                CarrierNonce.seen_at < now - timedelta(seconds=signing.NONCE_MEMORY)))
            s.add(CarrierNonce(nonce=nonce, seen_at=now))
    except IntegrityError:
        return False
    return True


def _row(result: dict, booking_id: str, outcome: str, detail: str = "") -> CarrierCallback:
    return CarrierCallback(notify_id=result["notify_id"], order_no=result["order_no"],
                           transaction_id=result["transaction_id"], status=result["status"], booking_id=booking_id,
                           outcome=outcome, detail=detail[:300])


class _Refused(Exception):
    def __init__(self, error: DomainError):
        super().__init__(error.code)
        self.error = error


async def _failed(s, booking_id: str, result: dict) -> str:
    """Record a charge that did not happen; the hold runs out as usual."""
    booking = await s.scalar(select(Booking).where(Booking.id == booking_id).with_for_update())
    if booking is None:
        return "ignored"
    if booking.status == BookingStatus.pending_payment:
        events.record(s, booking, "payment_failed", at=utcnow(), actor=f"payment:{NAME}",
                      data={"provider": NAME, "payment_ref": result["order_no"], "reason": result["status"],
                            "transaction_id": result["transaction_id"]})
        await events.write(s)
    return result["status"]


async def _handle(rt, city, result: dict) -> tuple[str, str, str]:
    """Act on one verified result once; returns ``(outcome, booking id, detail)``."""
    async with rt.db.transaction() as s:
        seen = await s.scalar(select(CarrierCallback.outcome).where(CarrierCallback.notify_id == result["notify_id"]))
    if seen is not None:
        return "duplicate", "", f"seen before ({seen})"
    booking_id = orders.booking_of(result["order_no"], city.id)
    outcome, detail = ("ignored", "the order names no booking of this city") if not booking_id else ("", "")
    try:
        async with rt.db.transaction() as s:
            if not outcome:
                try:
                    if result["status"] == "succeeded":
                        outcome = await payments.payment_received(
                            s, booking_id, provider=NAME, payment_ref=result["order_no"], amount_fen=result["amount_fen"])
                    else:
                        outcome = await _failed(s, booking_id, result)
                except DomainError as exc:
                    raise _Refused(exc) from None
            s.add(_row(result, booking_id, outcome, detail))
            freed = released_periods(s)
    except _Refused as refused:  # the change rolled back; the refusal itself is kept
        outcome, detail = "refused", f"{refused.error.code}: {refused.error.message}"
        freed = set()
        try:
            async with rt.db.transaction() as s:
                s.add(_row(result, booking_id, outcome, detail))
        except IntegrityError:
            return "duplicate", booking_id, ""
    except IntegrityError:  # the same callback, delivered twice at once: the other one acted
        return "duplicate", booking_id, ""
    if outcome == "refused":
        log.error("carrier callback %s for order %s refused: %s", result["notify_id"], result["order_no"], detail)
    await clear_gate(rt, city, freed)
    return outcome, booking_id, detail


def notify_routes() -> list:
    return [Route("/notify", notify, methods=["POST"])]
