"""Third-party applications (OAuth 2.0 clients) and their bearer tokens.

A client is registered by the city operator (``guahao fhir client add``): its secret is shown
once and kept as an Argon2id hash. The token endpoint trades the client's id and secret for a
random bearer token (RFC 6749 §4.4, client credentials), kept only as its SHA-256 with the
scopes granted and an expiry; a deactivated client's tokens stop working at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select

from guahao.plugin_api import ValidationFailed, city_session, utcnow

from .models import FhirClient, FhirToken

SCOPES = {
    "system/Slot.read": "读取号源、医生、院区、科室与排班，使用 $find / Read slots, practitioners, locations, "
                        "services and schedules; use $find",
    "system/Appointment.read": "读取本应用所做的预约 / Read the appointments this client made",
    "system/Appointment.write": "锁号（$hold）、预约与取消（$book） / Hold ($hold), book and cancel ($book)",
}
DEFAULT_SCOPES = tuple(SCOPES)
_hasher = PasswordHasher()
_dummy_hash = _hasher.hash("no-such-client-6d1f")


@dataclass(frozen=True)
class Caller:
    """An authenticated client of one request: its id, name, the token's scopes and limits."""

    client_id: str
    name: str
    scopes: frozenset[str]
    daily_quota: int
    rate_per_minute: int


def check_scopes(scopes) -> list[str]:
    wanted = [str(s).strip() for s in scopes if str(s).strip()]
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown:
        raise ValidationFailed("invalid_scope", f"未知的权限范围：{', '.join(unknown)}（可用：{', '.join(SCOPES)}）",
                               details={"scopes": unknown})
    return wanted or list(DEFAULT_SCOPES)


async def add_client(rt, city, name: str, *, scopes=(), daily_quota: int = 100,
                     rate_per_minute: int = 120) -> tuple[FhirClient, str]:
    """Register a client in ``city``: the row and its secret (shown once, never stored)."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 120:
        raise ValidationFailed("invalid_name", "应用名称应为 1 到 120 个字符。")
    if daily_quota < 0 or rate_per_minute < 1:
        raise ValidationFailed("invalid_limits", "每日配额不能为负，每分钟请求数至少为 1。")
    granted = check_scopes(scopes)
    secret = secrets.token_urlsafe(32)
    secret_hash = await asyncio.to_thread(_hasher.hash, secret)
    client = FhirClient(client_id="fc" + secrets.token_hex(5), secret_hash=secret_hash, name=name, scopes=granted,
                        daily_quota=daily_quota, rate_per_minute=rate_per_minute)
    async with city_session(rt, city) as s:
        s.add(client)
        await s.flush()
    return client, secret


async def list_clients(rt, city) -> list[FhirClient]:
    async with city_session(rt, city) as s:
        return list((await s.scalars(select(FhirClient).order_by(FhirClient.id))).all())


async def set_active(rt, city, client_id: str, active: bool) -> bool:
    """Turn a client on or off (off: its tokens are dropped); ``False`` when there is none."""
    async with city_session(rt, city) as s:
        client = await s.scalar(select(FhirClient).where(FhirClient.client_id == client_id))
        if client is None:
            return False
        client.active = active
        if not active:
            await s.execute(delete(FhirToken).where(FhirToken.client_id == client_id))
    return True


def _verify(secret_hash: str, secret: str) -> bool:
    try:
        return _hasher.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


async def issue_token(rt, city, client_id: str, secret: str, scope: str | None,
                      minutes: int) -> tuple[str, list[str], int] | None:
    """Trade valid credentials for ``(token, scopes granted, seconds)``; ``None`` when the
    client is unknown, inactive or the secret is wrong (each takes one hash's time).
    Raises ``ValidationFailed("invalid_scope")`` for a scope the client was not given."""
    async with city_session(rt, city) as s:
        client = await s.scalar(select(FhirClient).where(FhirClient.client_id == client_id[:40]))
    good = await asyncio.to_thread(_verify, client.secret_hash if client else _dummy_hash, secret)
    if client is None or not client.active or not good:
        return None
    allowed = list(client.scopes)
    wanted = scope.split() if scope else allowed
    if any(w not in allowed for w in wanted):
        raise ValidationFailed("invalid_scope", "申请的权限范围超出该应用的授权。")
    token = secrets.token_urlsafe(32)
    now = utcnow()
    async with city_session(rt, city) as s:
        await s.execute(delete(FhirToken).where(FhirToken.client_id == client.client_id, FhirToken.expires_at < now))
        s.add(FhirToken(token_hash=_digest(token), client_id=client.client_id, scopes=wanted,
                        expires_at=now + timedelta(minutes=minutes)))
    return token, wanted, minutes * 60


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def caller_of(rt, city, token: str) -> Caller | None:
    """The active client a live bearer token of this city belongs to, or ``None``."""
    if not token or len(token) > 200:
        return None
    now: datetime = utcnow()
    async with city_session(rt, city) as s:
        row = (await s.execute(
            select(FhirToken.scopes, FhirToken.expires_at, FhirClient.client_id, FhirClient.name,
                   FhirClient.daily_quota, FhirClient.rate_per_minute)
            .join(FhirClient, (FhirClient.client_id == FhirToken.client_id) & (FhirClient.city_id == FhirToken.city_id))
            .where(FhirToken.token_hash == _digest(token), FhirClient.active.is_(True))
        )).first()
    if row is None:
        return None
    expires_at = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=now.tzinfo)
    if expires_at <= now:
        return None
    return Caller(row.client_id, row.name, frozenset(row.scopes), row.daily_quota, row.rate_per_minute)
