"""Arrival reports from the hospital: signed, at most five minutes old, acted on once."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from guahao.plugin_api import DomainError, TenantModel, Unauthorized, ValidationFailed, check_in, city_session, utcnow

from . import signing
from .meta import NAME

MAX_BODY = 4096


class Arrival(TenantModel, table=True):
    """One arrival the hospital reported, kept once per its ``arrival_id``."""

    __tablename__ = "his_example_arrivals"
    __table_args__ = (UniqueConstraint("city_id", "arrival_id", name="uq_his_example_arrival"),)

    id: int | None = Field(default=None, primary_key=True)
    arrival_id: str = Field(max_length=64)
    booking_id: str = Field(max_length=24)
    received_at: datetime = Field(default_factory=utcnow)


def _field(body: object, name: str, longest: int) -> str:
    value = body.get(name) if isinstance(body, dict) else None
    if not isinstance(value, str) or not 0 < len(value) <= longest:
        raise ValidationFailed("validation_error", f"缺少 {name}（{longest} 个字符以内的文本）",
                               details=[{"field": name, "code": "missing"}])
    return value


async def arrivals(request: Request) -> JSONResponse:
    rt, city = request.app.state.rt, request.state.city
    plugins = await rt.plugins.for_city(city)
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise DomainError("payload_too_large", "请求内容过大", status=413)
    key = str(plugins.secrets(NAME).get("signing_key") or "")
    if not signing.verify(key, request.headers.get(signing.TIMESTAMP, ""), request.headers.get(signing.SIGNATURE, ""),
                          raw, int(utcnow().timestamp())):
        raise Unauthorized("签名无效或已过期", code="invalid_signature")
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("validation_error", "请求内容须为 JSON 对象") from None
    arrival_id, booking_id = _field(body, "arrival_id", 64), _field(body, "booking_id", 24)
    async with city_session(rt, city) as s:
        seen = await s.scalar(select(Arrival).where(Arrival.arrival_id == arrival_id))
    if seen is not None:
        return JSONResponse({"arrival_id": arrival_id, "duplicate": True})
    booking = await check_in(rt, city, booking_id, source=f"his:{NAME}")
    try:
        async with city_session(rt, city) as s:
            s.add(Arrival(arrival_id=arrival_id, booking_id=booking_id))
    except IntegrityError:  # the same report, delivered twice at once
        return JSONResponse({"arrival_id": arrival_id, "duplicate": True})
    return JSONResponse({"arrival_id": arrival_id, "duplicate": False, "booking": booking})


def arrival_routes() -> list:
    return [Route("/arrivals", arrivals, methods=["POST"])]
