"""Ending a member's sessions: the site's cookies, API access tokens and refresh tokens.

Every site cookie and access token carries the member's ``session_generation`` at log-in, and
each refresh-token family the generation it began under; each is honoured only while the member
still has that generation. Raising it (log-out, a new password) ends all of them at once, on
every device and channel.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.errors import DomainError
from guahao.core.models import Member

from .passwords import hash_password, verify_password


async def generation(s: AsyncSession, member_id: int) -> int | None:
    """The member's current session generation (one primary-key lookup), ``None`` if no member."""
    return await s.scalar(select(Member.session_generation).where(Member.id == member_id))


async def end_sessions(s: AsyncSession, member_id: int) -> None:
    """Log the member out everywhere: every cookie and token issued so far stops working."""
    await s.execute(
        update(Member).where(Member.id == member_id).values(session_generation=Member.session_generation + 1)
    )


async def change_password(s: AsyncSession, member_id: int, *, current: str, new: str) -> Member:
    """A new password after the current one is given again; every session and token issued
    before ends (the caller re-issues the one it keeps with the returned member's generation)."""
    from .service import get_member, validate_password

    member = await get_member(s, member_id)
    if member is None:
        raise DomainError("not_found", "会员不存在", status=404)
    ok, _ = await verify_password(member.password_hash, current)
    if not ok:
        raise DomainError("wrong_password", "当前密码不正确", status=422, details={"field": "current"})
    validate_password(new)
    member.password_hash = await hash_password(new)
    member.session_generation = (member.session_generation or 0) + 1
    await s.flush()
    return member
