"""API refresh tokens of members: opaque, stored hashed, rotated on every use.

A log-in starts a *family*: the first refresh token. Each use spends the token presented and
issues the next of the same family with a new access token. A spent token presented again means
two parties hold the family (a stolen copy): the whole family is revoked and every later token of
it is refused (OAuth 2.0 Security BCP, RFC 6819 §5.2.2.3). A family also ends with log-out or a
new password (it began under an older session generation), when it is revoked by the client
(RFC 7009), and 30 days after its last use. Only the SHA-256 of a token is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.errors import Unauthorized
from guahao.core.models import Member, RefreshToken
from guahao.tenants.clock import utcnow

LIFETIME = timedelta(days=30)
MAX_LENGTH = 200


@dataclass
class Refreshed:
    """A rotation's result: the member and the family's next refresh token."""

    member: Member
    token: str
    expires_in: int


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def refused(reason: str, message: str = "刷新令牌无效或已失效，请重新登录") -> Unauthorized:
    """The one refusal of a bad refresh token (``details.reason`` says why)."""
    exc = Unauthorized(message, code="invalid_refresh_token")
    exc.details = {"reason": reason}
    return exc


def _new(s: AsyncSession, member: Member, family_id: str, generation: int) -> tuple[str, int]:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    s.add(RefreshToken(member_id=member.id, family_id=family_id, token_hash=_hash(token), generation=generation,
                       created_at=now, expires_at=now + LIFETIME))
    return token, int(LIFETIME.total_seconds())


async def start(s: AsyncSession, member: Member) -> tuple[str, int]:
    """A new family's first refresh token for a member who just logged in, and its lifetime."""
    return _new(s, member, secrets.token_hex(16), member.session_generation or 0)


async def _revoke_family(s: AsyncSession, family_id: str) -> None:
    await s.execute(update(RefreshToken).where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=utcnow()))


async def rotate(db, token: str) -> Refreshed:
    """Spend ``token`` and issue the family's next one. A reused (already spent) token revokes its
    family; an unknown, expired or revoked one, or a family begun before the member's log-out or
    new password, is refused. Commits the revocation even though the request is refused."""
    if not isinstance(token, str) or not token or len(token) > MAX_LENGTH:
        raise refused("invalid")
    refusal = None
    async with db.transaction() as s:
        row = await s.scalar(select(RefreshToken).where(RefreshToken.token_hash == _hash(token)).with_for_update())
        member = await s.get(Member, row.member_id) if row is not None else None
        now = utcnow()
        if row is None or member is None:
            refusal = refused("invalid")
        elif row.revoked_at is not None:
            refusal = refused("revoked")
        elif row.used_at is not None:
            await _revoke_family(s, row.family_id)
            refusal = refused("reused", "刷新令牌已被使用过，为安全起见该登录已全部失效，请重新登录")
        elif row.expires_at <= now:
            refusal = refused("expired", "刷新令牌已过期，请重新登录")
        elif row.generation != member.session_generation:
            await _revoke_family(s, row.family_id)
            refusal = refused("revoked")
        else:
            row.used_at = now
            new_token, ttl = _new(s, member, row.family_id, row.generation)
            return Refreshed(member, new_token, ttl)
    raise refusal


async def revoke(s: AsyncSession, token: str) -> None:
    """End the family of ``token`` (RFC 7009: an unknown token is no error)."""
    if not isinstance(token, str) or not token or len(token) > MAX_LENGTH:
        return
    family = await s.scalar(select(RefreshToken.family_id).where(RefreshToken.token_hash == _hash(token)))
    if family is not None:
        await _revoke_family(s, family)
